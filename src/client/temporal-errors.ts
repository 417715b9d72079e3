/**
 * Failures of Temporal (and MongoDB) told apart from everything else, in one place for the client
 * and the entry points: a dependency that can't be reached or did not answer in time is transient
 * (503 / exit 9, retry), a refused rate is RATE_LIMITED, a business failure is its CheckoutError.
 */
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import { CheckoutError } from '../contract';
import { findCheckoutError } from '../contract/failures';
import { isMongoUnavailable } from '../db';

const GRPC = { DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

export interface Unavailable {
  what: 'MongoDB' | 'Temporal';
  /** unreachable: no connection; no-answer: the deadline given to the call ran out; rate-limited: Temporal refused for now. */
  why: 'unreachable' | 'no-answer' | 'rate-limited';
}

/** A dependency that can't answer right now, anywhere in the cause chain, or undefined. */
export function unavailableDependency(err: unknown): Unavailable | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; depth++) {
    if (isMongoUnavailable(e)) return { what: 'MongoDB', why: 'unreachable' };
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return { what: 'Temporal', why: 'no-answer' };
    if (isGrpcServiceError(e)) {
      if (e.code === GRPC.UNAVAILABLE) return { what: 'Temporal', why: 'unreachable' };
      if (e.code === GRPC.DEADLINE_EXCEEDED) return { what: 'Temporal', why: 'no-answer' };
      if (e.code === GRPC.RESOURCE_EXHAUSTED) return { what: 'Temporal', why: 'rate-limited' };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The wait given to Temporal calls ran out (a gRPC deadline, or an Update's poll): the work may still complete. */
export function waitExpired(err: unknown): boolean {
  const down = unavailableDependency(err);
  return down?.what === 'Temporal' && down.why === 'no-answer';
}

/**
 * A wait for the result of a workflow that Temporal had already accepted ended without that result:
 * the deadline ran out, or the result's long poll failed on the way (any gRPC failure; a fault run
 * saw one that was neither a deadline nor UNAVAILABLE while the dev server was loaded). The work goes
 * on durably either way, so the caller answers "accepted", not an error. The workflow's own failure
 * (WorkflowFailedError) is not this: it is the outcome.
 */
export function waitEndedWithoutOutcome(err: unknown): boolean {
  return waitExpired(err) || err instanceof ServiceError;
}

/**
 * Temporal's per-run Update limits (in flight, and in total per run) and an unreachable frontend,
 * as the transient CheckoutErrors callers know how to retry; undefined for anything else (a
 * deadline stays as it is: the caller that set it decides what it means).
 */
export function transientTemporalError(err: unknown): CheckoutError | undefined {
  const down = unavailableDependency(err);
  if (down?.what !== 'Temporal') return undefined;
  if (down.why === 'rate-limited') {
    return new CheckoutError(
      'RATE_LIMITED',
      "Too many requests on this cart's checkout right now (Temporal's limit of concurrent or total updates); retry shortly.",
      {
        retryable: true,
      },
    );
  }
  if (down.why === 'unreachable') return new CheckoutError('UNAVAILABLE', 'Temporal is unreachable right now; retry shortly.', { retryable: true });
  return undefined;
}

/** The CheckoutError a failure of Temporal stands for, or the failure itself. */
export function asCheckoutError(err: unknown): unknown {
  return findCheckoutError(err) ?? transientTemporalError(err) ?? err;
}

/** Maps business failures in fn's failure chain to CheckoutErrors; anything else is rethrown as it is. */
export async function withCodes<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw findCheckoutError(err) ?? err;
  }
}

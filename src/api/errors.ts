/**
 * What the API answers for an error: a status, a code and a message, and for transient ones
 * (a dependency unreachable, a rate limit) how long to wait before retrying. A failure of MongoDB
 * or Temporal is never a 500: the caller is told to retry.
 */
import { WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import type { FastifyError } from 'fastify';
import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { ERROR_CODES } from '../contract';
import { CheckoutError } from '../errors';

export const BODY_LIMIT = 1024 * 1024;
/** Retry-After (seconds) of 503 UNAVAILABLE and 429 RATE_LIMITED. */
export const RETRY_AFTER_S = { UNAVAILABLE: 5, RATE_LIMITED: 1 } as const;

/** An error the API answers with: a status and a code (the domain's, or UNAUTHENTICATED / INTERNAL_ERROR). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface ErrorAnswer {
  status: number;
  errorCode: string;
  message: string;
  retryAfterS?: number;
}

const GRPC = { DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** A dependency that can't be reached right now, anywhere in the cause chain: which one, or undefined. */
export function unavailableDependency(err: unknown): { what: 'MongoDB' | 'Temporal'; rateLimited?: boolean } | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; depth++) {
    if (
      e instanceof MongoServerSelectionError ||
      e instanceof MongoNetworkError ||
      e instanceof MongoNotConnectedError ||
      e instanceof MongoTopologyClosedError
    ) {
      return { what: 'MongoDB' };
    }
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return { what: 'Temporal' };
    if (isGrpcServiceError(e)) {
      if (e.code === GRPC.UNAVAILABLE || e.code === GRPC.DEADLINE_EXCEEDED) return { what: 'Temporal' };
      if (e.code === GRPC.RESOURCE_EXHAUSTED) return { what: 'Temporal', rateLimited: true };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function describeError(err: FastifyError | Error): ErrorAnswer {
  if (err instanceof HttpError) {
    return { status: err.statusCode, errorCode: err.errorCode, message: err.message, ...(err.retryAfterS ? { retryAfterS: err.retryAfterS } : {}) };
  }
  if (err instanceof CheckoutError) {
    const retryAfterS = err.errorCode === 'UNAVAILABLE' || err.errorCode === 'RATE_LIMITED' ? RETRY_AFTER_S[err.errorCode] : undefined;
    return { status: ERROR_CODES[err.errorCode], errorCode: err.errorCode, message: err.message, ...(retryAfterS ? { retryAfterS } : {}) };
  }
  const down = unavailableDependency(err);
  if (down?.rateLimited) {
    return {
      status: ERROR_CODES.RATE_LIMITED,
      errorCode: 'RATE_LIMITED',
      message: 'Temporal refused the request for now (a rate or per-workflow limit); retry later.',
      retryAfterS: RETRY_AFTER_S.RATE_LIMITED,
    };
  }
  if (down) {
    return {
      status: ERROR_CODES.UNAVAILABLE,
      errorCode: 'UNAVAILABLE',
      message:
        down.what === 'MongoDB'
          ? 'MongoDB is unreachable; nothing was changed by this request. Retry later.'
          : 'Temporal or its workers did not answer in time; the request may still complete. Retry it (with the same Idempotency-Key), or GET the cart to see.',
      retryAfterS: RETRY_AFTER_S.UNAVAILABLE,
    };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: `${fe.validationContext ?? 'request'}${fe.message.replace(/^[a-z]+/, '')}` };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: `The body is larger than ${BODY_LIMIT} bytes.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: 'The body must be JSON (Content-Type: application/json).' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  return { status: 500, errorCode: 'INTERNAL_ERROR', message: 'Something went wrong; it has been logged.' };
}

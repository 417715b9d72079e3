/**
 * The checkout's chapters, and its activity calls: one helper per call, with the summary operators
 * read in the UI. Activities run at least once; each one is idempotent on the cart (the store, src/db).
 */
import { isCancellation, log, proxyActivities, uuid4, workflowInfo, type ActivityOptions, type ApplicationFailure } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  BACKGROUND_STEPS,
  BUSINESS_ERROR_TYPES,
  CLOSED_CART_MESSAGE,
  MESSAGES,
  type BackgroundStep,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CheckoutResult,
  type LockResult,
  type PlaceOrderResult,
  type StepResult,
} from '../../src/contract';
import { businessError, workflowFailureOf } from '../../src/contract/failures';
import { cancelSummary, lockSummary, placeOrderSummary, stepSummary } from '../summaries';
import type { Checkout } from './state';

const retry: ActivityOptions['retry'] = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  // Business errors (a store provider's refusal too) are final; only transient failures (MongoDB
  // unreachable, worker lost, a store's provider not answering) are retried, with no attempt limit:
  // a checkout waits out an outage until its buyer or a service cancels it.
  nonRetryableErrorTypes: BUSINESS_ERROR_TYPES,
};

// Lock, cancel and place order take milliseconds; the heartbeat timeout is what notices a worker
// that died under one (they heartbeat while they back off under contention), so a retry runs within
// seconds instead of after the whole start-to-close timeout.
const activities = proxyActivities<Activities>({ startToCloseTimeout: '30s', heartbeatTimeout: '5s', retry });
// A step may call the store's provider: each call is cut off by its own timeout (at most
// INTEGRATION_TIMEOUT_MS.max, a minute), well inside start-to-close, and heartbeats while it waits.
const { runCheckoutStep } = proxyActivities<Activities>({ startToCloseTimeout: '10m', heartbeatTimeout: '10s', retry });

export function lockCart(c: Checkout): Promise<LockResult> {
  const { workflowId, runId } = workflowInfo();
  const requestedBy = c.input.requestedBy ? { requestedBy: c.input.requestedBy } : {};
  return activities.lockCartForCheckout.executeWithOptions({ summary: lockSummary(c.cartId) }, [
    { cartId: c.cartId, sessionId: c.sessionId, workflowId, runId, ...requestedBy },
  ]);
}

function runStep(c: Checkout, step: BackgroundStep): Promise<StepResult> {
  const summary = stepSummary(step, c.cartId, c.lastOutcome);
  return runCheckoutStep.executeWithOptions({ summary }, [{ cartId: c.cartId, sessionId: c.sessionId, step }]);
}

function placeOrder(c: Checkout, orderId: string): Promise<PlaceOrderResult> {
  return activities.placeOrder.executeWithOptions({ summary: placeOrderSummary(orderId, c.cartId) }, [{ cartId: c.cartId, sessionId: c.sessionId, orderId }]);
}

function cancelCart(c: Checkout, cancel: CancelCheckoutRequest): Promise<CancelOutcome> {
  return activities.cancelCartAsyncOperation.executeWithOptions({ summary: cancelSummary(cancel) }, [{ cartId: c.cartId, sessionId: c.sessionId, ...cancel }]);
}

/** How the background steps ended when not all of them completed: the lock lost, or a step's business failure. */
export interface StepsEnd {
  lockLost?: true;
  failure?: ApplicationFailure;
}

/** Runs the background steps until all completed, a cancel stops them, the lock is lost, or one fails for good. */
export async function runBackgroundSteps(c: Checkout): Promise<StepsEnd> {
  try {
    return await c.stoppable(async () => {
      for (const step of BACKGROUND_STEPS) {
        if (c.decision.stopSteps) return {};
        const result = await runStep(c, step);
        if (!result.held) {
          log.warn('the cart lock was taken from this checkout while its steps ran', { cartId: c.cartId });
          return { lockLost: true };
        }
        c.stepCompleted(step, result.outcome);
      }
      return {};
    });
  } catch (err) {
    if (isCancellation(err)) return {};
    // A step failed for good (its business error; transient ones are retried): release the cart
    // like any cancel, then fail with that error so the buyer is never left locked.
    const failure = workflowFailureOf(err);
    c.requestCancel({ reason: 'STEP_FAILED', requestedBy: 'checkout' });
    return { failure };
  }
}

/** Places the order that came first. A cancel that came after it is run anyway, so the history shows it refused. */
export async function placeTheOrder(c: Checkout): Promise<CheckoutResult> {
  c.setPhase('PLACING_ORDER');
  const { orderId } = await c.orFail(placeOrder(c, `order-${uuid4()}`));
  c.orderPlaced(orderId);
  const result: CheckoutResult = { cartId: c.cartId, sessionId: c.sessionId, outcome: 'ORDER_PLACED', orderId };
  const lateCancel = c.decision.cancel;
  if (!lateCancel) return result;
  const refusal = await cancelCart(c, lateCancel).then(() => businessError('INVALID_OPERATION', CLOSED_CART_MESSAGE, c.cartId), workflowFailureOf);
  c.cancel.reject(refusal);
  return { ...result, refusedCancels: 1 };
}

/** Cancels: releases the cart and archives the session; a checkout whose step failed then fails with that failure. */
export async function cancelTheCheckout(c: Checkout, stepFailure: ApplicationFailure | undefined): Promise<CheckoutResult> {
  c.setPhase('CANCELING');
  const cancel = c.decision.cancel!;
  c.order.reject(
    stepFailure
      ? businessError('INVALID_OPERATION', MESSAGES.stepFailedNoOrder(stepFailure.message), c.cartId)
      : businessError('INVALID_OPERATION', MESSAGES.canceledNoOrder, c.cartId),
  );
  c.canceled(await c.orFail(cancelCart(c, cancel)));
  if (stepFailure) throw await c.fail(stepFailure);
  return { cartId: c.cartId, sessionId: c.sessionId, outcome: cancel.reason === 'EXPIRED' ? 'EXPIRED' : 'CANCELED', cancel };
}

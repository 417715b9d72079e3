/**
 * The checkout's chapters, and its activity calls: one helper per call, with the summary operators
 * read in the UI. Activities run at least once; each one is idempotent on the cart (the store, src/db).
 */
import { condition, isCancellation, log, proxyActivities, uuid4, workflowInfo, type ActivityOptions, type ApplicationFailure } from '@temporalio/workflow';
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
  type RecalculateActivityResult,
  type RecalculateCheckoutRequest,
  type RecalculateOutcome,
  type StepResult,
} from '../../src/contract';
import { businessError, workflowFailureOf } from '../../src/contract/failures';
import { RECALCULATE_REFUSALS } from '../../src/contract/messages';
import { cancelSummary, lockSummary, placeOrderSummary, recalculateSummary, stepSummary } from '../summaries';
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
  const recalculation = c.recalculations.applied;
  const summary = stepSummary(step, c.cartId, c.lastOutcome, recalculation);
  // The recalculation number only once there is one: the steps of checkouts never recalculated keep their input.
  return runCheckoutStep.executeWithOptions({ summary }, [{ cartId: c.cartId, sessionId: c.sessionId, step, ...(recalculation ? { recalculation } : {}) }]);
}

function applyChange(c: Checkout, req: RecalculateCheckoutRequest, recalculation: number, fromStep: BackgroundStep): Promise<RecalculateActivityResult> {
  const summary = recalculateSummary(c.cartId, req.change, req.requestedBy, recalculation, fromStep);
  const requestedBy = req.requestedBy ? { requestedBy: req.requestedBy } : {};
  return activities.applyItemChangeInCheckout.executeWithOptions({ summary }, [
    { cartId: c.cartId, sessionId: c.sessionId, change: req.change, requestId: req.requestId, ...requestedBy, recalculation, fromStep },
  ]);
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
      // From the first step not completed: all of them at first, Confirm Price on after an item change.
      for (let i = c.nextStep; i < BACKGROUND_STEPS.length; i = c.nextStep) {
        const step = BACKGROUND_STEPS[i];
        if (c.decision.stopSteps || c.recalculating) return {};
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

/**
 * An item change through the running checkout (the recalculateCheckout Update; the store's
 * checkoutPolicy `recalculate`). The running step is interrupted at once; changes are applied one at
 * a time, each in one write fenced on this session that resets it, and the story then runs the steps
 * again from Confirm Price (or an earlier step not completed yet). Refused once a cancel won or the
 * lock is gone, or when the change would empty the cart: the caller then cancels the checkout.
 */
export async function recalculateTheCheckout(c: Checkout, req: RecalculateCheckoutRequest): Promise<RecalculateOutcome> {
  c.recalculationAccepted(req);
  let applied: Parameters<Checkout['recalculationSettled']>[0];
  try {
    await c.lock.wait();
    await condition(() => !c.recalculations.applying);
    c.recalculations.applying = true;
    try {
      if (c.decision.stopSteps || c.view.phase === 'DONE') throw businessError('INVALID_OPERATION', RECALCULATE_REFUSALS.decided, c.cartId);
      const recalculation = c.recalculations.applied + 1;
      const fromStep = c.recalculateFrom;
      const result = await applyChange(c, req, recalculation, fromStep).catch((err: unknown) => {
        throw workflowFailureOf(err);
      });
      if (!result.applied) {
        const why = result.emptiesCart ? RECALCULATE_REFUSALS.emptiesCart : result.held ? RECALCULATE_REFUSALS.decided : RECALCULATE_REFUSALS.notHeld;
        throw businessError('INVALID_OPERATION', why, c.cartId);
      }
      applied = { req, recalculation, fromStep };
      return { cartId: c.cartId, sessionId: c.sessionId, status: result.status, version: result.version, items: result.items, recalculation };
    } finally {
      c.recalculations.applying = false;
    }
  } finally {
    c.recalculationSettled(applied);
  }
}

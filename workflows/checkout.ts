/**
 * checkoutWorkflow: one per cart (ID checkout-<cartId>). Takes the cart lock, runs the background
 * steps, then holds the lock until the first of: a cancel (signal or update), a place-order request,
 * or the lease running out. Workflow code: deterministic, no I/O; everything real runs in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  BACKGROUND_STEPS,
  BUSINESS_ERROR_TYPES,
  CANCEL_SIGNAL_NAME,
  ERROR_CODES,
  cancelRequestProblem,
  cartIdProblem,
  normalizeCancelRequest,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutView,
  type ErrorCode,
  type RejectedSignal,
} from '../src/contract';
import { cancelCheckoutSignal, cancelCheckoutUpdate, getCheckoutStateQuery, placeOrderUpdate, waitForLockUpdate } from './messages';
import { isUndecodablePayload, type UndecodablePayload } from './payload-converter';
import { cancelSummary, checkoutDetails, leaseSummary, lockSummary, placeOrderSummary, stepSummary, type DetailsContext } from './summaries';

export const DEFAULT_LEASE_MS = 30 * 60 * 1000;

/**
 * Checkouts started before this patch end without a last CheckoutState upsert. The upsert is a
 * command, so running it only where the history carries this patch's marker keeps their replay
 * deterministic. Remove with deprecatePatch once no such checkout can still run (leases are 30 min).
 */
const FINAL_STATE_PATCH = 'checkout-state-at-end';

/**
 * Before this patch a cancel that arrived after the order interrupted the background steps, and a
 * step that failed after the order still let the order through: orders were placed without taxes or
 * totals. Histories without its marker keep the old commands when replayed.
 */
const ORDER_WAITS_FOR_STEPS_PATCH = 'order-waits-for-steps';

/** Before this patch a run whose step found the cart no longer held waited out its lease. */
const LOCK_LOST_PATCH = 'lock-lost-ends-run';

/** How many unreadable signals the view keeps for operators (the count goes on). */
const MAX_REJECTED_SIGNALS = 10;

const retry: ActivityOptions['retry'] = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  // Business errors are final; only transient failures (MongoDB unreachable, worker lost) are retried.
  nonRetryableErrorTypes: BUSINESS_ERROR_TYPES,
};

const { lockCartForCheckout, cancelCartAsyncOperation, placeOrder } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry,
});

const { runCheckoutStep } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry,
});

function invalid(code: ErrorCode, message: string, cartId?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: true,
    details: [{ errorCode: code, httpStatus: ERROR_CODES[code], ...(cartId !== undefined ? { cartId } : {}) }],
  });
}

/** The business failure inside an activity failure, or undefined for anything else. */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type;
    if (type && (BUSINESS_ERROR_TYPES as string[]).includes(type)) return err.cause;
  }
  return undefined;
}

/** Fail the workflow with the business failure, keeping the activity's failure as its cause for operators. */
function rethrowAsWorkflowFailure(failure: ApplicationFailure, activityFailure: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: failure.type ?? 'INVALID_OPERATION',
    message: failure.message,
    nonRetryable: true,
    details: failure.details ?? [],
    cause: activityFailure instanceof Error ? activityFailure : undefined,
  });
}

/** The failure of a run whose cart was taken from it; pending orders get INVALID_OPERATION with this message. */
function lockLost(cartId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'LOCK_LOST',
    message: 'This checkout no longer holds the cart (cancelled, closed or taken over elsewhere); it ended without an order.',
    nonRetryable: true,
    details: [{ errorCode: 'CHECKOUT_CONFLICT', httpStatus: ERROR_CODES.CHECKOUT_CONFLICT, cartId, reason: 'LOCK_LOST' }],
  });
}

type Settled<T> = { ok: T } | { failure: ApplicationFailure };

/**
 * The buyer's and the services' requests, in arrival order. The first request wins, because it is
 * the one the other side was answered on: a cancel that came first refuses every later order and
 * interrupts the steps; an order that came first waits until every step has completed (an order is
 * never placed on a cart whose taxes and total were not computed), a later cancel interrupts nothing
 * and is refused with INVALID_OPERATION once the order is placed.
 */
interface Requests {
  first?: 'cancel' | 'order';
  cancel?: CancelCheckoutRequest;
  order: boolean;
  /** The steps must stop: a cancel won (or the history predates ORDER_WAITS_FOR_STEPS_PATCH). */
  stopSteps: boolean;
}

/** How the background steps ended, when not all of them completed. */
type StepsEnd = { lockLost: true } | { failure: ApplicationFailure } | undefined;

export async function checkoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const info = workflowInfo();
  // The session id is stable across retries of this run's activities and unique per checkout.
  const sessionId = info.firstExecutionRunId;
  const cartId = input?.cartId;
  const view: CheckoutView = {
    cartId,
    sessionId,
    phase: 'LOCKING',
    state: 'Start',
    ...(typeof input?.requestId === 'string' ? { requestId: input.requestId } : {}),
  };

  // What operators read as the checkout's current details in the UI. Not a command: only queries see it.
  const details: DetailsContext = typeof input?.requestedBy === 'string' ? { requestedBy: input.requestedBy } : {};
  const showDetails = () => setCurrentDetails(checkoutDetails(view, details));
  let searchable = false;

  const requests: Requests = { order: false, stopSteps: false };
  let cancelSettled: Settled<CancelOutcome> | undefined;
  let orderSettled: Settled<{ orderId: string }> | undefined;
  let stepsScope: CancellationScope | undefined;
  let lockSettled: Settled<true> | undefined;

  // Handlers are registered before the first await, so no signal or update delivered with the
  // first workflow task is lost. Signals are not deduplicated: only the first cancel counts.
  const requestCancel = (req: CancelCheckoutRequest | undefined): void => {
    if (requests.cancel) return;
    const cancel = normalizeCancelRequest(req);
    requests.cancel = cancel;
    requests.first ??= 'cancel';
    view.cancelRequested = cancel;
    log.info('cancel requested', { cartId, reason: cancel.reason, requestedBy: cancel.requestedBy, first: requests.first });
    showDetails();
    const stepsAhead = view.phase === 'LOCKING' || view.phase === 'PROCESSING';
    if (requests.first === 'order' && stepsAhead && patched(ORDER_WAITS_FOR_STEPS_PATCH)) return;
    requests.stopSteps = true;
    stepsScope?.cancel();
  };
  /** A signal whose argument could not be decoded: not a request of anyone we can read, so it changes nothing. */
  const rejectSignal = (signal: string, payload: UndecodablePayload): void => {
    const rejected: RejectedSignal = { signal, encoding: payload.encoding, problem: payload.problem };
    view.rejectedSignals = [...(view.rejectedSignals ?? []), rejected].slice(-MAX_REJECTED_SIGNALS);
    details.rejectedSignalCount = (details.rejectedSignalCount ?? 0) + 1;
    log.warn('rejected a signal whose argument could not be decoded; the checkout goes on', { cartId, ...rejected, bytes: payload.bytes });
    showDetails();
  };
  setHandler(cancelCheckoutSignal, (req) => {
    if (isUndecodablePayload(req)) return rejectSignal(CANCEL_SIGNAL_NAME, req);
    const problem = cancelRequestProblem(req);
    if (problem) {
      // A signal cannot be refused; a malformed one still cancels, with the default reason.
      log.warn('malformed cancelCheckout signal; cancelling with the default reason', { problem });
      requestCancel(undefined);
      return;
    }
    requestCancel(req);
  });
  setHandler(
    cancelCheckoutUpdate,
    async (req) => {
      requestCancel(req);
      await condition(() => cancelSettled !== undefined);
      const settled = cancelSettled!;
      if ('failure' in settled) throw settled.failure;
      return settled.ok;
    },
    {
      validator: (req) => {
        if (isUndecodablePayload(req)) throw invalid('INVALID_INPUT', `the cancel request could not be decoded: ${req.problem}`, cartId);
        const problem = cancelRequestProblem(req);
        if (problem) throw invalid('INVALID_INPUT', problem, cartId);
        if (orderSettled && 'ok' in orderSettled) throw invalid('INVALID_OPERATION', "A cart can't be canceled after it's closed.", cartId);
      },
    },
  );
  setHandler(
    placeOrderUpdate,
    async (_req) => {
      requests.order = true;
      requests.first ??= 'order';
      await condition(() => orderSettled !== undefined);
      const settled = orderSettled!;
      if ('failure' in settled) throw settled.failure;
      return settled.ok;
    },
    {
      validator: (req) => {
        if (isUndecodablePayload(req)) throw invalid('INVALID_INPUT', `the order request could not be decoded: ${req.problem}`, cartId);
        // A cancel that came first wins; a repeated order after a first one joins it (same order id).
        if (requests.first === 'cancel') throw invalid('INVALID_OPERATION', 'The checkout is being canceled; no order can be placed.', cartId);
        if (view.phase === 'DONE') throw invalid('INVALID_OPERATION', 'The checkout has ended.', cartId);
      },
    },
  );
  setHandler(getCheckoutStateQuery, () => view);
  setHandler(waitForLockUpdate, async () => {
    await condition(() => lockSettled !== undefined);
    const settled = lockSettled!;
    if ('failure' in settled) throw settled.failure;
    return { ...view };
  });

  /** Ends the workflow Failed with `final`, after every waiting handler has its answer. */
  const failWith = async (final: ApplicationFailure, cancelAnswer?: CancelOutcome): Promise<ApplicationFailure> => {
    lockSettled ??= { failure: final };
    cancelSettled ??= cancelAnswer ? { ok: cancelAnswer } : { failure: final };
    orderSettled ??= { failure: final };
    view.phase = 'DONE';
    view.state = 'Error';
    if (searchable && patched(FINAL_STATE_PATCH)) upsertSearchAttributes({ CheckoutState: ['Error'] });
    details.failure = { type: final.type ?? 'Error', message: final.message };
    showDetails();
    log.warn('checkout failed', { cartId, errorType: final.type, error: final.message });
    await condition(allHandlersFinished);
    return final;
  };

  const problem = cartIdProblem(cartId);
  if (problem) throw await failWith(invalid('INVALID_INPUT', problem));
  const leaseMs = input.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
    throw await failWith(invalid('INVALID_INPUT', 'leaseMs must be a positive integer', cartId));
  }

  const setState = (state: CheckoutView['state']) => {
    view.state = state;
    upsertSearchAttributes({ CheckoutState: [state] });
    showDetails();
  };
  upsertSearchAttributes({ CartId: [cartId], CheckoutState: ['Start'] });
  searchable = true;
  details.leaseMs = leaseMs;
  showDetails();

  // 1. Take the lock. A Closed or missing cart fails the workflow with that business failure.
  let lock;
  try {
    lock = await lockCartForCheckout.executeWithOptions({ summary: lockSummary(cartId) }, [
      {
        cartId,
        sessionId,
        workflowId: info.workflowId,
        runId: info.runId,
        ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
      },
    ]);
  } catch (err) {
    const failure = businessFailure(err);
    if (!failure) throw err;
    throw await failWith(rethrowAsWorkflowFailure(failure, err));
  }
  if (lock.webstoreId) upsertSearchAttributes({ WebstoreId: [lock.webstoreId] });
  if (lock.webstoreId) details.webstoreId = lock.webstoreId;
  if (lock.accountId) details.accountId = lock.accountId;
  log.info('cart locked', { cartId, webstoreId: lock.webstoreId, accountId: lock.accountId });

  // 2. The background steps. A cancel interrupts the running step (activity cancellation).
  view.phase = 'PROCESSING';
  showDetails();
  lockSettled = { ok: true };
  let stepsEnd: StepsEnd;
  try {
    await CancellationScope.cancellable(async () => {
      stepsScope = CancellationScope.current();
      for (const step of BACKGROUND_STEPS) {
        if (requests.stopSteps) return;
        const result = await runCheckoutStep.executeWithOptions({ summary: stepSummary(step, cartId) }, [
          { cartId, sessionId, step, ...(input.stepDelayMs ? { delayMs: input.stepDelayMs } : {}) },
        ]);
        if (!result.held) {
          stepsEnd = { lockLost: true };
          return;
        }
        setState(step);
      }
    });
  } catch (err) {
    if (!isCancellation(err)) {
      // A step failed for good (its business error; transient ones are retried): release the
      // cart like any cancel, then fail with that error so the buyer is never left locked.
      const failure = businessFailure(err);
      if (!failure) throw err;
      stepsEnd = { failure: rethrowAsWorkflowFailure(failure, err) };
      requestCancel({ reason: 'STEP_FAILED', requestedBy: 'checkout' });
    }
  }
  stepsScope = undefined;
  const stepFailure = stepsEnd && 'failure' in stepsEnd ? stepsEnd.failure : undefined;

  if (stepsEnd && 'lockLost' in stepsEnd) {
    log.warn('the cart lock was taken from this checkout while its steps ran', { cartId });
    // The cart is no longer ours (cancelled, closed or superseded elsewhere): holding nothing until
    // the lease ends would let starts join a dead checkout and orders fail later. End now, saying why.
    if (patched(LOCK_LOST_PATCH)) {
      orderSettled ??= { failure: invalid('INVALID_OPERATION', 'This checkout lost its lock on the cart; no order was placed.', cartId) };
      throw await failWith(lockLost(cartId), { cartId, canceled: false, reason: requests.cancel?.reason ?? 'LOCK_LOST' });
    }
  }

  // 3. Hold the lock until the buyer orders, someone cancels, or the lease runs out.
  view.phase = 'READY';
  showDetails();
  const decided = await condition(() => requests.cancel !== undefined || requests.order, leaseMs, { summary: leaseSummary(cartId, leaseMs) });
  if (!decided) requestCancel({ reason: 'EXPIRED', requestedBy: 'lease' });

  // An order that came first is placed only if every step completed.
  const orderWins = requests.first === 'order' && !(stepFailure && patched(ORDER_WAITS_FOR_STEPS_PATCH));
  let result: CheckoutResult;
  if (orderWins) {
    view.phase = 'PLACING_ORDER';
    const orderId = `order-${uuid4()}`;
    showDetails();
    try {
      const placed = await placeOrder.executeWithOptions({ summary: placeOrderSummary(orderId, cartId) }, [{ cartId, sessionId, orderId }]);
      orderSettled = { ok: { orderId: placed.orderId } };
      view.orderId = placed.orderId;
      setState('Complete');
      log.info('order placed', { cartId, orderId: placed.orderId });
      result = { cartId, sessionId, outcome: 'ORDER_PLACED', orderId: placed.orderId };
    } catch (err) {
      const failure = businessFailure(err);
      if (!failure) throw err;
      throw await failWith(rethrowAsWorkflowFailure(failure, err));
    }
    if (requests.cancel) {
      // A cancel that came after the order: run it anyway so the history shows it was refused.
      try {
        await cancelCartAsyncOperation.executeWithOptions({ summary: cancelSummary(requests.cancel) }, [{ cartId, sessionId, ...requests.cancel }]);
        cancelSettled = { failure: invalid('INVALID_OPERATION', "A cart can't be canceled after it's closed.", cartId) };
      } catch (err) {
        const failure = businessFailure(err);
        if (!failure) throw err;
        cancelSettled = { failure: rethrowAsWorkflowFailure(failure, err) };
      }
      result.refusedCancels = 1;
    }
  } else {
    view.phase = 'CANCELING';
    const cancel = requests.cancel!;
    showDetails();
    orderSettled ??= {
      failure: stepFailure
        ? invalid('INVALID_OPERATION', `A step of the checkout failed (${stepFailure.message}); no order was placed.`, cartId)
        : invalid('INVALID_OPERATION', 'The checkout was canceled; no order was placed.', cartId),
    };
    try {
      const outcome = await cancelCartAsyncOperation.executeWithOptions({ summary: cancelSummary(cancel) }, [{ cartId, sessionId, ...cancel }]);
      cancelSettled = { ok: outcome };
      result = { cartId, sessionId, outcome: cancel.reason === 'EXPIRED' ? 'EXPIRED' : 'CANCELED', cancel };
      // The session is archived and its operation Canceled: say so to searches (CheckoutState="Canceled").
      if (patched(FINAL_STATE_PATCH)) upsertSearchAttributes({ CheckoutState: ['Canceled'] });
      log.info('checkout canceled', { cartId, reason: cancel.reason, requestedBy: cancel.requestedBy, unlocked: outcome.canceled });
      if (stepFailure) throw await failWith(stepFailure);
    } catch (err) {
      if (err === stepFailure) throw err;
      const failure = businessFailure(err);
      if (!failure) throw err;
      // The cart was closed under this checkout: fail with INVALID_OPERATION as the cause, readable in the UI.
      throw await failWith(rethrowAsWorkflowFailure(failure, err));
    }
  }
  view.phase = 'DONE';
  view.outcome = result.outcome;
  showDetails();
  await condition(allHandlersFinished);
  return result;
}

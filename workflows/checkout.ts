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
} from '../src/contract';
import { cancelCheckoutSignal, cancelCheckoutUpdate, getCheckoutStateQuery, placeOrderUpdate, waitForLockUpdate } from './messages';
import { cancelSummary, checkoutDetails, leaseSummary, lockSummary, placeOrderSummary, stepSummary, type DetailsContext } from './summaries';

export const DEFAULT_LEASE_MS = 30 * 60 * 1000;

/**
 * Checkouts started before this patch end without a last CheckoutState upsert. The upsert is a
 * command, so running it only where the history carries this patch's marker keeps their replay
 * deterministic. Remove with deprecatePatch once no such checkout can still run (leases are 30 min).
 */
const FINAL_STATE_PATCH = 'checkout-state-at-end';

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

type Settled<T> = { ok: T } | { failure: ApplicationFailure };

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

  let cancelRequest: CancelCheckoutRequest | undefined;
  let orderRequested = false;
  let firstRequest: 'cancel' | 'order' | undefined;
  let cancelSettled: Settled<CancelOutcome> | undefined;
  let orderSettled: Settled<{ orderId: string }> | undefined;
  let stepsScope: CancellationScope | undefined;
  let lockSettled: Settled<true> | undefined;

  // Handlers are registered before the first await, so no signal or update delivered with the
  // first workflow task is lost. Signals are not deduplicated: only the first cancel counts.
  const requestCancel = (req: CancelCheckoutRequest | undefined): void => {
    if (cancelRequest) return;
    cancelRequest = normalizeCancelRequest(req);
    firstRequest ??= 'cancel';
    view.cancelRequested = cancelRequest;
    log.info('cancel requested', { cartId, reason: cancelRequest.reason, requestedBy: cancelRequest.requestedBy });
    showDetails();
    stepsScope?.cancel();
  };
  setHandler(cancelCheckoutSignal, (req) => {
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
        const problem = cancelRequestProblem(req);
        if (problem) throw invalid('INVALID_INPUT', problem, cartId);
        if (orderSettled && 'ok' in orderSettled) throw invalid('INVALID_OPERATION', "A cart can't be canceled after it's closed.", cartId);
      },
    },
  );
  setHandler(
    placeOrderUpdate,
    async (_req) => {
      orderRequested = true;
      firstRequest ??= 'order';
      await condition(() => orderSettled !== undefined);
      const settled = orderSettled!;
      if ('failure' in settled) throw settled.failure;
      return settled.ok;
    },
    {
      validator: (_req) => {
        if (cancelRequest) throw invalid('INVALID_OPERATION', 'The checkout is being canceled; no order can be placed.', cartId);
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
  const failWith = async (final: ApplicationFailure): Promise<ApplicationFailure> => {
    lockSettled ??= { failure: final };
    cancelSettled ??= { failure: final };
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
  let lockLost = false;
  let stepFailure: ApplicationFailure | undefined;
  try {
    await CancellationScope.cancellable(async () => {
      stepsScope = CancellationScope.current();
      for (const step of BACKGROUND_STEPS) {
        if (cancelRequest) return;
        const result = await runCheckoutStep.executeWithOptions({ summary: stepSummary(step, cartId) }, [
          { cartId, sessionId, step, ...(input.stepDelayMs ? { delayMs: input.stepDelayMs } : {}) },
        ]);
        if (!result.held) {
          lockLost = true;
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
      stepFailure = rethrowAsWorkflowFailure(failure, err);
      requestCancel({ reason: 'STEP_FAILED', requestedBy: 'checkout' });
    }
  }
  stepsScope = undefined;

  // 3. Hold the lock until the buyer orders, someone cancels, or the lease runs out.
  view.phase = 'READY';
  showDetails();
  if (lockLost) log.warn('the cart lock was taken from this checkout while its steps ran', { cartId });
  const decided = await condition(() => cancelRequest !== undefined || orderRequested, leaseMs, { summary: leaseSummary(cartId, leaseMs) });
  if (!decided) requestCancel({ reason: 'EXPIRED', requestedBy: 'lease' });

  let result: CheckoutResult;
  if (firstRequest === 'order') {
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
    if (cancelRequest) {
      // A cancel that came after the order: run it anyway so the history shows it was refused.
      try {
        await cancelCartAsyncOperation.executeWithOptions({ summary: cancelSummary(cancelRequest) }, [{ cartId, sessionId, ...cancelRequest }]);
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
    const cancel = cancelRequest!;
    showDetails();
    orderSettled ??= { failure: invalid('INVALID_OPERATION', 'The checkout was canceled; no order was placed.', cartId) };
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

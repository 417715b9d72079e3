/**
 * Checkout activities. Built by a factory that receives the carts collection and a Temporal client,
 * so tests and the worker decide what they talk to. Activities run at least once: every write here is
 * idempotent or fenced by the session id, so a retry after a lost response changes nothing twice.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, isGrpcServiceError, type Client } from '@temporalio/client';
import type { Collection } from 'mongodb';
import {
  CANCEL_SIGNAL_NAME,
  REQUEST_ID_PATTERN,
  CartContendedError,
  CheckoutError,
  assertCartId,
  checkoutWorkflowId,
  integrationStepOf,
  normalizeCancelRequest,
  type CancelCheckoutRequest,
  type CancelInput,
  type CancelOutcome,
  type CartItemsRequest,
  type CartItemsResult,
  type CheckoutPolicy,
  type LockInput,
  type LockResult,
  type PlaceOrderActivityResult,
  type PlaceOrderInput,
  type RecalculateActivityResult,
  type RecalculateInput,
  type RecalculateOutcome,
  type StepInput,
  type StepResult,
} from '../src/contract';
import { toApplicationFailure, toRetryableFailure } from '../src/contract/failures';
import { recalculateCheckoutUpdate } from '../src/contract/messages';
import { CartRepository, Directory, IntegrationStore, StorePricing, storeSettings, type CartDoc } from '../src/db';
import { builtinBook, builtinStep, httpStep, type StepWork } from './integrations';

/**
 * Runs inside runCheckoutStep once the step has begun, before its result is written. A test seam:
 * the dev stack and the tests slow the steps of chosen checkouts with it; the product never sets it.
 */
export type StepHook = (input: StepInput) => Promise<void>;

export interface CheckoutActivityDeps {
  carts: Collection<CartDoc>;
  client: Client;
  beforeStep?: StepHook;
  /** The stores' step providers (default: in the carts' database). */
  integrations?: IntegrationStore;
}

/**
 * Turns business errors into non-retryable ApplicationFailures, and lost compare-and-set rounds into
 * a retryable CART_CONTENDED; anything else (MongoDB down) is retried too.
 */
async function asActivity<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckoutError) throw toApplicationFailure(err);
    if (err instanceof CartContendedError) throw toRetryableFailure(err);
    throw err;
  }
}

/** How long an item change waits for the checkout it cancelled to end before it lets Temporal retry it. */
const CHECKOUT_END_WAIT_MS = 90_000;
const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WAIT_HEARTBEAT_MS = 1000;

/** What an item change records in its heartbeats, so a retried attempt still reports the cancel it made. */
interface ChangeProgress {
  canceledCheckout?: boolean;
  waitingFor?: string;
  /** The checkout sessions this change was sent to as a recalculation (each is asked once). */
  recalculating?: string[];
}

// A factory of activities that share their dependencies is exempt from the function length limit.
// eslint-disable-next-line max-lines-per-function
export function createCheckoutActivities({ carts, client, beforeStep, integrations = new IntegrationStore(carts.db) }: CheckoutActivityDeps) {
  const repo = new CartRepository(carts, {
    // Backing off under contention can take seconds: keep heartbeating so it is not taken for a lost worker.
    onContention: (round) => Context.current().heartbeat({ contendedRound: round }),
  });
  const pricing = new StorePricing(carts.db);
  const directory = new Directory(carts.db);

  /** Whether that run of a workflow is still running; a run that is gone, or is no Temporal run id, is not. */
  async function runIsOpen(workflowId: string, runId: string): Promise<boolean> {
    if (!RUN_ID_PATTERN.test(runId)) return false;
    try {
      return (await client.workflow.getHandle(workflowId, runId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async function lockCartForCheckout(input: LockInput): Promise<LockResult> {
    return asActivity(async () => {
      const doc = await repo.lock(input, { holderIsLive: (holder) => runIsOpen(holder.workflowId, holder.runId ?? holder.sessionId) });
      Context.current().log.info('cart locked for checkout', { cartId: doc._id, sessionId: input.sessionId, version: doc.version });
      return {
        cartId: doc._id,
        sessionId: input.sessionId,
        ...(doc.webstoreId ? { webstoreId: doc.webstoreId } : {}),
        ...(doc.accountId ? { accountId: doc.accountId } : {}),
        itemCount: (doc.items ?? []).length,
        version: doc.version ?? 0,
      };
    });
  }

  /** The step by the store's provider: its http provider when it registered one, else the builtin calculators. */
  async function performStep(input: StepInput, doc: CartDoc): Promise<StepWork> {
    const integrationStep = integrationStepOf(input.step);
    const provider = integrationStep && doc.webstoreId ? await integrations.get(doc.webstoreId, integrationStep) : null;
    // The store's http provider wins over its price book: registering one for Confirm Price is the store's explicit choice.
    if (!provider) return builtinStep(input.step, doc.items ?? [], doc.checkout?.totals, await builtinBook(input.step, doc, pricing));
    const work = await httpStep(provider, doc, input.sessionId);
    Context.current().log.info('step served by the store', { cartId: doc._id, step: input.step, outcome: work.outcome.answer });
    return work;
  }

  async function runCheckoutStep(input: StepInput): Promise<StepResult> {
    return asActivity(async () => {
      const begun = await repo.markStep(input.cartId, input.sessionId, input.step, 'begin', undefined, undefined, input.recalculation);
      if (!begun.held) return { step: input.step, held: false };
      // An earlier attempt finished this step; only its completion was lost.
      if (begun.recorded) return { step: input.step, held: true };
      await beforeStep?.(input);
      const work = await performStep(input, begun.doc);
      const ended = await repo.markStep(input.cartId, input.sessionId, input.step, 'end', work.totals, work.items, input.recalculation);
      return { step: input.step, held: ended.held, ...(ended.held ? { outcome: work.outcome } : {}) };
    });
  }

  /** The action this project exists for. Fails with INVALID_OPERATION (non-retryable) on a Closed cart. */
  async function cancelCartAsyncOperation(input: CancelInput): Promise<CancelOutcome> {
    return asActivity(async () => {
      const { canceled, doc } = await repo.cancel(input);
      Context.current().log.info(canceled ? 'checkout canceled: cart unlocked' : 'cancel: no checkout of this session was running', {
        cartId: doc._id,
        reason: input.reason,
        requestedBy: input.requestedBy,
        status: doc.status,
      });
      return { cartId: doc._id, canceled, reason: input.reason, status: doc.status };
    });
  }

  /** Run by the checkout's recalculateCheckout Update: the change in one write fenced on its session, which it resets. */
  async function applyItemChangeInCheckout(input: RecalculateInput): Promise<RecalculateActivityResult> {
    return asActivity(async () => {
      const { held, applied, emptiesCart, doc } = await repo.recalculate(input);
      Context.current().log.info(applied ? 'item change applied through the checkout: its steps run again' : 'item change not applied through the checkout', {
        cartId: doc._id,
        sessionId: input.sessionId,
        requestId: input.requestId,
        recalculation: input.recalculation,
        held,
      });
      return { cartId: doc._id, held, applied, ...(emptiesCart ? { emptiesCart } : {}), status: doc.status, version: doc.version ?? 0, items: doc.items ?? [] };
    });
  }

  async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderActivityResult> {
    return asActivity(async () => {
      const doc = await repo.placeOrder(input);
      Context.current().log.info('order placed: cart closed', { cartId: doc._id, orderId: doc.orderId ?? input.orderId });
      return { orderId: doc.orderId ?? input.orderId, version: doc.version ?? 0 };
    });
  }

  /**
   * Add to cart, change a quantity, remove an item. On a cart in Checkout it first sends the
   * cancelCheckout signal (reason ADD_TO_CART) and waits for that checkout to end, then applies the
   * change to the now Active cart: the change never lands in a locked cart and is never lost. Unless
   * the cart's store has the checkoutPolicy `recalculate`: then the change goes to the running
   * checkout (its recalculateCheckout Update), which applies it and runs its steps again, and the
   * cart stays in Checkout; a checkout that can't take it (ending, an older worker without the
   * Update) is cancelled as above. Exactly-once: the request id (or, from old callers, one derived
   * from this activity's identity, the same on every retry) is stored with the change, so a retry
   * after a lost completion changes nothing.
   */
  async function changeCartItems(req: CartItemsRequest): Promise<CartItemsResult> {
    return asActivity(async () => {
      assertCartId(req?.cartId);
      if (req.requestId !== undefined && (typeof req.requestId !== 'string' || !REQUEST_ID_PATTERN.test(req.requestId))) {
        throw new CheckoutError('INVALID_INPUT', 'requestId must be 1-128 letters, digits or _ . : - starting with a letter or digit', {
          cartId: req.cartId,
          field: 'requestId',
        });
      }
      const ctx = Context.current();
      const { workflowExecution, activityId } = ctx.info;
      const requestId = req.requestId ?? (workflowExecution ? `${workflowExecution.workflowId}/${activityId}` : activityId);
      const previous = (ctx.info.heartbeatDetails ?? {}) as ChangeProgress;
      const progress: ChangeProgress = {
        canceledCheckout: previous.canceledCheckout === true,
        ...(previous.recalculating ? { recalculating: previous.recalculating } : {}),
      };
      for (let round = 0; round < 5; round++) {
        const result = await repo.changeItems(req.cartId, req.change, { requestId });
        const doc = result.doc;
        if (!result.locked) {
          if (result.duplicate) ctx.log.info('item change already applied: nothing written', { cartId: doc._id, requestId });
          // Applied through a checkout (by this attempt's Update or an earlier one's): the cart recorded it with the change.
          const recalculated = (doc.appliedChanges ?? []).some((c) => c.requestId === requestId && c.sessionId !== undefined);
          return { ...itemsAnswer(doc), canceledCheckout: progress.canceledCheckout === true && !recalculated, recalculated };
        }
        const session = doc.checkout?.sessionId;
        // Each checkout is asked once: one that refused is cancelled, and the next round reads the cart again.
        if (session && !progress.recalculating?.includes(session) && (await policyOf(doc)) === 'recalculate') {
          progress.recalculating = [...(progress.recalculating ?? []), session];
          ctx.heartbeat(progress);
          const outcome = await recalculateRunningCheckout(doc, req, requestId, progress);
          if (outcome) return { ...itemsAnswer({ ...outcome, _id: outcome.cartId }), canceledCheckout: false, recalculated: true };
        }
        progress.canceledCheckout = true;
        ctx.log.info('cart is in checkout: cancelling it before the change', {
          cartId: req.cartId,
          checkoutWorkflowId: doc.checkout?.workflowId,
        });
        await cancelRunningCheckout(doc, { reason: 'ADD_TO_CART', ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}) }, progress);
      }
      throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${req.cartId} keeps being checked out; the change was not applied.`, {
        cartId: req.cartId,
      });
    });
  }

  function itemsAnswer(doc: Pick<CartDoc, '_id' | 'status' | 'version' | 'items'>) {
    return { cartId: doc._id, status: doc.status, version: doc.version ?? 0, items: doc.items ?? [] };
  }

  async function policyOf(doc: CartDoc): Promise<CheckoutPolicy> {
    return storeSettings(doc.webstoreId ? await directory.getStore(doc.webstoreId) : null).checkoutPolicy;
  }

  /**
   * Sends the change to the checkout that holds `doc` (that run, never a later one) as the
   * recalculateCheckout Update, with the request id as the Update id: a retried attempt joins the
   * same Update instead of sending a second one. Heartbeats while it waits. Answers undefined when
   * the checkout can't take it (ended or ending, an older worker without the Update, a change that
   * empties the cart): the caller cancels it then, as under the policy `cancel`.
   */
  async function recalculateRunningCheckout(
    doc: CartDoc,
    req: CartItemsRequest,
    requestId: string,
    progress: ChangeProgress,
  ): Promise<RecalculateOutcome | undefined> {
    const session = doc.checkout!;
    const ctx = Context.current();
    const handle = client.workflow.getHandle(session.workflowId || checkoutWorkflowId(doc._id), session.runId);
    const answered = handle
      .executeUpdate(recalculateCheckoutUpdate, {
        args: [{ change: req.change, requestId, ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}) }],
        updateId: requestId,
      })
      .then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
    for (;;) {
      const settled = await Promise.race([answered, ctx.sleep(WAIT_HEARTBEAT_MS).then(() => undefined)]);
      if (!settled) {
        ctx.heartbeat(progress);
        continue;
      }
      if ('outcome' in settled) return settled.outcome;
      if (!checkoutRefusedUpdate(settled.error)) throw settled.error;
      ctx.log.info('the checkout did not take the change: cancelling it instead', { cartId: doc._id, requestId, why: String(settled.error) });
      return undefined;
    }
  }

  /**
   * Cancels the checkout that holds `doc` and waits for its run to end, heartbeating meanwhile so a
   * lost worker is noticed within the heartbeat timeout. A run that is gone or has ended without
   * unlocking the cart (terminated, failed) will never unlock it: its lock is released here,
   * fenced by its session id, so nothing else is touched.
   */
  async function cancelRunningCheckout(doc: CartDoc, request: CancelCheckoutRequest, changeProgress: ChangeProgress): Promise<void> {
    const session = doc.checkout;
    if (!session) return;
    const ctx = Context.current();
    const workflowId = session.workflowId || checkoutWorkflowId(doc._id);
    const progress: ChangeProgress = { ...changeProgress, canceledCheckout: true, waitingFor: workflowId };
    ctx.heartbeat(progress);
    const handle = client.workflow.getHandle(workflowId, session.runId);
    const releaseIfStillHeld = async () => {
      try {
        await repo.cancel({ cartId: doc._id, sessionId: session.sessionId, ...request });
      } catch (err) {
        // A Closed cart: the change's next read refuses it with the right message.
        if (!(err instanceof CheckoutError && err.errorCode === 'INVALID_OPERATION')) throw err;
      }
    };
    try {
      await handle.signal(CANCEL_SIGNAL_NAME, normalizeCancelRequest(request));
    } catch (err) {
      // No such run, or it has closed: nobody else will unlock the cart.
      if (err instanceof WorkflowNotFoundError) return releaseIfStillHeld();
      throw err;
    }
    // The checkout workflow ends once its cancel has run; its end is the event to wait on.
    const ended = handle.result().then(
      () => ({ error: undefined as unknown }),
      (error: unknown) => ({ error }),
    );
    const deadline = Date.now() + CHECKOUT_END_WAIT_MS;
    for (;;) {
      const settled = await Promise.race([ended, ctx.sleep(WAIT_HEARTBEAT_MS).then(() => undefined)]);
      if (settled) {
        const { error } = settled;
        // Failed, terminated, timed out or gone: ended all the same. Anything else (Temporal unreachable) is retried.
        if (error !== undefined && !(error instanceof WorkflowFailedError) && !(error instanceof WorkflowNotFoundError)) throw error;
        break;
      }
      ctx.heartbeat(progress);
      if (Date.now() > deadline) {
        // Retryable: the retry (exactly-once through the request id) looks at the cart afresh.
        throw new Error(`checkout ${workflowId} of cart ${doc._id} did not end within ${CHECKOUT_END_WAIT_MS / 1000}s of its cancel`);
      }
    }
    // The run has ended (completed, failed, terminated): if its session still holds the cart, release it.
    await releaseIfStillHeld();
  }

  return { lockCartForCheckout, runCheckoutStep, cancelCartAsyncOperation, placeOrder, changeCartItems, applyItemChangeInCheckout };
}

const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;

/**
 * The checkout did not take the Update: its validator or handler refused it (an order or a cancel came
 * first, the lock is gone, a worker version without the handler: "unknown update"), or the run has
 * closed. Anything else (Temporal unreachable, a deadline) is not an answer: the activity is retried.
 */
function checkoutRefusedUpdate(err: unknown): boolean {
  if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) return true;
  return isGrpcServiceError(err) && (err.code === GRPC_NOT_FOUND || err.code === GRPC_FAILED_PRECONDITION);
}

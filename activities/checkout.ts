/**
 * Checkout activities. Built by a factory that receives the carts collection and a Temporal client,
 * so tests and the worker decide what they talk to. Activities run at least once: every write here is
 * idempotent or fenced by the session id, so a retry after a lost response changes nothing twice.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
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
  type LockInput,
  type LockResult,
  type PlaceOrderActivityResult,
  type PlaceOrderInput,
  type StepInput,
  type StepResult,
} from '../src/contract';
import { toApplicationFailure, toRetryableFailure } from '../src/contract/failures';
import { CartRepository, IntegrationStore, StorePricing, type CartDoc } from '../src/db';
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
}

// A factory of activities that share their dependencies is exempt from the function length limit.
// eslint-disable-next-line max-lines-per-function
export function createCheckoutActivities({ carts, client, beforeStep, integrations = new IntegrationStore(carts.db) }: CheckoutActivityDeps) {
  const repo = new CartRepository(carts, {
    // Backing off under contention can take seconds: keep heartbeating so it is not taken for a lost worker.
    onContention: (round) => Context.current().heartbeat({ contendedRound: round }),
  });
  const pricing = new StorePricing(carts.db);

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
      const begun = await repo.markStep(input.cartId, input.sessionId, input.step, 'begin');
      if (!begun.held) return { step: input.step, held: false };
      // An earlier attempt finished this step; only its completion was lost.
      if (begun.recorded) return { step: input.step, held: true };
      await beforeStep?.(input);
      const work = await performStep(input, begun.doc);
      const ended = await repo.markStep(input.cartId, input.sessionId, input.step, 'end', work.totals, work.items);
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
   * change to the now Active cart: the change never lands in a locked cart and is never lost.
   * Exactly-once: the request id (or, from old callers, one derived from this activity's identity,
   * the same on every retry) is stored with the change, so a retry after a lost completion changes nothing.
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
      let canceledCheckout = previous.canceledCheckout === true;
      for (let round = 0; round < 5; round++) {
        const result = await repo.changeItems(req.cartId, req.change, { requestId });
        if (!result.locked) {
          const doc = result.doc;
          if (result.duplicate) ctx.log.info('item change already applied: nothing written', { cartId: doc._id, requestId });
          return { cartId: doc._id, status: doc.status, version: doc.version ?? 0, items: doc.items ?? [], canceledCheckout };
        }
        canceledCheckout = true;
        ctx.log.info('cart is in checkout: cancelling it before the change', {
          cartId: req.cartId,
          checkoutWorkflowId: result.doc.checkout?.workflowId,
        });
        await cancelRunningCheckout(result.doc, { reason: 'ADD_TO_CART', ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}) });
      }
      throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${req.cartId} keeps being checked out; the change was not applied.`, {
        cartId: req.cartId,
      });
    });
  }

  /**
   * Cancels the checkout that holds `doc` and waits for its run to end, heartbeating meanwhile so a
   * lost worker is noticed within the heartbeat timeout. A run that is gone or has ended without
   * unlocking the cart (terminated, failed) will never unlock it: its lock is released here,
   * fenced by its session id, so nothing else is touched.
   */
  async function cancelRunningCheckout(doc: CartDoc, request: CancelCheckoutRequest): Promise<void> {
    const session = doc.checkout;
    if (!session) return;
    const ctx = Context.current();
    const workflowId = session.workflowId || checkoutWorkflowId(doc._id);
    const progress: ChangeProgress = { canceledCheckout: true, waitingFor: workflowId };
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

  return { lockCartForCheckout, runCheckoutStep, cancelCartAsyncOperation, placeOrder, changeCartItems };
}

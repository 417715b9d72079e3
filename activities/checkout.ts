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
  cartIdProblem,
  checkoutWorkflowId,
  normalizeCancelRequest,
  type BackgroundStep,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CartItemsRequest,
  type CartItemsResult,
} from '../src/contract';
import { CartRepository, computeTotals, type CartDoc } from '../src/db/carts';
import { CheckoutError, toApplicationFailure } from '../src/errors';

export interface CheckoutActivityDeps {
  carts: Collection<CartDoc>;
  client: Client;
}

export interface LockInput {
  cartId: string;
  sessionId: string;
  workflowId: string;
  runId?: string;
  requestedBy?: string;
}

export interface LockResult {
  cartId: string;
  sessionId: string;
  webstoreId?: string;
  accountId?: string;
  itemCount: number;
  version: number;
}

export interface StepInput {
  cartId: string;
  sessionId: string;
  step: BackgroundStep;
  /** Simulated duration; the step heartbeats meanwhile and stops when cancelled. */
  delayMs?: number;
}

export interface StepResult {
  step: BackgroundStep;
  /** False when this session no longer holds the cart (cancelled, closed, superseded): nothing was written. */
  held: boolean;
}

export interface CancelInput {
  cartId: string;
  /** The session to cancel; a cart held by any other session is left alone. */
  sessionId?: string;
  reason: string;
  requestedBy?: string;
}

export interface PlaceOrderInput {
  cartId: string;
  sessionId: string;
  orderId: string;
}

/** Turns business errors into non-retryable ApplicationFailures; anything else (MongoDB down) is retried. */
async function asActivity<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckoutError) throw toApplicationFailure(err);
    throw err;
  }
}

export function createCheckoutActivities({ carts, client }: CheckoutActivityDeps) {
  const repo = new CartRepository(carts);

  async function lockCartForCheckout(input: LockInput): Promise<LockResult> {
    return asActivity(async () => {
      const doc = await repo.lock(input);
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

  async function runCheckoutStep(input: StepInput): Promise<StepResult> {
    return asActivity(async () => {
      const begun = await repo.markStep(input.cartId, input.sessionId, input.step, 'begin');
      if (!begun.held) return { step: input.step, held: false };
      const ctx = Context.current();
      let remaining = input.delayMs ?? 0;
      while (remaining > 0) {
        ctx.heartbeat({ step: input.step, remainingMs: remaining });
        const chunk = Math.min(remaining, 500);
        // Context.sleep rejects with CancelledFailure once the workflow cancels this activity.
        await ctx.sleep(chunk);
        remaining -= chunk;
      }
      const totals = computeTotals(input.step, begun.doc?.items ?? [], begun.doc?.checkout?.totals);
      const ended = await repo.markStep(input.cartId, input.sessionId, input.step, 'end', totals);
      return { step: input.step, held: ended.held };
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

  async function placeOrder(input: PlaceOrderInput): Promise<{ orderId: string; version: number }> {
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
   */
  async function changeCartItems(req: CartItemsRequest): Promise<CartItemsResult> {
    return asActivity(async () => {
      const problem = cartIdProblem(req?.cartId);
      if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'cartId' });
      let canceledCheckout = false;
      for (let round = 0; round < 5; round++) {
        const result = await repo.changeItems(req.cartId, req.change);
        if (!result.locked) {
          const doc = result.doc;
          return { cartId: doc._id, status: doc.status, version: doc.version ?? 0, items: doc.items ?? [], canceledCheckout };
        }
        canceledCheckout = true;
        Context.current().log.info('cart is in checkout: cancelling it before the change', {
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

  async function cancelRunningCheckout(doc: CartDoc, request: CancelCheckoutRequest): Promise<void> {
    const session = doc.checkout;
    if (!session) return;
    const handle = client.workflow.getHandle(session.workflowId || checkoutWorkflowId(doc._id), session.runId);
    Context.current().heartbeat({ waitingFor: session.workflowId });
    try {
      await handle.signal(CANCEL_SIGNAL_NAME, normalizeCancelRequest(request));
      // The checkout workflow ends once its cancel has run; its result is the event to wait on.
      await handle.result();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // The run that holds the lock is gone (terminated, or its history was removed): nobody else
        // will unlock the cart, so cancel that session directly. Fenced by its session id.
        await repo.cancel({ cartId: doc._id, sessionId: session.sessionId, ...request });
        return;
      }
      if (err instanceof WorkflowFailedError) return; // e.g. INVALID_OPERATION: the next read sees the Closed cart
      throw err;
    }
  }

  return { lockCartForCheckout, runCheckoutStep, cancelCartAsyncOperation, placeOrder, changeCartItems };
}

/**
 * Cancelling a checkout: the Update (answer once the cart is Active) or the cross-language signal;
 * and, when no run answers, the cart's own answer from the store, releasing a lock whose holder is
 * gone.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  CLOSED_CART_MESSAGE,
  DEFAULT_CANCEL_REASON,
  CheckoutError,
  assertCartId,
  cancelRequestProblem,
  checkoutWorkflowId,
  normalizeCancelRequest,
  type CancelCheckoutRequest,
} from '../contract';
import { cancelCheckoutSignal, cancelCheckoutUpdate } from '../contract/messages';
import { storeCall, type CartRepository } from '../db';
import { asCheckoutError } from './temporal-errors';
import type { CancelAnswer, CancelOptions, TemporalTarget } from './types';

/** How often a cancel tries again when a new checkout took the cart while it looked. */
const MAX_CANCEL_ATTEMPTS = 3;

export async function cancelCheckout(target: TemporalTarget, repo: CartRepository | undefined, cartId: string, options: CancelOptions): Promise<CancelAnswer> {
  assertCartId(cartId);
  const req = { reason: options.reason ?? DEFAULT_CANCEL_REASON, ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}) };
  const problem = cancelRequestProblem(req);
  if (problem) throw new CheckoutError('INVALID_INPUT', problem, { cartId });
  const request = normalizeCancelRequest(req);
  for (let attempt = 0; ; attempt++) {
    const answer = await cancelOnce(target, repo, cartId, request, options.wait !== false);
    if (answer !== 'holder-running') return answer;
    if (attempt + 1 >= MAX_CANCEL_ATTEMPTS) {
      throw new CheckoutError('CHECKOUT_CONFLICT', `A checkout of cart ${cartId} started while it was being cancelled; try again.`, { cartId });
    }
  }
}

async function cancelOnce(
  target: TemporalTarget,
  repo: CartRepository | undefined,
  cartId: string,
  request: CancelCheckoutRequest,
  wait: boolean,
): Promise<CancelAnswer | 'holder-running'> {
  const handle = target.client.workflow.getHandle(checkoutWorkflowId(cartId));
  try {
    if (!wait) {
      await handle.signal(cancelCheckoutSignal, request);
      return { cartId, canceled: false, accepted: true, reason: request.reason };
    }
    return await handle.executeUpdate(cancelCheckoutUpdate, { args: [request] });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw asCheckoutError(err);
  }
  // Without the carts collection a Closed or missing cart can't be told apart: say nothing of its status.
  if (!repo) return { cartId, canceled: false, reason: request.reason };
  return storeCall(() => nothingRunning(target, repo, cartId, request));
}

/**
 * No checkout run answered. The cart may still be locked by a session whose run is gone: nobody
 * else will ever unlock it, so release it here, fenced by that session id. 'holder-running' when
 * a run (a new one, started meanwhile) holds the cart: cancel through it instead.
 */
async function nothingRunning(
  target: TemporalTarget,
  repo: CartRepository,
  cartId: string,
  request: CancelCheckoutRequest,
): Promise<CancelAnswer | 'holder-running'> {
  const reason = request.reason;
  const doc = await repo.get(cartId);
  if (doc.status === 'Closed') {
    // The store's cancel refuses it with INVALID_OPERATION, recording checkout.cancel_refused first.
    await repo.cancel({ cartId, ...request });
    throw new CheckoutError('INVALID_OPERATION', CLOSED_CART_MESSAGE, { cartId, status: doc.status });
  }
  const holder = doc.status === 'Checkout' ? doc.checkout : undefined;
  if (!holder) return { cartId, canceled: false, reason, status: doc.status };
  if (await isRunning(target, holder.workflowId || checkoutWorkflowId(cartId), holder.runId ?? holder.sessionId)) return 'holder-running';
  // The store's own cancel, fenced by that session: the same bounded archive and session record as
  // any cancel, and it never touches a cart that another session holds.
  const released = await repo.cancel({ cartId, sessionId: holder.sessionId, ...request });
  if (released.canceled) return { cartId, canceled: true, reason, status: released.doc.status, staleLock: true };
  // The cart changed under us (another cancel released it, or a new checkout took it); the store's
  // cancel read it again and refused a Closed one with INVALID_OPERATION.
  const now = released.doc;
  return now.status === 'Checkout' ? 'holder-running' : { cartId, canceled: false, reason, status: now.status };
}

async function isRunning({ client }: TemporalTarget, workflowId: string, runId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId, runId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw asCheckoutError(err);
  }
}

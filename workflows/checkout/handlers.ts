/**
 * The checkout's messages. Registered before the first await, so no signal or Update delivered with
 * the first workflow task is lost; those are delivered in the order of registration here. Each
 * handler hands over to the checkout's state; the validators refuse what it cannot answer.
 */
import { log, setHandler } from '@temporalio/workflow';
import {
  CANCEL_SIGNAL_NAME,
  CLOSED_CART_MESSAGE,
  MESSAGES,
  REQUEST_ID_PATTERN,
  cancelRequestProblem,
  itemChangeProblem,
  type CancelCheckoutRequest,
} from '../../src/contract';
import { businessError } from '../../src/contract/failures';
import {
  RECALCULATE_REFUSALS,
  cancelCheckoutSignal,
  cancelCheckoutUpdate,
  getCheckoutStateQuery,
  placeOrderUpdate,
  recalculateCheckoutUpdate,
  waitForLockUpdate,
} from '../../src/contract/messages';
import { isUndecodablePayload } from '../payload-converter';
import type { Checkout } from './state';
import { recalculateTheCheckout } from './steps';

export function registerHandlers(c: Checkout): void {
  setHandler(cancelCheckoutSignal, (req) => onCancelSignal(c, req));
  setHandler(cancelCheckoutUpdate, (req) => c.cancelAndWait(req), { validator: (req) => validateCancel(c, req) });
  setHandler(placeOrderUpdate, () => c.orderAndWait(), { validator: (req) => validateOrder(c, req) });
  setHandler(getCheckoutStateQuery, () => c.view);
  setHandler(waitForLockUpdate, () => c.waitForLock());
  setHandler(recalculateCheckoutUpdate, (req) => recalculateTheCheckout(c, req), { validator: (req) => validateRecalculate(c, req) });
}

function onCancelSignal(c: Checkout, req: CancelCheckoutRequest): void {
  if (isUndecodablePayload(req)) return c.rejectSignal(CANCEL_SIGNAL_NAME, req);
  const problem = cancelRequestProblem(req);
  if (!problem) return c.requestCancel(req);
  // A signal cannot be refused; a malformed one still cancels, with the default reason.
  log.warn('malformed cancelCheckout signal; cancelling with the default reason', { problem });
  c.requestCancel(undefined);
}

function validateCancel(c: Checkout, req: CancelCheckoutRequest): void {
  if (isUndecodablePayload(req)) throw businessError('INVALID_INPUT', `the cancel request could not be decoded: ${req.problem}`, c.cartId);
  const problem = cancelRequestProblem(req);
  if (problem) throw businessError('INVALID_INPUT', problem, c.cartId);
  if (c.order.succeeded) throw businessError('INVALID_OPERATION', CLOSED_CART_MESSAGE, c.cartId);
}

function validateOrder(c: Checkout, req: unknown): void {
  if (isUndecodablePayload(req)) throw businessError('INVALID_INPUT', `the order request could not be decoded: ${req.problem}`, c.cartId);
  // A cancel that came first wins; a repeated order after a first one joins it (same order id).
  if (c.decision.first === 'cancel') throw businessError('INVALID_OPERATION', MESSAGES.orderAfterCancel, c.cartId);
  if (c.view.phase === 'DONE') throw businessError('INVALID_OPERATION', MESSAGES.checkoutEnded, c.cartId);
}

/** A validator's refusal leaves no trace in the history; the caller cancels the checkout instead. */
function validateRecalculate(c: Checkout, req: unknown): void {
  if (isUndecodablePayload(req)) throw businessError('INVALID_INPUT', `the recalculate request could not be decoded: ${req.problem}`, c.cartId);
  const r = (req ?? {}) as { change?: unknown; requestId?: unknown };
  const problem =
    itemChangeProblem(r.change) ??
    (typeof r.requestId === 'string' && REQUEST_ID_PATTERN.test(r.requestId) ? undefined : 'requestId is required (REQUEST_ID_PATTERN)');
  if (problem) throw businessError('INVALID_INPUT', problem, c.cartId);
  // An order or a cancel that came first is the answer the buyer got: the cart is not changed under it.
  if (c.decision.first !== undefined || c.view.phase === 'DONE') throw businessError('INVALID_OPERATION', RECALCULATE_REFUSALS.decided, c.cartId);
}

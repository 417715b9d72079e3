/**
 * Message definitions of the checkout workflow, imported by the workflow and by clients alike.
 * The signal name is part of the cross-language contract (DOMAIN.md).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import {
  CANCEL_SIGNAL_NAME,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CheckoutView,
  type PlaceOrderRequest,
  type PlaceOrderResult,
} from '../src/contract';

/** Fire-and-forget cancel, as any service (or add-to-cart) sends it: `{ reason, requestedBy? }`. */
export const cancelCheckoutSignal = defineSignal<[CancelCheckoutRequest]>(CANCEL_SIGNAL_NAME);

/** Cancel and wait: answers once the cart is unlocked, or rejects with INVALID_OPERATION. */
export const cancelCheckoutUpdate = defineUpdate<CancelOutcome, [CancelCheckoutRequest]>('cancelCheckoutAndWait');

/** Place the order: the cart becomes Closed. Rejected once a cancel has been asked for. */
export const placeOrderUpdate = defineUpdate<PlaceOrderResult, [PlaceOrderRequest]>('placeOrder');

/** Answers once this checkout holds the cart lock (used with update-with-start), or rejects with why it can't. */
export const waitForLockUpdate = defineUpdate<CheckoutView>('waitForLock');

export const getCheckoutStateQuery = defineQuery<CheckoutView>('getCheckoutState');

/**
 * The checkout workflow's message definitions, imported by the workflow and by clients alike. Uses
 * only `@temporalio/workflow`'s definition helpers, which are safe outside the sandbox too.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { CANCEL_SIGNAL_NAME, CANCEL_UPDATE_NAME, CHECKOUT_STATE_QUERY_NAME, PLACE_ORDER_UPDATE_NAME, WAIT_FOR_LOCK_UPDATE_NAME } from './names';
import type { CancelCheckoutRequest, CancelOutcome, CheckoutView, PlaceOrderRequest, PlaceOrderResult } from './types';

/** Fire-and-forget cancel, as any service (or add-to-cart) sends it: `{ reason, requestedBy? }`. */
export const cancelCheckoutSignal = defineSignal<[CancelCheckoutRequest]>(CANCEL_SIGNAL_NAME);

/** Cancel and wait: answers once the cart is unlocked, or rejects with INVALID_OPERATION. */
export const cancelCheckoutUpdate = defineUpdate<CancelOutcome, [CancelCheckoutRequest]>(CANCEL_UPDATE_NAME);

/** Place the order: the cart becomes Closed. Rejected once a cancel has been asked for. */
export const placeOrderUpdate = defineUpdate<PlaceOrderResult, [PlaceOrderRequest]>(PLACE_ORDER_UPDATE_NAME);

/** Answers once this checkout holds the cart lock (used with update-with-start), or rejects with why it can't. */
export const waitForLockUpdate = defineUpdate<CheckoutView>(WAIT_FOR_LOCK_UPDATE_NAME);

export const getCheckoutStateQuery = defineQuery<CheckoutView>(CHECKOUT_STATE_QUERY_NAME);

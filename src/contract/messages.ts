/**
 * The checkout workflow's message definitions, imported by the workflow and by clients alike. Uses
 * only `@temporalio/workflow`'s definition helpers, which are safe outside the sandbox too.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import {
  CANCEL_SIGNAL_NAME,
  CANCEL_UPDATE_NAME,
  CHECKOUT_STATE_QUERY_NAME,
  PLACE_ORDER_UPDATE_NAME,
  RECALCULATE_UPDATE_NAME,
  WAIT_FOR_LOCK_UPDATE_NAME,
} from './names';
import type {
  CancelCheckoutRequest,
  CancelOutcome,
  CheckoutView,
  PlaceOrderRequest,
  PlaceOrderResult,
  RecalculateCheckoutRequest,
  RecalculateOutcome,
} from './types';

/** Fire-and-forget cancel, as any service (or add-to-cart) sends it: `{ reason, requestedBy? }`. */
export const cancelCheckoutSignal = defineSignal<[CancelCheckoutRequest]>(CANCEL_SIGNAL_NAME);

/** Cancel and wait: answers once the cart is unlocked, or rejects with INVALID_OPERATION. */
export const cancelCheckoutUpdate = defineUpdate<CancelOutcome, [CancelCheckoutRequest]>(CANCEL_UPDATE_NAME);

/** Place the order: the cart becomes Closed. Rejected once a cancel has been asked for. */
export const placeOrderUpdate = defineUpdate<PlaceOrderResult, [PlaceOrderRequest]>(PLACE_ORDER_UPDATE_NAME);

/** Answers once this checkout holds the cart lock (used with update-with-start), or rejects with why it can't. */
export const waitForLockUpdate = defineUpdate<CheckoutView>(WAIT_FOR_LOCK_UPDATE_NAME);

export const getCheckoutStateQuery = defineQuery<CheckoutView>(CHECKOUT_STATE_QUERY_NAME);

/**
 * An item change applied through the running checkout (the store's checkoutPolicy `recalculate`):
 * answers once the change is in the cart, which stays in Checkout while the steps from Confirm Price
 * on run again. Refused (the caller then cancels the checkout and applies the change to the Active
 * cart) once an order or a cancel came first, or when the change would leave the cart empty.
 */
export const recalculateCheckoutUpdate = defineUpdate<RecalculateOutcome, [RecalculateCheckoutRequest]>(RECALCULATE_UPDATE_NAME);

/** Why the checkout refuses a recalculation (INVALID_OPERATION); the item change then falls back to cancelling it. */
export const RECALCULATE_REFUSALS = {
  decided: 'The checkout is ending (an order or a cancel came first); it can no longer be recalculated.',
  notHeld: 'This checkout no longer holds the cart; it can not be recalculated.',
  emptiesCart: 'The change would leave the cart empty; the checkout is cancelled instead of recalculated.',
} as const;

/** What the client library's callers pass and get back. */
import type { Client } from '@temporalio/client';
import type { Collection } from 'mongodb';
import type { CancelOutcome, CartItemsResult, CheckoutView } from '../contract';
import type { CartDoc } from '../db';

export interface CheckoutClientOptions {
  client: Client;
  /** Needed for cart reads and for answering cancels when no checkout runs (Closed → INVALID_OPERATION). */
  carts?: Collection<CartDoc>;
  taskQueue?: string;
  /** Default lock lease for new checkouts. */
  leaseMs?: number;
}

/** The Temporal side every operation works on. */
export interface TemporalTarget {
  client: Client;
  taskQueue: string;
  /** Default lock lease for new checkouts. */
  leaseMs?: number;
}

export interface StartCheckoutOptions {
  requestedBy?: string;
  leaseMs?: number;
}

export interface StartedCheckout {
  checkoutId: string;
  runId: string;
  cartId: string;
  /** False when a checkout was already running: that one is returned. */
  started: boolean;
  view: CheckoutView;
}

export interface CancelOptions {
  reason?: string;
  requestedBy?: string;
  /** true (default): answer after the cart is unlocked (Update). false: answer once the signal is accepted. */
  wait?: boolean;
}

export type CancelAnswer =
  | (CancelOutcome & {
      /** True when no run held the lock any more (terminated, failed, removed) and the cancel released it itself. */
      staleLock?: boolean;
    })
  | { cartId: string; canceled: false; accepted: true; reason: string };

export interface ItemChangeOptions {
  /** Who changes the cart: recorded when a running checkout is cancelled for the change. */
  requestedBy?: string;
  /** Makes the change exactly-once (REQUEST_ID_PATTERN); the same id again answers the same result. */
  requestId?: string;
}

export type ItemChangeResult = CartItemsResult & { requestId: string };

/** What changeItemsWithin answers: the result, or that the change was started and goes on durably. */
export type ItemChangeAnswer = ItemChangeResult | { cartId: string; accepted: true; requestId: string; workflowId: string };

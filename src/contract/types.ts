/**
 * The shapes that cross a boundary: workflow and activity inputs and results, message arguments,
 * query answers, cart statuses and checkout states. Plain JSON objects, so fields can be added later
 * and services in any language can send and read them.
 */
import type { StepOutcome } from './integrations';

export const CART_STATUSES = ['Active', 'Checkout', 'Closed', 'PendingDelete'] as const;
export type CartStatus = (typeof CART_STATUSES)[number];

/** Session states in their default order; `Error` can follow any of them. */
export const CHECKOUT_STATES = [
  'Start',
  'Inventory',
  'Confirm Price',
  'Shipping Cost',
  'Taxes',
  'Checkout Summary',
  'Cart To Order',
  'Activate Order',
  'Complete',
] as const;
export type CheckoutState = (typeof CHECKOUT_STATES)[number] | 'Error';

/** The background steps the workflow runs after taking the lock, before it waits for the order. */
export const BACKGROUND_STEPS = ['Inventory', 'Confirm Price', 'Shipping Cost', 'Taxes', 'Checkout Summary'] as const;
export type BackgroundStep = (typeof BACKGROUND_STEPS)[number];

/** What an item change does to a cart in checkout: cancel the checkout (the default), or recalculate it in place. */
export const CHECKOUT_POLICIES = ['cancel', 'recalculate'] as const;
export type CheckoutPolicy = (typeof CHECKOUT_POLICIES)[number];

/** Where item prices come from: the caller's `unitPrice` (the default), or the store's price book. */
export const PRICING_MODES = ['caller', 'book'] as const;
export type PricingMode = (typeof PRICING_MODES)[number];

/** A store's settings, as PUT /webstores/:webstoreId takes and answers them. */
export interface StoreSettings {
  checkoutPolicy: CheckoutPolicy;
  pricing: PricingMode;
}

export const DEFAULT_STORE_SETTINGS: StoreSettings = { checkoutPolicy: 'cancel', pricing: 'caller' };

export type BackgroundOperationStatus = 'New' | 'Running' | 'Complete' | 'Error' | 'Canceled';

export type CancelReason = 'REQUESTED' | 'ADD_TO_CART' | 'EXPIRED' | string;

/** The `cancelCheckout` signal's one argument. Senders in other languages send this plain JSON. */
export interface CancelCheckoutRequest {
  reason: CancelReason;
  requestedBy?: string;
}

export interface CheckoutInput {
  cartId: string;
  /** Who started the checkout (user or service), shown to operators. */
  requestedBy?: string;
  /** How long the lock is held waiting for the order before it is released (reason EXPIRED). */
  leaseMs?: number;
  /** Set by the caller that starts the run; echoed in the view so a caller can tell it started it. */
  requestId?: string;
}

export type CheckoutOutcome = 'CANCELED' | 'ORDER_PLACED' | 'EXPIRED';

export interface CheckoutResult {
  cartId: string;
  sessionId: string;
  outcome: CheckoutOutcome;
  orderId?: string;
  cancel?: CancelCheckoutRequest;
  /** Cancel requests that arrived after the order was placed and were refused with INVALID_OPERATION. */
  refusedCancels?: number;
}

/** What the `getCheckoutState` query answers. */
export interface CheckoutView {
  cartId: string;
  sessionId: string;
  phase: 'LOCKING' | 'PROCESSING' | 'READY' | 'PLACING_ORDER' | 'CANCELING' | 'DONE';
  state: CheckoutState;
  cancelRequested?: CancelCheckoutRequest;
  outcome?: CheckoutOutcome;
  orderId?: string;
  requestId?: string;
  /** Signals this checkout could not read (another encoding, invalid JSON): ignored, listed for operators (the last 10). */
  rejectedSignals?: RejectedSignal[];
  /** Item changes applied through this checkout (checkoutPolicy `recalculate`); absent while none. */
  recalculations?: number;
}

export interface RejectedSignal {
  signal: string;
  encoding: string;
  problem: string;
}

export interface PlaceOrderRequest {
  requestedBy?: string;
}

export interface PlaceOrderResult {
  orderId: string;
}

export interface CancelOutcome {
  cartId: string;
  /** True if this request unlocked the cart; false if nothing was running. */
  canceled: boolean;
  reason: CancelReason;
  /** The cart's status after the cancel; absent when it could not be read (a client without MongoDB). */
  status?: CartStatus;
}

export interface CartItem {
  sku: string;
  quantity: number;
  unitPrice?: number;
}

export type ItemChange =
  { op: 'add'; sku: string; quantity: number; unitPrice?: number } | { op: 'set'; sku: string; quantity: number } | { op: 'remove'; sku: string };

export interface CartItemsRequest {
  cartId: string;
  change: ItemChange;
  requestedBy?: string;
  /**
   * Makes the change exactly-once: stored with the change in the cart's single-document write, so a
   * retried activity or a repeated request with the same id changes nothing twice.
   */
  requestId?: string;
}

export interface CartItemsResult {
  cartId: string;
  status: CartStatus;
  version: number;
  items: CartItem[];
  /** True if a running checkout was cancelled (reason ADD_TO_CART) so the change could land. */
  canceledCheckout: boolean;
  /**
   * True if the change went through the running checkout (the store's checkoutPolicy `recalculate`):
   * the cart stays in Checkout and its steps run again. Absent in results of older changes.
   */
  recalculated?: boolean;
}

// Activity inputs and results (the workflow imports the activities themselves as types only).

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
  /** Which recalculation of the session the step belongs to (absent: none yet); a step of an earlier one writes nothing. */
  recalculation?: number;
}

export interface StepResult {
  step: BackgroundStep;
  /** False when this session no longer holds the cart (cancelled, closed, superseded): nothing was written. */
  held: boolean;
  /** Which provider served the step and what it answered (store integrations, issue 15); absent when nothing ran. */
  outcome?: StepOutcome;
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

export interface PlaceOrderActivityResult {
  orderId: string;
  version: number;
}

export interface ProbeInput {
  probeId: string;
  payload: string;
}

export interface ProbeResult {
  probeId: string;
  payload: string;
  writes: number;
}

// --- What callers see of a cart (the store's views: plain JSON, dates as ISO strings) ---------
// The store keeps its documents (src/db) and turns them into these with cartView().

/** A checkout's running totals, all amounts in cents. */
export interface Totals {
  subtotal: number;
  shipping?: number;
  tax?: number;
  total?: number;
}

/** A checkout session as callers see it, current or archived. */
export interface SessionView {
  sessionId: string;
  workflowId: string;
  runId?: string;
  state: CheckoutState;
  nextState: CheckoutState;
  isProcessing: boolean;
  isError: boolean;
  isArchived: boolean;
  backgroundOperation: { id: string; status: BackgroundOperationStatus };
  requestedBy?: string;
  startedAt: string;
  totals?: Totals;
  orderId?: string;
  archivedAt?: string;
  cancelReason?: string;
  canceledBy?: string;
  /** Item changes applied through this session (checkoutPolicy `recalculate`); absent while none. */
  recalculations?: number;
}

/** What callers see of a cart. */
export interface CartView {
  cartId: string;
  status: CartStatus;
  webstoreId?: string;
  accountId?: string;
  items: CartItem[];
  version: number;
  orderId?: string;
  checkout?: SessionView;
  /** The most recent archived sessions, oldest first; the full history is in checkout_sessions. */
  archivedSessions: SessionView[];
  archivedSessionCount: number;
}

// --- Added by the checkout policy (issue 12): an item change applied through the running checkout
// (the `recalculateCheckout` Update and the activity its handler runs).

/** The `recalculateCheckout` Update's one argument: the change, and the request id that makes it exactly-once. */
export interface RecalculateCheckoutRequest {
  change: ItemChange;
  requestId: string;
  requestedBy?: string;
}

/** The Update's answer once the change is written; the steps from Confirm Price on then run again. */
export interface RecalculateOutcome {
  cartId: string;
  sessionId: string;
  status: CartStatus;
  version: number;
  items: CartItem[];
  /** How many changes this checkout has applied, this one included. */
  recalculation: number;
}

export interface RecalculateInput {
  cartId: string;
  sessionId: string;
  change: ItemChange;
  requestId: string;
  requestedBy?: string;
  /** The session's recalculation this write starts (its steps carry it). */
  recalculation: number;
  /** The first step to run again: Confirm Price, or an earlier one that had not completed. */
  fromStep: BackgroundStep;
}

export interface RecalculateActivityResult {
  cartId: string;
  /** False when this session no longer holds the cart: nothing was written. */
  held: boolean;
  /** True when the change is in the cart through this recalculation (written now, or by an earlier attempt). */
  applied: boolean;
  /** Set when the change would leave the cart empty: a checkout of nothing is cancelled instead. */
  emptiesCart?: true;
  status: CartStatus;
  version: number;
  items: CartItem[];
}

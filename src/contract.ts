/**
 * The contract other services rely on (see DOMAIN.md): names, message shapes and error codes.
 * Imported by workflow code, so it must stay free of Node, MongoDB and activity imports.
 */

export const TASK_QUEUE = 'b2b-checkout';
export const CHECKOUT_WORKFLOW_TYPE = 'checkoutWorkflow';
export const CANCEL_SIGNAL_NAME = 'cancelCheckout';
export const CANCEL_ACTIVITY_TYPE = 'cancelCartAsyncOperation';

/** The one place the workflow-ID scheme lives. */
export function checkoutWorkflowId(cartId: string): string {
  return `checkout-${cartId}`;
}

/**
 * An item change runs as its own workflow whose ID is derived from the request id, so a client or
 * HTTP retry of the same request joins the same workflow instead of changing the cart twice.
 */
export function cartItemsWorkflowId(cartId: string, requestId: string): string {
  return `cart-items-${cartId}-${requestId}`;
}

/** Request ids (item changes, idempotency keys): 1-128 printable characters without spaces. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Search attributes the project registers (name → type). */
export const SEARCH_ATTRIBUTES = {
  CartId: 'Keyword',
  WebstoreId: 'Keyword',
  CheckoutState: 'Keyword',
} as const;

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

export type BackgroundOperationStatus = 'New' | 'Running' | 'Complete' | 'Error' | 'Canceled';

/** Every error code a caller can see, with its HTTP status. */
export const ERROR_CODES = {
  INVALID_OPERATION: 403,
  INSUFFICIENT_ACCESS: 403,
  NOT_FOUND: 404,
  CHECKOUT_CONFLICT: 409,
  INVALID_INPUT: 400,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Business errors: final answers, never retried, so every activity lists them in
 * nonRetryableErrorTypes. UNAVAILABLE and RATE_LIMITED are transient and stay retryable.
 */
export const BUSINESS_ERROR_TYPES: ErrorCode[] = ['INVALID_OPERATION', 'INSUFFICIENT_ACCESS', 'NOT_FOUND', 'CHECKOUT_CONFLICT', 'INVALID_INPUT'];

export const CLOSED_CART_MESSAGE = "A cart can't be canceled after it's closed.";

/** The first detail of every business ApplicationFailure. */
export interface ErrorDetails {
  errorCode: ErrorCode;
  httpStatus: number;
  cartId?: string;
  [key: string]: unknown;
}

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
  | { op: 'add'; sku: string; quantity: number; unitPrice?: number }
  | { op: 'set'; sku: string; quantity: number }
  | { op: 'remove'; sku: string };

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
}

/** Cart ids: the platform's are 15/18-character ids; other services use UUIDs or similar. */
export const CART_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;
export const MAX_QUANTITY = 1_000_000;

/** A reason a value is not acceptable, or undefined when it is. Pure, so workflow code can use it. */
export function cartIdProblem(cartId: unknown): string | undefined {
  if (typeof cartId !== 'string') return `cartId must be a string, got ${cartId === null ? 'null' : typeof cartId}`;
  if (cartId.length === 0) return 'cartId must not be empty';
  if (cartId.length > 128) return `cartId must be at most 128 characters, got ${cartId.length}`;
  if (!CART_ID_PATTERN.test(cartId)) return 'cartId may contain only letters, digits and _ . : - and must start with a letter or digit';
  return undefined;
}

export function cancelRequestProblem(req: unknown): string | undefined {
  if (req === undefined || req === null) return undefined; // the reason defaults to REQUESTED
  if (typeof req !== 'object' || Array.isArray(req)) return 'the cancel request must be an object { reason, requestedBy? }';
  const { reason, requestedBy } = req as Record<string, unknown>;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length === 0 || reason.length > 200)) {
    return 'reason must be a non-empty string of at most 200 characters';
  }
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > 200)) {
    return 'requestedBy must be a string of at most 200 characters';
  }
  return undefined;
}

/** The signal's argument as other services send it, with defaults filled in. Assumes cancelRequestProblem passed. */
export function normalizeCancelRequest(req: unknown): CancelCheckoutRequest {
  const r = (req ?? {}) as Partial<CancelCheckoutRequest>;
  return { reason: r.reason ?? 'REQUESTED', ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}) };
}

export function itemChangeProblem(change: unknown): string | undefined {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) return 'change must be an object';
  const c = change as Record<string, unknown>;
  if (c.op !== 'add' && c.op !== 'set' && c.op !== 'remove') return 'change.op must be "add", "set" or "remove"';
  if (typeof c.sku !== 'string' || !SKU_PATTERN.test(c.sku)) {
    return 'sku must be a string of 1-128 letters, digits or _ . : / - starting with a letter or digit';
  }
  if (c.op !== 'remove') {
    const q = c.quantity;
    const min = c.op === 'add' ? 1 : 0;
    if (typeof q !== 'number' || !Number.isInteger(q) || q < min || q > MAX_QUANTITY) {
      return `quantity must be an integer from ${min} to ${MAX_QUANTITY}`;
    }
  }
  if (c.unitPrice !== undefined && (typeof c.unitPrice !== 'number' || !Number.isFinite(c.unitPrice) || c.unitPrice < 0)) {
    return 'unitPrice must be a non-negative number';
  }
  return undefined;
}

/**
 * Error codes, their HTTP statuses and the messages callers see, and the plain error classes that
 * carry them. No SDK here: activities turn these into ApplicationFailures (./failures).
 */

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
  // ---- Store integrations (issue 15): a provider's refusal ends the checkout with one of these.
  INSUFFICIENT_INVENTORY: 409,
  PRICE_NOT_FOUND: 400,
  INTEGRATION_REFUSED: 409,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Business errors: final answers, never retried, so every activity lists them in
 * nonRetryableErrorTypes. UNAVAILABLE and RATE_LIMITED are transient and stay retryable.
 */
export const BUSINESS_ERROR_TYPES: ErrorCode[] = [
  'INVALID_OPERATION',
  'INSUFFICIENT_ACCESS',
  'NOT_FOUND',
  'CHECKOUT_CONFLICT',
  'INVALID_INPUT',
  // Store integrations (issue 15): a provider's refusal is a final answer too.
  'INSUFFICIENT_INVENTORY',
  'PRICE_NOT_FOUND',
  'INTEGRATION_REFUSED',
];

/** The first detail of every business ApplicationFailure. */
export interface ErrorDetails {
  errorCode: ErrorCode;
  httpStatus: number;
  cartId?: string;
  [key: string]: unknown;
}

/** The answer to a cancel of a Closed cart (INVALID_OPERATION), as the platform words it. */
export const CLOSED_CART_MESSAGE = "A cart can't be canceled after it's closed.";

/** The messages of the checkout's INVALID_OPERATION answers and failures. */
export const MESSAGES = {
  orderAfterCancel: 'The checkout is being canceled; no order can be placed.',
  checkoutEnded: 'The checkout has ended.',
  canceledNoOrder: 'The checkout was canceled; no order was placed.',
  lockLostNoOrder: 'This checkout lost its lock on the cart; no order was placed.',
  lockLost: 'This checkout no longer holds the cart (cancelled, closed or taken over elsewhere); it ended without an order.',
  stepFailedNoOrder: (why: string) => `A step of the checkout failed (${why}); no order was placed.`,
} as const;

/**
 * The failure type of a run whose cart was taken from it while its steps ran. Not a code a caller
 * sees: `checkoutResult` reports it as CHECKOUT_CONFLICT (its details say so).
 */
export const LOCK_LOST = 'LOCK_LOST';

/**
 * The cart's compare-and-set lost every round to concurrent writers. Contention is transient, so
 * this is not a business answer: activities turn it into a retryable failure of this type (not in
 * BUSINESS_ERROR_TYPES) and Temporal tries again after its backoff.
 */
export const CART_CONTENDED = 'CART_CONTENDED';

/** A business error: one of the codes above, its HTTP status, and details such as the cart and field. */
export class CheckoutError extends Error {
  readonly httpStatus: number;
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CheckoutError';
    this.httpStatus = ERROR_CODES[errorCode];
  }

  toJSON(): ErrorDetails & { message: string } {
    return { errorCode: this.errorCode, httpStatus: this.httpStatus, message: this.message, ...this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

export class CartContendedError extends Error {
  constructor(
    readonly cartId: string,
    readonly rounds: number,
  ) {
    super(`Cart ${cartId} is being changed by others (${rounds} compare-and-set rounds lost); try again.`);
    this.name = 'CartContendedError';
  }
}

// ---- Added by the store integrations (issue 15).
/**
 * A store's provider did not answer usefully (no answer within its timeout, a connection error, a
 * 5xx, 408 or 429, an answer that is not the contract's JSON). Transient: the step activity fails
 * with this retryable type (not in BUSINESS_ERROR_TYPES) and Temporal tries again after its backoff.
 */
export const INTEGRATION_UNAVAILABLE = 'INTEGRATION_UNAVAILABLE';

// ---- Added by the price book (issue 12): the answers of a store that prices from its book.
/** The messages of PRICE_NOT_FOUND from a store's price book (an item change, or the builtin Confirm Price). */
export const PRICE_BOOK_MESSAGES = {
  noPrice: (webstoreId: string, skus: string[]) => `Webstore ${webstoreId} has no price for ${skus.join(', ')} in its price book.`,
  noEntry: (webstoreId: string, sku: string) => `Webstore ${webstoreId} has no price for ${sku}.`,
  /** The builtin Confirm Price's refusal, after "Confirm Price via builtin: ". */
  stepAnswer: (skus: string[]) => `no price for ${skus.join(', ')} in the price book`,
} as const;

/** Business errors with the codes of DOMAIN.md, and their form as Temporal failures. */
import { ApplicationFailure } from '@temporalio/common';
import { ERROR_CODES, type ErrorCode, type ErrorDetails } from './contract';

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

/** The non-retryable ApplicationFailure activities throw: type = code, first detail = { errorCode, httpStatus, ... }. */
export function toApplicationFailure(err: CheckoutError): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.errorCode,
    message: err.message,
    nonRetryable: true,
    details: [{ errorCode: err.errorCode, httpStatus: err.httpStatus, ...err.details }],
  });
}

/**
 * Finds a business error anywhere in a failure chain (WorkflowFailedError → ActivityFailure →
 * ApplicationFailure, WorkflowUpdateFailedError → ApplicationFailure, ...) and returns it as a CheckoutError.
 */
export function findCheckoutError(err: unknown): CheckoutError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; depth++) {
    if (e instanceof CheckoutError) return e;
    if (e instanceof ApplicationFailure && isErrorCode(e.type)) {
      const first = (e.details?.[0] ?? {}) as Record<string, unknown>;
      const { errorCode: _c, httpStatus: _h, ...rest } = first;
      return new CheckoutError(e.type, e.message, rest);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The cart's compare-and-set lost every round to concurrent writers. Contention is transient, so
 * this is not a business answer: activities turn it into a retryable failure (type CART_CONTENDED,
 * not in BUSINESS_ERROR_TYPES) and Temporal tries again after its backoff.
 */
export const CART_CONTENDED = 'CART_CONTENDED';

export class CartContendedError extends Error {
  constructor(
    readonly cartId: string,
    readonly rounds: number,
  ) {
    super(`Cart ${cartId} is being changed by others (${rounds} compare-and-set rounds lost); try again.`);
    this.name = 'CartContendedError';
  }
}

export function toRetryableFailure(err: CartContendedError): ApplicationFailure {
  return ApplicationFailure.create({
    type: CART_CONTENDED,
    message: err.message,
    nonRetryable: false,
    details: [{ cartId: err.cartId, rounds: err.rounds }],
  });
}

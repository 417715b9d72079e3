/**
 * Business errors as Temporal failures, both ways: the non-retryable ApplicationFailure an activity
 * or a workflow raises (type = error code, first detail = { errorCode, httpStatus, ... }), and the
 * CheckoutError a client finds in a failure chain. Imports only `@temporalio/common`, which the
 * workflow sandbox bundles too, so workflow code, activities and clients share these helpers.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  BUSINESS_ERROR_TYPES,
  CART_CONTENDED,
  CartContendedError,
  CheckoutError,
  ERROR_CODES,
  LOCK_LOST,
  MESSAGES,
  isErrorCode,
  type ErrorCode,
} from './errors';

/** A non-retryable failure with one of the domain's error codes, its HTTP status in the details. */
export function businessError(code: ErrorCode, message: string, cartId?: string): ApplicationFailure {
  return toApplicationFailure(new CheckoutError(code, message, cartId !== undefined ? { cartId } : {}));
}

/** The non-retryable ApplicationFailure activities throw for a CheckoutError. */
export function toApplicationFailure(err: CheckoutError): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.errorCode,
    message: err.message,
    nonRetryable: true,
    details: [{ errorCode: err.errorCode, httpStatus: err.httpStatus, ...err.details }],
  });
}

/** Lost compare-and-set rounds are transient: a retryable failure, tried again after Temporal's backoff. */
export function toRetryableFailure(err: CartContendedError): ApplicationFailure {
  return ApplicationFailure.create({
    type: CART_CONTENDED,
    message: err.message,
    nonRetryable: false,
    details: [{ cartId: err.cartId, rounds: err.rounds }],
  });
}

/** The failure of a run whose cart was taken from it; `checkoutResult` reports CHECKOUT_CONFLICT. */
export function lockLostFailure(cartId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: LOCK_LOST,
    message: MESSAGES.lockLost,
    nonRetryable: true,
    details: [{ errorCode: 'CHECKOUT_CONFLICT', httpStatus: ERROR_CODES.CHECKOUT_CONFLICT, cartId, reason: LOCK_LOST }],
  });
}

/** The business failure inside an activity failure, or undefined for anything else. */
export function businessFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type;
    if (type && (BUSINESS_ERROR_TYPES as string[]).includes(type)) return err.cause;
  }
  return undefined;
}

/**
 * The workflow's failure for an activity that failed with a business error: same type, message and
 * details, non-retryable, with the activity's failure as its cause for operators. Anything else (a
 * cancellation, a bug) is thrown again unchanged: it is not the workflow's to translate.
 */
export function workflowFailureOf(err: unknown): ApplicationFailure {
  const failure = businessFailure(err);
  if (!failure) throw err;
  return ApplicationFailure.create({
    type: failure.type ?? 'INVALID_OPERATION',
    message: failure.message,
    nonRetryable: true,
    details: failure.details ?? [],
    cause: err instanceof Error ? err : undefined,
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

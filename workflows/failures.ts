/**
 * Failures in workflow code: the ones a workflow raises itself, and an activity's business failure
 * turned into the workflow's own. Safe in the workflow sandbox: it imports only @temporalio/workflow
 * and the contract.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { BUSINESS_ERROR_TYPES, ERROR_CODES, type ErrorCode } from '../src/contract';

/** A non-retryable failure with one of the domain's error codes, its HTTP status in the details. */
export function businessError(code: ErrorCode, message: string, cartId?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: true,
    details: [{ errorCode: code, httpStatus: ERROR_CODES[code], ...(cartId !== undefined ? { cartId } : {}) }],
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

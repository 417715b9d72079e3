/** The failure helper of workflow code (src/contract/failures.ts), on plain failure objects. */
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import { CLOSED_CART_MESSAGE } from '../../src/contract';
import { businessError, businessFailure, workflowFailureOf } from '../../src/contract/failures';

const activityFailed = (cause: Error) =>
  new ActivityFailure('Activity task failed', 'cancelCartAsyncOperation', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', cause);

test('a business error carries its code, HTTP status and cart, and is not retried', () => {
  const failure = businessError('NOT_FOUND', 'no such cart', 'cart-1');
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'NOT_FOUND', message: 'no such cart', nonRetryable: true });
  expect(failure.details).toEqual([{ errorCode: 'NOT_FOUND', httpStatus: 404, cartId: 'cart-1' }]);
  expect(businessError('INVALID_INPUT', 'bad').details).toEqual([{ errorCode: 'INVALID_INPUT', httpStatus: 400 }]);
});

test("an activity's business failure becomes the workflow's: same type, message and details, the activity's failure as cause", () => {
  const details = { errorCode: 'INVALID_OPERATION', httpStatus: 403, cartId: 'cart-2', status: 'Closed' };
  const err = activityFailed(ApplicationFailure.create({ type: 'INVALID_OPERATION', message: CLOSED_CART_MESSAGE, nonRetryable: true, details: [details] }));
  expect(businessFailure(err)?.type).toBe('INVALID_OPERATION');
  const failure = workflowFailureOf(err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'INVALID_OPERATION', message: CLOSED_CART_MESSAGE, nonRetryable: true, details: [details] });
  expect(failure.cause).toBe(err);
});

test('anything else is thrown on unchanged: a retryable failure, a cancellation, a bug', () => {
  const transient = activityFailed(ApplicationFailure.create({ type: 'CART_CONTENDED', message: 'contended' }));
  const cancelled = new CancelledFailure('cancelled');
  const bug = new TypeError('x is undefined');
  for (const err of [transient, activityFailed(cancelled), cancelled, bug]) {
    expect(businessFailure(err)).toBeUndefined();
    let thrown: unknown;
    try {
      workflowFailureOf(err);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBe(err);
  }
});

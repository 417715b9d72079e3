/**
 * Unit tests of the one helper that tells a dependency's trouble apart (src/client/temporal-errors.ts),
 * which the client, the HTTP API and the CLI share: what is transient for the client, what is a
 * wait that ran out, and what is neither.
 */
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MongoNetworkError } from 'mongodb';
import { asCheckoutError, transientTemporalError, unavailableDependency, waitEndedWithoutOutcome, waitExpired } from '../../src/client';
import { CheckoutError } from '../../src/contract';

/** What @grpc/grpc-js rejects with: an Error with a numeric code, details and metadata. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

test.each([
  [
    'RESOURCE_EXHAUSTED',
    new ServiceError('limit', { cause: grpcError(8, 'resource exhausted') }),
    { what: 'Temporal', why: 'rate-limited' },
    'RATE_LIMITED',
    false,
  ],
  ['UNAVAILABLE', new ServiceError('down', { cause: grpcError(14, 'connection refused') }), { what: 'Temporal', why: 'unreachable' }, 'UNAVAILABLE', false],
  ['DEADLINE_EXCEEDED', new ServiceError('slow', { cause: grpcError(4, 'deadline exceeded') }), { what: 'Temporal', why: 'no-answer' }, undefined, true],
  ['an Update poll that timed out', new WorkflowUpdateRPCTimeoutOrCancelledError('timeout'), { what: 'Temporal', why: 'no-answer' }, undefined, true],
  ['MongoDB unreachable', new MongoNetworkError('connection closed'), { what: 'MongoDB', why: 'unreachable' }, undefined, false],
])('%s', (_what, err, dependency, transientCode, expired) => {
  expect(unavailableDependency(err)).toEqual(dependency);
  expect(transientTemporalError(err)?.errorCode).toBe(transientCode);
  expect(waitExpired(err)).toBe(expired);
});

test('an error that only carries a numeric code (a MongoDB server error, say) is not a Temporal outage', () => {
  const err = Object.assign(new Error('type mismatch'), { code: 14 });
  expect(unavailableDependency(err)).toBeUndefined();
  expect(asCheckoutError(err)).toBe(err);
});

test('a business failure anywhere in the chain is its CheckoutError', () => {
  const failure = ApplicationFailure.create({
    type: 'INVALID_OPERATION',
    message: 'closed',
    nonRetryable: true,
    details: [{ errorCode: 'INVALID_OPERATION', httpStatus: 403, cartId: 'c1' }],
  });
  const err = asCheckoutError(new ServiceError('update failed', { cause: failure }));
  expect(err).toBeInstanceOf(CheckoutError);
  expect(err).toMatchObject({ errorCode: 'INVALID_OPERATION', message: 'closed', details: { cartId: 'c1' } });
});

test.each([
  ['a deadline', new ServiceError('slow', { cause: grpcError(4, 'deadline exceeded') }), true],
  [
    'a result poll that failed on the way (INTERNAL)',
    new ServiceError('Failed to get Workflow execution history', { cause: grpcError(13, 'RST_STREAM') }),
    true,
  ],
  ['Temporal unreachable after the start', new ServiceError('down', { cause: grpcError(14, 'connection refused') }), true],
  ['the workflow failed with a business error', new CheckoutError('INVALID_OPERATION', "A closed cart can't be changed."), false],
  ['a bug', new TypeError('x is undefined'), false],
])('a wait for an accepted workflow that ended with %s: accepted = %s', (_what, err, accepted) => {
  expect(waitEndedWithoutOutcome(err)).toBe(accepted);
});

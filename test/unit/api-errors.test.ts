/**
 * Unit tests of how the HTTP API answers errors (src/api/errors.ts): transient failures of MongoDB
 * and Temporal are 503 UNAVAILABLE or 429 RATE_LIMITED with Retry-After, never 500 (issue 9, defects
 * 10 and 15); and the configuration of the API's waits and keys. The integration tests
 * (test/unavailable.test.ts) show the same on real servers.
 */
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { describeError } from '../../src/api/errors';
import { appSettings, ConfigError } from '../../src/config';
import { CheckoutError } from '../../src/contract';

/** What @grpc/grpc-js rejects with: an Error with a numeric code, details and metadata. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

test.each([
  ['the client reports the per-run Update limit as RATE_LIMITED', 429, 'RATE_LIMITED', new CheckoutError('RATE_LIMITED', 'too many updates', {})],
  ['the client reports UNAVAILABLE', 503, 'UNAVAILABLE', new CheckoutError('UNAVAILABLE', 'Temporal is unavailable', {})],
  ['gRPC RESOURCE_EXHAUSTED not mapped by the client', 429, 'RATE_LIMITED', new ServiceError('limit', { cause: grpcError(8, 'resource exhausted') })],
  ['gRPC UNAVAILABLE', 503, 'UNAVAILABLE', new ServiceError('Failed to start Workflow', { cause: grpcError(14, 'connection refused') })],
  ['gRPC DEADLINE_EXCEEDED (the API wait ran out)', 503, 'UNAVAILABLE', new ServiceError('Failed', { cause: grpcError(4, 'deadline exceeded') })],
  ['an Update whose poll timed out', 503, 'UNAVAILABLE', new WorkflowUpdateRPCTimeoutOrCancelledError('timeout', { cause: grpcError(4, 'deadline') })],
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the driver's constructor wants a topology description
  ['MongoDB server selection', 503, 'UNAVAILABLE', new MongoServerSelectionError('Server selection timed out after 3000 ms', { servers: new Map() } as any)],
  ['MongoDB network error', 503, 'UNAVAILABLE', new MongoNetworkError('connection closed')],
  // What the driver lets through when the server closes a connection under a write (found by the fault suite).
  ['a socket the MongoDB server ended', 503, 'UNAVAILABLE', Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' })],
  ['a refused connection', 503, 'UNAVAILABLE', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), { code: 'ECONNREFUSED' })],
])('%s: %d %s with Retry-After', (_what, status, errorCode, err) => {
  const answer = describeError(err);
  expect(answer).toMatchObject({ status, errorCode });
  expect(answer.retryAfterS).toBeGreaterThan(0);
});

test('business errors keep their status and get no Retry-After; anything unknown is 500', () => {
  expect(describeError(new CheckoutError('IDEMPOTENCY_KEY_REUSED', 'reused', {}))).toEqual({
    status: 422,
    errorCode: 'IDEMPOTENCY_KEY_REUSED',
    message: 'reused',
  });
  expect(describeError(new CheckoutError('INVALID_OPERATION', 'closed', {}))).toEqual({ status: 403, errorCode: 'INVALID_OPERATION', message: 'closed' });
  expect(describeError(new Error('boom'))).toMatchObject({ status: 500, errorCode: 'INTERNAL_ERROR' });
  expect(describeError(grpcError(3, 'invalid argument'))).toMatchObject({ status: 500 });
});

test('API_WAIT_MS, API_MONGO_TIMEOUT_MS and IDEMPOTENCY_TTL_S: defaults, values, refusals', () => {
  expect(appSettings({})).toMatchObject({ apiWaitMs: 10_000, apiMongoTimeoutMs: 3_000, idempotencyTtlS: 86_400 });
  expect(appSettings({ API_WAIT_MS: '2500', API_MONGO_TIMEOUT_MS: '1000', IDEMPOTENCY_TTL_S: '60' })).toMatchObject({
    apiWaitMs: 2500,
    apiMongoTimeoutMs: 1000,
    idempotencyTtlS: 60,
  });
  expect(() => appSettings({ API_WAIT_MS: '0' })).toThrow(ConfigError);
  expect(() => appSettings({ IDEMPOTENCY_TTL_S: '1d' })).toThrow(ConfigError);
});

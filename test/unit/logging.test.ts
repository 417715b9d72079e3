/** The JSON log lines: an error is written whole, with the code and cause chain that tell one failure from another. */
import { formatLine } from '../../src/logging';

test('an error in a log line carries its name, message, gRPC or driver code, details and cause chain', () => {
  const grpc = Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14, details: 'connection refused' });
  const err = new Error('Failed to get Workflow execution history', { cause: grpc });
  err.name = 'ServiceError';
  const line = JSON.parse(formatLine(new Date(0), 'error', 'request failed', { error: err })) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(line).toMatchObject({ time: '1970-01-01T00:00:00.000Z', level: 'error', msg: 'request failed' });
  expect(line.error).toMatchObject({ name: 'ServiceError', message: 'Failed to get Workflow execution history' });
  expect(line.error.cause).toMatchObject({ message: '14 UNAVAILABLE: connection refused', code: 14, details: 'connection refused' });
  expect(typeof line.error.stack).toBe('string');
});

test('a workflow id in the fields gives the line its cart id', () => {
  const line = JSON.parse(formatLine(new Date(0), 'INFO', 'cart locked', { workflowId: 'checkout-cart-7' })) as Record<string, unknown>;
  expect(line).toMatchObject({ level: 'info', cartId: 'cart-7', workflowId: 'checkout-cart-7' });
});

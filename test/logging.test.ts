/**
 * The log lines, captured from the pino destination: the API's request line (fastify's logger) and
 * the worker's SDK lines (the Temporal runtime logger bridged into the same pino) in one JSON format,
 * LOG_LEVEL honoured, and no secret in any line.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../src/logging';
import { installRuntime } from '../src/worker';
import { insertForeignCart, setupTestEnv, type TestEnv } from './harness/env';
import { ADMIN_TOKEN, SERVICE_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';

// Installed before the harness's own (which then finds one and keeps it): this file's runtime writes here.
const workerLines: string[] = [];
installRuntime({ logLevel: 'info', shutdownSignals: [], write: (line) => workerLines.push(line) });

type Line = Record<string, unknown>;
const parsed = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

let env: TestEnv;
let api: RunningTestApi;
const apiLines: string[] = [];

beforeAll(async () => {
  env = await setupTestEnv('logging');
  api = await startTestApi({
    checkout: env.checkout,
    temporal: env.client,
    db: env.mongo.db,
    logger: createLogger({ level: 'info', component: 'api', destination: (line) => apiLines.push(line) }),
  });
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

test('a request logs one line with its request id, route, status, latency and cart id, and never the bearer token', async () => {
  await setupDirectory(api.base);
  const created = await call(api.base, '/webstores/store-1/carts', { method: 'POST' });
  const cartId = created.body.cartId as string;
  await call(api.base, `/carts/${cartId}`, { token: SERVICE_TOKEN });
  const bad = await call(api.base, `/carts/${cartId}`, { token: 'wrong-token-0123456789-secret' });
  expect(bad.status).toBe(401);

  const lines = parsed(apiLines);
  const read = lines.find((l) => l.msg === 'request' && l.route === '/carts/:cartId' && l.status === 200);
  expect(read).toEqual({
    level: 'info',
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    component: 'api',
    reqId: expect.any(String),
    cartId,
    method: 'GET',
    route: '/carts/:cartId',
    status: 200,
    ms: expect.any(Number),
    msg: 'request',
  });
  expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', route: '/carts/:cartId', status: 401, cartId }));
  expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', route: '/webstores/:webstoreId/carts', status: 201 }));
  const all = apiLines.join('\n');
  for (const secret of [SERVICE_TOKEN, ADMIN_TOKEN, 'wrong-token-0123456789-secret']) expect(all).not.toContain(secret);
});

test('secrets are redacted wherever an entry carries them: Authorization headers, tokens, provider and webhook secrets', () => {
  const lines: string[] = [];
  const logger = createLogger({ destination: (l) => lines.push(l) });
  logger.info(
    {
      headers: { authorization: `Bearer ${SERVICE_TOKEN}`, accept: 'application/json' },
      token: SERVICE_TOKEN,
      provider: { url: 'https://tax.example', secret: 'provider-s3cret' },
      webhook: { secret: 'webhook-s3cret' },
    },
    'settings',
  );
  expect(JSON.parse(lines[0])).toMatchObject({
    headers: { authorization: '[redacted]', accept: 'application/json' },
    token: '[redacted]',
    provider: { url: 'https://tax.example', secret: '[redacted]' },
    webhook: { secret: '[redacted]' },
  });
  expect(lines.join('\n')).not.toMatch(/s3cret|svc-token/);
});

test('LOG_LEVEL is honoured: at warn, requests write nothing, a failure does', () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'WARN', destination: (l) => lines.push(l) });
  logger.info({ route: '/carts/:cartId' }, 'request');
  logger.warn({ error: new Error('MongoDB is down', { cause: new Error('ECONNREFUSED') }) }, 'request failed');
  expect(parsed(lines)).toEqual([
    expect.objectContaining({
      level: 'warn',
      msg: 'request failed',
      error: expect.objectContaining({ message: 'MongoDB is down', cause: expect.objectContaining({ message: 'ECONNREFUSED' }) }),
    }),
  ]);
  expect(() => createLogger({ level: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
});

test("the worker's workflow and activity lines come through the same pino, in the same format, with the cart id", async () => {
  const cartId = `log-${randomUUID()}`;
  await insertForeignCart(env.carts, cartId);
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const started = await env.checkout.startCheckout(cartId, { requestedBy: 'svc-log' });
    await env.checkout.cancelCheckout(cartId, { reason: 'REQUESTED', requestedBy: 'svc-log' });
    await env.client.workflow.getHandle(started.checkoutId, started.runId).result();
  });
  const lines = parsed(workerLines).filter((l) => l.cartId === cartId);
  const locked = lines.find((l) => l.msg === 'cart locked');
  expect(locked).toMatchObject({
    level: 'info',
    time: expect.stringMatching(/Z$/),
    component: 'worker',
    cartId,
    sdkComponent: 'workflow',
    workflowType: 'checkoutWorkflow',
    workflowId: expect.stringContaining(cartId),
    runId: expect.any(String),
  });
  expect(lines).toContainEqual(expect.objectContaining({ msg: 'checkout canceled', reason: 'REQUESTED', sdkComponent: 'workflow' }));
  // The activity lines the SDK writes (activity started/completed at debug are below info): none leaks a task token.
  expect(workerLines.join('\n')).not.toContain('taskToken');
  // Same keys in the same order as the API's lines: level, time, component, then the entry.
  expect(Object.keys(locked!).slice(0, 3)).toEqual(['level', 'time', 'component']);
});

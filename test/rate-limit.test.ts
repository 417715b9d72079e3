/**
 * Per-token rate limits: past RATE_LIMIT_PER_MIN requests in a minute a token gets 429 RATE_LIMITED
 * with Retry-After, in the API's error format; other tokens and the open routes go on. Security
 * headers are set. This file's API has a low limit of its own.
 */
import { Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { appSettings, ConfigError } from '../src/config';
import { setupTestEnv, type TestEnv } from './harness/env';
import { ADMIN_TOKEN, OTHER_SERVICE_TOKEN, SERVICE_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';

// More than the admin token's own requests here (six), so only the service token meets it.
const LIMIT = 8;
let env: TestEnv;
let api: RunningTestApi;

beforeAll(async () => {
  env = await setupTestEnv('rate-limit', { ownDatabase: true });
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db, rateLimitPerMin: LIMIT });
  // With the admin token, which has a count of its own.
  await setupDirectory(api.base);
});
afterAll(async () => {
  await api?.close();
  await env?.close();
  // No worker ran in this file, so nothing shut the SDK runtime the harness installed: its log
  // callback would keep the process alive.
  await Runtime.instance().shutdown();
});

test('past the limit a token gets 429 RATE_LIMITED with Retry-After; other tokens and /healthz are unaffected', async () => {
  const cart = `/carts/rl-${randomUUID()}`;
  const statuses: number[] = [];
  for (let i = 0; i < LIMIT; i++) statuses.push((await call(api.base, cart)).status);
  // An unknown cart: 404, a final answer that still counts.
  expect(statuses).toEqual(Array(LIMIT).fill(404));

  const limited = await call(api.base, cart);
  expect(limited.status).toBe(429);
  expect(limited.body).toEqual([{ errorCode: 'RATE_LIMITED', message: expect.stringContaining(`more than ${LIMIT} requests`) }]);
  const retryAfter = Number(limited.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  // Every kind of request of that token, not only the one route.
  expect((await call(api.base, '/webstores/any/carts', { method: 'POST' })).status).toBe(429);

  expect((await call(api.base, cart, { token: OTHER_SERVICE_TOKEN })).status).toBe(404);
  expect((await call(api.base, '/webstores/rl-store', { method: 'PUT', token: ADMIN_TOKEN, account: null, body: { name: 'x' } })).status).toBe(200);
  for (let i = 0; i < LIMIT + 2; i++) expect((await call(api.base, '/healthz', { token: null, account: null })).status).toBe(200);
  // A refused token is not counted against anyone: still 401, never 429.
  expect((await call(api.base, cart, { token: 'not-a-token-0123456789' })).status).toBe(401);
  expect((await call(api.base, cart, { token: SERVICE_TOKEN })).status).toBe(429);
});

test('security headers are set on API answers and on the docs page, whose CSP allows only its own assets', async () => {
  const res = await fetch(`${api.base}/healthz`);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  const docs = await fetch(`${api.base}/docs/`);
  const csp = docs.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('upgrade-insecure-requests');
});

test('RATE_LIMIT_PER_MIN: default generous, 0 turns the limit off, anything else is INVALID_CONFIGURATION', () => {
  expect(appSettings({}).rateLimitPerMin).toBeGreaterThanOrEqual(1000);
  expect(appSettings({ RATE_LIMIT_PER_MIN: '0' }).rateLimitPerMin).toBe(0);
  expect(appSettings({ RATE_LIMIT_PER_MIN: '120' }).rateLimitPerMin).toBe(120);
  for (const bad of ['-1', 'lots', '1.5']) {
    expect(() => appSettings({ RATE_LIMIT_PER_MIN: bad })).toThrow(ConfigError);
  }
});

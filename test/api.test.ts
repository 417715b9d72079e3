/**
 * The HTTP API through a running server on the real stack: every route, every error code, and a
 * battery of malformed or hostile requests that must each get the right status and code and leave
 * every collection unchanged. This file has a database of its own.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildApi, type FastifyInstance } from '../src/api/app';
import { startApi } from '../src/api/server';
import { appSettings, type ApiRole } from '../src/config';
import { freePort } from '../stack/ports';
import { setupTestEnv, type TestEnv } from './harness/env';

const SERVICE = 'svc-token-0123456789abcdef';
const ADMIN = 'adm-token-0123456789abcdef';
const STORE = 'store-1';
const BUYER = 'acct-1';
const OTHER = 'acct-2';
const INACTIVE = 'acct-inactive';
const OUTSIDER = 'acct-outsider';

let env: TestEnv;
let api: FastifyInstance;
let base: string;

beforeAll(async () => {
  env = await setupTestEnv('api', { ownDatabase: true });
  api = await buildApi({
    checkout: env.checkout,
    temporal: env.client,
    db: env.mongo.db,
    tokens: new Map<string, ApiRole>([
      [SERVICE, 'service'],
      [ADMIN, 'admin'],
    ]),
  });
  await api.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

interface Call {
  method?: string;
  token?: string | null;
  account?: string | null;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  authorization?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
async function call(path: string, c: Call = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (c.authorization !== undefined) headers.authorization = c.authorization;
  else if (c.token !== null) headers.authorization = `Bearer ${c.token ?? SERVICE}`;
  if (c.account !== null) headers['x-effective-account-id'] = c.account ?? BUYER;
  let payload: string | undefined;
  if (c.rawBody !== undefined) payload = c.rawBody;
  else if (c.body !== undefined) payload = JSON.stringify(c.body);
  if (payload !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
  const res = await fetch(`${base}${path}`, { method: c.method ?? 'GET', headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}
const admin = (path: string, body?: unknown) => call(path, { method: 'PUT', token: ADMIN, account: null, body });

async function setupDirectory(): Promise<void> {
  expect((await admin(`/webstores/${STORE}`, { name: 'Main store' })).status).toBe(200);
  for (const [id, active] of [
    [BUYER, true],
    [OTHER, true],
    [INACTIVE, false],
    [OUTSIDER, true],
  ] as const) {
    expect((await admin(`/accounts/${id}`, { name: id, active })).status).toBe(200);
  }
  for (const id of [BUYER, OTHER, INACTIVE]) expect((await admin(`/webstores/${STORE}/members/${id}`)).status).toBe(200);
}

async function newCart(account = BUYER): Promise<string> {
  const res = await call(`/webstores/${STORE}/carts`, { method: 'POST', account });
  expect(res.status).toBe(201);
  return res.body.cartId;
}

test('the whole story over HTTP: store, accounts, membership, cart, items, checkout, auto-cancel, order, refused cancel', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    await setupDirectory();
    const cartId = await newCart();
    let res = await call(`/carts/${cartId}`);
    expect(res).toMatchObject({ status: 200, body: { cartId, status: 'Active', webstoreId: STORE, accountId: BUYER, items: [], version: 0 } });

    res = await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 } });
    expect(res).toMatchObject({ status: 201, body: { status: 'Active', canceledCheckout: false, items: [{ sku: 'SKU-1', quantity: 2 }] } });
    res = await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-2', quantity: 1 } });
    expect(res.status).toBe(201);
    res = await call(`/carts/${cartId}/items/SKU-1`, { method: 'PATCH', body: { quantity: 5 } });
    expect(res).toMatchObject({
      status: 200,
      body: {
        items: [
          { sku: 'SKU-1', quantity: 5 },
          { sku: 'SKU-2', quantity: 1 },
        ],
      },
    });
    res = await call(`/carts/${cartId}/items/SKU-2`, { method: 'DELETE' });
    expect(res).toMatchObject({ status: 200, body: { items: [{ sku: 'SKU-1', quantity: 5 }] } });

    // Start checkout: 202 the first time, 200 with the same checkout after.
    res = await call(`/carts/${cartId}/checkouts`, { method: 'POST' });
    expect(res).toMatchObject({ status: 202, body: { checkoutId: `checkout-${cartId}`, status: 'Checkout', started: true } });
    const runId = res.body.runId;
    res = await call(`/carts/${cartId}/checkouts`, { method: 'POST' });
    expect(res).toMatchObject({ status: 200, body: { runId, started: false } });
    res = await call(`/carts/${cartId}`);
    expect(res.body).toMatchObject({ status: 'Checkout', checkout: { sessionId: runId, backgroundOperation: { status: 'Running' } } });

    // Add an item while in checkout: the checkout is cancelled first, the item lands.
    res = await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-3', quantity: 1 } });
    expect(res).toMatchObject({ status: 201, body: { status: 'Active', canceledCheckout: true } });
    expect(res.body.items).toEqual([
      { sku: 'SKU-1', quantity: 5, unitPrice: 12.5 },
      { sku: 'SKU-3', quantity: 1 },
    ]);

    // Cancel without waiting: 202, then the cart becomes Active.
    expect((await call(`/carts/${cartId}/checkouts`, { method: 'POST' })).status).toBe(202);
    res = await call(`/carts/${cartId}/checkouts/active?wait=false`, { method: 'DELETE' });
    expect(res).toMatchObject({ status: 202, body: { accepted: true } });
    expect(await env.checkout.checkoutResult(cartId)).toMatchObject({ outcome: 'CANCELED' });
    expect((await call(`/carts/${cartId}`)).body.status).toBe('Active');
    // Nothing running: 200 and says so.
    res = await call(`/carts/${cartId}/checkouts/active`, { method: 'DELETE' });
    expect(res).toMatchObject({ status: 200, body: { canceled: false, message: expect.stringMatching(/No checkout was running/) } });

    // Cancel and wait: 200 once the cart is Active.
    expect((await call(`/carts/${cartId}/checkouts`, { method: 'POST' })).status).toBe(202);
    res = await call(`/carts/${cartId}/checkouts/active?reason=BUYER_REQUEST`, { method: 'DELETE' });
    expect(res).toMatchObject({ status: 200, body: { canceled: true, status: 'Active', reason: 'BUYER_REQUEST' } });

    // Start again and place the order: Closed. A cancel now is 403 INVALID_OPERATION; so is a change.
    expect((await call(`/carts/${cartId}/checkouts`, { method: 'POST' })).status).toBe(202);
    res = await call(`/carts/${cartId}/checkouts/active/orders`, { method: 'POST' });
    expect(res).toMatchObject({ status: 201, body: { orderId: expect.stringMatching(/^order-/) } });
    res = await call(`/carts/${cartId}`);
    expect(res.body).toMatchObject({ status: 'Closed', orderId: expect.any(String) });
    res = await call(`/carts/${cartId}/checkouts/active`, { method: 'DELETE' });
    expect(res).toEqual({ status: 403, body: [{ errorCode: 'INVALID_OPERATION', message: "A cart can't be canceled after it's closed." }] });
    res = await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-4', quantity: 1 } });
    expect(res).toMatchObject({ status: 403, body: [{ errorCode: 'INVALID_OPERATION' }] });
    res = await call(`/carts/${cartId}/checkouts`, { method: 'POST' });
    expect(res).toMatchObject({ status: 403, body: [{ errorCode: 'INVALID_OPERATION' }] });
    res = await call(`/carts/${cartId}/checkouts/active/orders`, { method: 'POST' });
    expect(res).toMatchObject({ status: 403, body: [{ errorCode: 'INVALID_OPERATION' }] });
  });
});

test('two concurrent checkout starts: one 202, the other gets the same checkout (200) or 409', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    await setupDirectory();
    const cartId = await newCart();
    // A checkout needs an item.
    expect((await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 1 } })).status).toBe(201);
    const [a, b] = await Promise.all([call(`/carts/${cartId}/checkouts`, { method: 'POST' }), call(`/carts/${cartId}/checkouts`, { method: 'POST' })]);
    const statuses = [a.status, b.status].sort();
    expect([
      [200, 202],
      [202, 409],
    ]).toContainEqual(statuses);
    if (statuses[0] === 200) expect(a.body.runId).toBe(b.body.runId);
    expect((await call(`/carts/${cartId}/checkouts/active`, { method: 'DELETE' })).status).toBe(200);
  });
});

test('healthz and metrics', async () => {
  const health = await call('/healthz', { token: null, account: null });
  expect(health).toEqual({ status: 200, body: { temporal: 'ok', mongodb: 'ok' } });
  const metrics = await call('/metrics', { token: null, account: null });
  expect(metrics.status).toBe(200);
  expect(metrics.body).toMatch(/b2b_api_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
});

test('malformed and hostile requests: each gets its status and code, and no collection changes', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    await setupDirectory();
    const cartId = await newCart();
    expect((await call(`/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 1 } })).status).toBe(201);
    // A cart owned by an account that is not a member of its store (written by another service).
    const strayCart = `stray-${randomUUID()}`;
    await env.carts.insertOne({ _id: strayCart, status: 'Active', webstoreId: STORE, accountId: OUTSIDER, items: [], version: 0 });
    const unknownCart = `unknown-${randomUUID()}`;
    const items = `/carts/${cartId}/items`;

    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const name of ['carts', 'webstores', 'accounts', 'memberships']) {
        out[name] = await env.mongo.db.collection(name).find({}).sort({ _id: 1 }).toArray();
      }
      return JSON.stringify(out);
    };
    const before = await snapshot();

    const cases: [string, string, Call, number, string][] = [
      // authentication and roles
      ['no token', `/carts/${cartId}`, { token: null }, 401, 'UNAUTHENTICATED'],
      ['unknown token', `/carts/${cartId}`, { token: 'not-a-token-0123456789' }, 401, 'UNAUTHENTICATED'],
      ['basic auth', `/carts/${cartId}`, { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'UNAUTHENTICATED'],
      ['empty bearer', `/carts/${cartId}`, { authorization: 'Bearer ' }, 401, 'UNAUTHENTICATED'],
      ['token in lower-case scheme with junk', `/carts/${cartId}`, { authorization: `Bearer ${SERVICE} extra` }, 401, 'UNAUTHENTICATED'],
      ['no token on admin route', `/webstores/${STORE}`, { method: 'PUT', token: null, body: { name: 'x' } }, 401, 'UNAUTHENTICATED'],
      ['service token on PUT webstore', `/webstores/${STORE}`, { method: 'PUT', body: { name: 'hijacked' } }, 403, 'INSUFFICIENT_ACCESS'],
      ['service token on PUT account', `/accounts/${BUYER}`, { method: 'PUT', body: { name: 'x', active: false } }, 403, 'INSUFFICIENT_ACCESS'],
      ['service token on membership', `/webstores/${STORE}/members/${OUTSIDER}`, { method: 'PUT' }, 403, 'INSUFFICIENT_ACCESS'],
      // the requirement checks
      ["another account's cart (read)", `/carts/${cartId}`, { account: OTHER }, 403, 'INSUFFICIENT_ACCESS'],
      ["another account's cart (add item)", items, { method: 'POST', account: OTHER, body: { sku: 'X', quantity: 1 } }, 403, 'INSUFFICIENT_ACCESS'],
      ["another account's cart (checkout)", `/carts/${cartId}/checkouts`, { method: 'POST', account: OTHER }, 403, 'INSUFFICIENT_ACCESS'],
      ["another account's cart (cancel)", `/carts/${cartId}/checkouts/active`, { method: 'DELETE', account: OTHER }, 403, 'INSUFFICIENT_ACCESS'],
      ["another account's cart (order)", `/carts/${cartId}/checkouts/active/orders`, { method: 'POST', account: OTHER }, 403, 'INSUFFICIENT_ACCESS'],
      ['inactive account', `/carts/${cartId}`, { account: INACTIVE }, 403, 'INSUFFICIENT_ACCESS'],
      ['unknown account', `/carts/${cartId}`, { account: 'acct-nobody' }, 403, 'INSUFFICIENT_ACCESS'],
      ['non-member creates a cart', `/webstores/${STORE}/carts`, { method: 'POST', account: OUTSIDER }, 403, 'INSUFFICIENT_ACCESS'],
      ['cart in a store its owner is no member of', `/carts/${strayCart}/checkouts`, { method: 'POST', account: OUTSIDER }, 403, 'INSUFFICIENT_ACCESS'],
      ['no effective account', `/carts/${cartId}`, { account: null }, 400, 'INVALID_INPUT'],
      ['operator-like effective account', `/carts/${cartId}`, { account: '$ne' }, 400, 'INVALID_INPUT'],
      // bodies
      ['operator object as sku', items, { method: 'POST', body: { sku: { $ne: null }, quantity: 1 } }, 400, 'INVALID_INPUT'],
      ['operator object as quantity', items, { method: 'POST', body: { sku: 'A', quantity: { $gt: 0 } } }, 400, 'INVALID_INPUT'],
      ['operator object as unitPrice', items, { method: 'POST', body: { sku: 'A', quantity: 1, unitPrice: { $inc: 1 } } }, 400, 'INVALID_INPUT'],
      ['quantity as a string', items, { method: 'POST', body: { sku: 'A', quantity: '2' } }, 400, 'INVALID_INPUT'],
      ['fractional quantity', items, { method: 'POST', body: { sku: 'A', quantity: 1.5 } }, 400, 'INVALID_INPUT'],
      ['zero quantity', items, { method: 'POST', body: { sku: 'A', quantity: 0 } }, 400, 'INVALID_INPUT'],
      ['huge quantity', items, { method: 'POST', body: { sku: 'A', quantity: 1e12 } }, 400, 'INVALID_INPUT'],
      ['unknown field', items, { method: 'POST', body: { sku: 'A', quantity: 1, color: 'red' } }, 400, 'INVALID_INPUT'],
      ['operator as a top-level key', items, { method: 'POST', body: { sku: 'A', quantity: 1, $where: 'sleep(1)' } }, 400, 'INVALID_INPUT'],
      ['__proto__ key', items, { method: 'POST', rawBody: '{"sku":"A","quantity":1,"__proto__":{"admin":true}}' }, 400, 'INVALID_INPUT'],
      ['missing fields', items, { method: 'POST', body: {} }, 400, 'INVALID_INPUT'],
      ['array body', items, { method: 'POST', body: [{ sku: 'A', quantity: 1 }] }, 400, 'INVALID_INPUT'],
      ['broken JSON', items, { method: 'POST', rawBody: '{"sku": "A", ' }, 400, 'INVALID_INPUT'],
      ['body over 1 MB', items, { method: 'POST', rawBody: JSON.stringify({ sku: 'A', quantity: 1, pad: 'x'.repeat(1024 * 1024) }) }, 400, 'INVALID_INPUT'],
      ['text/plain body', items, { method: 'POST', rawBody: 'sku=A&quantity=1', contentType: 'text/plain' }, 400, 'INVALID_INPUT'],
      ['negative quantity on PATCH', `${items}/SKU-1`, { method: 'PATCH', body: { quantity: -1 } }, 400, 'INVALID_INPUT'],
      ['null quantity on PATCH', `${items}/SKU-1`, { method: 'PATCH', body: { quantity: null } }, 400, 'INVALID_INPUT'],
      ['body on checkout start', `/carts/${cartId}/checkouts`, { method: 'POST', body: { leaseMs: 1 } }, 400, 'INVALID_INPUT'],
      ['accountId smuggled into cart creation', `/webstores/${STORE}/carts`, { method: 'POST', body: { accountId: OTHER } }, 400, 'INVALID_INPUT'],
      ['account active as a string', `/accounts/${OUTSIDER}`, { method: 'PUT', token: ADMIN, body: { name: 'n', active: 'yes' } }, 400, 'INVALID_INPUT'],
      [
        'operator object as account name',
        `/accounts/${OUTSIDER}`,
        { method: 'PUT', token: ADMIN, body: { name: { $ne: null }, active: true } },
        400,
        'INVALID_INPUT',
      ],
      ['empty store name', `/webstores/${STORE}`, { method: 'PUT', token: ADMIN, body: { name: '' } }, 400, 'INVALID_INPUT'],
      ['unknown field on store', `/webstores/${STORE}`, { method: 'PUT', token: ADMIN, body: { name: 'n', owner: 'me' } }, 400, 'INVALID_INPUT'],
      // ids and query strings
      ['path-like cart id', '/carts/..%2F..%2Fetc%2Fpasswd', {}, 400, 'INVALID_INPUT'],
      ['operator-like cart id', '/carts/%24ne', {}, 400, 'INVALID_INPUT'],
      ['cart id too long', `/carts/${'c'.repeat(129)}`, {}, 400, 'INVALID_INPUT'],
      ['path-like store id', '/webstores/..%2Fadmin/carts', { method: 'POST' }, 400, 'INVALID_INPUT'],
      ['bad wait value', `/carts/${cartId}/checkouts/active?wait=maybe`, { method: 'DELETE' }, 400, 'INVALID_INPUT'],
      ['unknown query parameter', `/carts/${cartId}/checkouts/active?force=1`, { method: 'DELETE' }, 400, 'INVALID_INPUT'],
      ['lower-case reason', `/carts/${cartId}/checkouts/active?reason=drop%20table`, { method: 'DELETE' }, 400, 'INVALID_INPUT'],
      // what does not exist
      ['unknown cart', `/carts/${unknownCart}`, {}, 404, 'NOT_FOUND'],
      ['checkout of an unknown cart', `/carts/${unknownCart}/checkouts`, { method: 'POST' }, 404, 'NOT_FOUND'],
      ['cancel on an unknown cart', `/carts/${unknownCart}/checkouts/active`, { method: 'DELETE' }, 404, 'NOT_FOUND'],
      ['membership in an unknown store', `/webstores/store-nowhere/members/${BUYER}`, { method: 'PUT', token: ADMIN }, 404, 'NOT_FOUND'],
      ['unknown route', '/admin/shell', {}, 404, 'NOT_FOUND'],
      // nothing to order
      ['order without a checkout', `/carts/${cartId}/checkouts/active/orders`, { method: 'POST' }, 403, 'INVALID_OPERATION'],
    ];
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const answers = [];
    for (const [what, path, c, ,] of cases) {
      const res = await call(path, c);
      answers.push([what, res.status, Array.isArray(res.body) ? res.body[0]?.errorCode : res.body]);
    }
    expect(answers).toEqual(cases.map(([what, , , status, code]) => [what, status, code]));
    expect(await snapshot()).toBe(before);
  });
});

test('healthz answers 503 and names the part that is down', async () => {
  const { MongoClient } = await import('mongodb');
  const dead = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 });
  const sick = await buildApi({ checkout: env.checkout, temporal: env.client, db: dead.db('x'), tokens: new Map() });
  try {
    await sick.listen({ host: '127.0.0.1', port: 0 });
    const port = (sick.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ temporal: 'ok', mongodb: expect.stringMatching(/^unreachable/) });
  } finally {
    await sick.close();
    await dead.close();
  }
});

test('the API served by startApi (npm start, server.js): indexes made, including the TTL of idempotency keys from IDEMPOTENCY_TTL_S', async () => {
  const settings = appSettings({
    ...process.env,
    MONGODB_DB: env.mongoDb,
    API_PORT: String(await freePort()),
    API_TOKENS: `${SERVICE}=service`,
    IDEMPOTENCY_TTL_S: '600',
    API_WAIT_MS: '5000',
  });
  const served = await startApi(settings, env.mongoUri, { log: () => undefined });
  try {
    const indexes = await env.mongo.db.collection('idempotency_keys').listIndexes().toArray();
    expect(indexes).toContainEqual(expect.objectContaining({ name: 'ttl', key: { createdAt: 1 }, expireAfterSeconds: 600 }));
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
  } finally {
    await served.close();
  }
});

/**
 * Dependencies that go away (issue 9, defect 15): while MongoDB or Temporal can't be reached, the
 * HTTP API answers 503 UNAVAILABLE with Retry-After within seconds, never 500 INTERNAL_ERROR.
 * MongoDB: a server of this file's own, stopped mid-test (by the process this file started).
 * Temporal: an API whose client points at a port nobody listens on.
 */
import { Client, Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { CheckoutClient } from '../src/client';
import { cartsCollection } from '../src/db';
import { startMongoServer, type MongoServerHandle } from '../stack/mongo-server';
import { freePort } from '../stack/ports';
import { provision } from '../stack/provision';
import { setupTestEnv, type TestEnv } from './harness/env';
import { call, setupDirectory, startTestApi, type Answer } from './harness/http';

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('unavailable');
});
afterAll(async () => {
  await env?.close();
});

function expectUnavailable(res: Answer, what: string): void {
  expect({ what, status: res.status, body: res.body }).toEqual({
    what,
    status: 503,
    body: [{ errorCode: 'UNAVAILABLE', message: expect.any(String) }],
  });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

test('MongoDB stops: cancel (both modes), add item, GET cart and /healthz answer 503 UNAVAILABLE with Retry-After', async () => {
  // A MongoDB server of this test's own (MONGODB_URI is the shared one, which must stay up).
  const { mongo: spec } = await provision({ env: { ...process.env, MONGODB_URI: undefined }, needTemporal: false, log: () => undefined });
  if (spec.kind === 'external') throw new Error('no MongoDB server to start (mongo-java-server or mongod)');
  let server: MongoServerHandle | undefined = await startMongoServer({ spec, host: '127.0.0.1', port: 0 });
  const mongo = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
  const carts = cartsCollection(mongo.db('b2b_checkout_unavailable'));
  const api = await startTestApi({
    checkout: new CheckoutClient({ client: env.client, carts, taskQueue: env.taskQueue }),
    temporal: env.client,
    db: mongo.db('b2b_checkout_unavailable'),
    waitMs: 3000,
  });
  try {
    await setupDirectory(api.base);
    const created = await call(api.base, '/webstores/store-1/carts', { method: 'POST' });
    expect(created.status).toBe(201);
    const cartId: string = created.body.cartId;
    expect((await call(api.base, `/carts/${cartId}`)).status).toBe(200);

    await server.stop();
    server = undefined;

    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts/active`, { method: 'DELETE' }), 'cancel and wait');
    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts/active?wait=false`, { method: 'DELETE' }), 'cancel, wait=false');
    expectUnavailable(await call(api.base, `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 1 } }), 'add item');
    expectUnavailable(
      await call(api.base, `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 1 }, key: 'add-during-outage' }),
      'add item with an Idempotency-Key',
    );
    expectUnavailable(await call(api.base, `/carts/${cartId}`), 'GET cart');
    const health = await call(api.base, '/healthz', { token: null, account: null });
    expect(health).toMatchObject({ status: 503, body: { temporal: 'ok', mongodb: expect.stringMatching(/^unreachable/) } });
    expect(Number(health.headers.get('retry-after'))).toBeGreaterThan(0);
  } finally {
    await api.close();
    await mongo.close();
    await server?.stop();
  }
});

test('Temporal unreachable: add item, start, cancel and place order answer 503 UNAVAILABLE with Retry-After, and nothing is kept for the key', async () => {
  const port = await freePort();
  const connection = Connection.lazy({ address: `127.0.0.1:${port}` });
  const temporal = new Client({ connection });
  const api = await startTestApi({
    checkout: new CheckoutClient({ client: temporal, carts: env.carts, taskQueue: env.taskQueue }),
    temporal,
    db: env.mongo.db,
    waitMs: 1500,
  });
  try {
    await setupDirectory(api.base);
    const created = await call(api.base, '/webstores/store-1/carts', { method: 'POST' });
    expect(created.status).toBe(201);
    const cartId: string = created.body.cartId;
    const key = `k-${cartId}`;
    expectUnavailable(await call(api.base, `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 1 }, key }), 'add item');
    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts`, { method: 'POST' }), 'start');
    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts/active`, { method: 'DELETE' }), 'cancel and wait');
    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts/active?wait=false`, { method: 'DELETE' }), 'cancel, wait=false');
    expectUnavailable(await call(api.base, `/carts/${cartId}/checkouts/active/orders`, { method: 'POST' }), 'place order');
    // A 503 is not a final answer: the key is free for the retry.
    expect(await env.mongo.db.collection<{ _id: string }>('idempotency_keys').countDocuments({ _id: { $regex: `:${key}$` } })).toBe(0);
    expect(await env.carts.findOne({ _id: cartId })).toMatchObject({ status: 'Active', items: [], version: 0 });
  } finally {
    await api.close();
    await connection.close().catch(() => undefined);
  }
});

test('the client library, MongoDB unreachable: a cancel with nothing running and a cart read fail with CheckoutError UNAVAILABLE', async () => {
  // A port nobody listens on: the driver's connection is refused, as while MongoDB restarts.
  const mongo = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/`, { serverSelectionTimeoutMS: 500 });
  try {
    const checkout = new CheckoutClient({ client: env.client, carts: cartsCollection(mongo.db('b2b_checkout_unavailable')) });
    for (const attempt of [() => checkout.cancelCheckout(`no-run-${Date.now()}`), () => checkout.getCart('no-such-cart')]) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'CheckoutError', errorCode: 'UNAVAILABLE' });
    }
  } finally {
    await mongo.close();
  }
});

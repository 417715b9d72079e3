/**
 * Exactly-once item changes and HTTP idempotency (issue 9: defects 1, 14 and 17, and the
 * Idempotency-Key feature), on the real stack: the same request id or Idempotency-Key again answers
 * the first attempt's result and changes nothing twice; a request that outlives the API's wait is
 * answered 202 and completes durably. This file has a database of its own.
 */
import { randomUUID } from 'node:crypto';
import { cartItemsWorkflowId } from '../src/contract';
import { IdempotencyStore, type IdempotencyDoc } from '../src/db';
import { CheckoutError } from '../src/contract';
import { eventually, insertForeignCart, newCartId, setupTestEnv, type TestEnv } from './harness/env';
import { OTHER_SERVICE_TOKEN, call, setupDirectory, startTestApi, type Answer, type RunningTestApi } from './harness/http';

let env: TestEnv;
let api: RunningTestApi;
beforeAll(async () => {
  env = await setupTestEnv('idempotency', { ownDatabase: true });
  await new IdempotencyStore(env.mongo.db, 3600).ensureIndexes();
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

const keys = () => env.mongo.db.collection<IdempotencyDoc>('idempotency_keys');
const cartOf = async (cartId: string) => {
  const doc = await env.carts.findOne({ _id: cartId });
  if (!doc) throw new Error(`cart ${cartId} is missing`);
  return doc;
};
/** A store with a member account of this test's own, so counting its carts counts only this test's. */
async function newAccount(): Promise<string> {
  const account = `acct-${randomUUID()}`;
  await setupDirectory(api.base, 'store-1', [account]);
  return account;
}
async function newCart(account: string): Promise<string> {
  const res = await call(api.base, '/webstores/store-1/carts', { method: 'POST', account });
  expect(res.status).toBe(201);
  return res.body.cartId;
}
const replayed = (res: Answer) => res.headers.get('idempotent-replayed') === 'true';

test('client: an item change repeated with its request id answers the first result and adds once, also while the first runs', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId, []);
    const first = await env.checkout.addItem(cartId, 'SKU-1', 2, { requestId: 'req-1' });
    expect(first).toMatchObject({ requestId: 'req-1', items: [{ sku: 'SKU-1', quantity: 2 }], version: 1 });
    expect(await env.checkout.addItem(cartId, 'SKU-1', 2, { requestId: 'req-1' })).toEqual(first);

    // Three at once with one request id: one change, the same answer for all.
    const together = await Promise.all([1, 2, 3].map(() => env.checkout.addItem(cartId, 'SKU-1', 3, { requestId: 'req-2' })));
    expect(together[1]).toEqual(together[0]);
    expect(together[2]).toEqual(together[0]);
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 5 }]);
    const history = await env.client.workflow.getHandle(cartItemsWorkflowId(cartId, 'req-2')).fetchHistory();
    expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(1);

    // Without a request id each call is a change of its own; the positional requestedBy still works.
    const a = await env.checkout.setItemQuantity(cartId, 'SKU-9', 1, 'ops-alice');
    const b = await env.checkout.removeItem(cartId, 'SKU-9', 'ops-alice');
    expect(a.requestId).not.toBe(b.requestId);
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 5 }]);

    await expect(env.checkout.addItem(cartId, 'SKU-1', 1, { requestId: 'not a valid id' })).rejects.toMatchObject({ errorCode: 'INVALID_INPUT' });
  });
});

test('client: a change that cancelled a checkout, repeated, reports canceledCheckout: true and lands once', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await env.checkout.startCheckout(cartId);
    const first = await env.checkout.addItem(cartId, 'SKU-2', 1, { requestId: 'during-checkout' });
    expect(first).toMatchObject({ status: 'Active', canceledCheckout: true });
    expect(await env.checkout.addItem(cartId, 'SKU-2', 1, { requestId: 'during-checkout' })).toEqual(first);
    expect((await cartOf(cartId)).items).toEqual([
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ]);
  });
});

test('client: createCart with an existing id answers that cart when the fields match, CHECKOUT_CONFLICT when not', async () => {
  const cartId = newCartId();
  const first = await env.checkout.createCart({ cartId, webstoreId: 'store-1', accountId: 'acct-1' });
  expect(await env.checkout.createCart({ cartId, webstoreId: 'store-1', accountId: 'acct-1' })).toEqual(first);
  const other = env.checkout.createCart({ cartId, webstoreId: 'store-1', accountId: 'acct-2' });
  await expect(other).rejects.toBeInstanceOf(CheckoutError);
  await expect(other).rejects.toMatchObject({ errorCode: 'CHECKOUT_CONFLICT' });
  expect(await env.carts.countDocuments({ _id: cartId })).toBe(1);
});

test('HTTP: the same Idempotency-Key and request answers the same, adds once; another request with it is 422; keys are per token', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const account = await newAccount();
    const cartId = await newCart(account);
    const add = { method: 'POST', account, body: { sku: 'SKU-1', quantity: 2 }, key: `add-${cartId}` };
    const first = await call(api.base, `/carts/${cartId}/items`, add);
    expect(first).toMatchObject({ status: 201, body: { items: [{ sku: 'SKU-1', quantity: 2 }], canceledCheckout: false } });
    expect(replayed(first)).toBe(false);
    const again = await call(api.base, `/carts/${cartId}/items`, add);
    expect({ status: again.status, body: again.body, replayed: replayed(again) }).toEqual({ status: 201, body: first.body, replayed: true });
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 2 }]);

    const reused = await call(api.base, `/carts/${cartId}/items`, { ...add, body: { sku: 'SKU-1', quantity: 3 } });
    expect(reused).toMatchObject({ status: 422, body: [{ errorCode: 'IDEMPOTENCY_KEY_REUSED' }] });
    const otherRoute = await call(api.base, `/carts/${cartId}/items/SKU-1`, { method: 'DELETE', account, key: add.key });
    expect(otherRoute).toMatchObject({ status: 422, body: [{ errorCode: 'IDEMPOTENCY_KEY_REUSED' }] });
    // The same key under another token is another caller's key: a request of its own.
    const otherToken = await call(api.base, `/carts/${cartId}/items`, { ...add, token: OTHER_SERVICE_TOKEN });
    expect(otherToken).toMatchObject({ status: 201, body: { items: [{ sku: 'SKU-1', quantity: 4 }] } });
    expect(replayed(otherToken)).toBe(false);

    for (const bad of ['', 'has space', '-leading-dash', 'x'.repeat(129)]) {
      const res = await call(api.base, `/carts/${cartId}/items`, { ...add, key: bad });
      expect({ bad, status: res.status, code: res.body[0]?.errorCode }).toEqual({ bad, status: 400, code: 'INVALID_INPUT' });
    }

    // PATCH, DELETE and a final 4xx answer are kept too.
    const patch = { method: 'PATCH', account, body: { quantity: 7 }, key: `patch-${cartId}` };
    const patched = await call(api.base, `/carts/${cartId}/items/SKU-1`, patch);
    expect(patched).toMatchObject({ status: 200, body: { items: [{ sku: 'SKU-1', quantity: 7 }] } });
    await call(api.base, `/carts/${cartId}/items`, { method: 'POST', account, body: { sku: 'SKU-1', quantity: 1 } });
    expect(await call(api.base, `/carts/${cartId}/items/SKU-1`, patch)).toMatchObject({ status: 200, body: patched.body });
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 8 }]);
    const missing = `/carts/${newCartId()}/items`;
    const notFound = await call(api.base, missing, { ...add, key: `missing-${cartId}` });
    expect(notFound.status).toBe(404);
    const notFoundAgain = await call(api.base, missing, { ...add, key: `missing-${cartId}` });
    expect({ status: notFoundAgain.status, body: notFoundAgain.body, replayed: replayed(notFoundAgain) }).toEqual({
      status: 404,
      body: notFound.body,
      replayed: true,
    });
  });
});

test('HTTP: a cancel repeated with its key answers what the first did (canceled: true), not "nothing was running"', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const account = await newAccount();
    const cartId = await newCart(account);
    await call(api.base, `/carts/${cartId}/items`, { method: 'POST', account, body: { sku: 'SKU-1', quantity: 1 } });
    expect((await call(api.base, `/carts/${cartId}/checkouts`, { method: 'POST', account, key: `start-${cartId}` })).status).toBe(202);
    const cancel = { method: 'DELETE', account, key: `cancel-${cartId}` };
    const first = await call(api.base, `/carts/${cartId}/checkouts/active`, cancel);
    expect(first).toMatchObject({ status: 200, body: { canceled: true, status: 'Active' } });
    const again = await call(api.base, `/carts/${cartId}/checkouts/active`, cancel);
    expect({ status: again.status, body: again.body, replayed: replayed(again) }).toEqual({ status: 200, body: first.body, replayed: true });
  });
});

test('HTTP: POST /webstores/:id/carts with one key creates one cart, even when the stored answer is lost (defect 17)', async () => {
  const account = await newAccount();
  const create = { method: 'POST', account, key: `create-${account}` };
  const first = await call(api.base, '/webstores/store-1/carts', create);
  expect(first.status).toBe(201);
  const again = await call(api.base, '/webstores/store-1/carts', create);
  expect({ status: again.status, body: again.body, replayed: replayed(again) }).toEqual({ status: 201, body: first.body, replayed: true });
  // The key's record is gone (as if the answer was never stored): the cart id comes from the key.
  await keys().deleteMany({ _id: { $regex: `:create-${account}$` } });
  const afterLoss = await call(api.base, '/webstores/store-1/carts', create);
  expect(afterLoss).toMatchObject({ status: 201, body: { cartId: first.body.cartId } });
  expect(await env.carts.countDocuments({ accountId: account })).toBe(1);
  // Without a key, each POST is a new cart.
  await newCart(account);
  expect(await env.carts.countDocuments({ accountId: account })).toBe(2);
});

test('keys are kept with a TTL index, and a key past its TTL (not yet removed) is free again', async () => {
  const indexes = await keys().listIndexes().toArray();
  expect(indexes).toContainEqual(expect.objectContaining({ name: 'ttl', key: { createdAt: 1 }, expireAfterSeconds: 3600 }));
  const store = new IdempotencyStore(env.mongo.db, 60);
  const id = `scope:${randomUUID()}`;
  const old = new Date(Date.now() - 120_000);
  await keys().insertOne({ _id: id, fingerprint: 'f1', state: 'done', claimId: 'c', claimedUntil: old, status: 201, body: '{}', createdAt: old });
  expect(await store.claim(id, 'f2', 10_000)).toMatchObject({ kind: 'claimed' });
  expect(await store.claim(id, 'f2', 10_000)).toEqual({ kind: 'pending' });
  expect(await store.claim(id, 'f3', 10_000)).toEqual({ kind: 'mismatch' });
});

test('a lost worker: item change, cancel and start answer 202 within the wait, the same key meanwhile 409; later the key answers the first attempt (defect 14)', async () => {
  const slow = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db, waitMs: 3000 });
  try {
    const account = await newAccount();
    const changed = await newCart(account);
    const canceled = await newCart(account);
    const started = await newCart(account);
    await call(slow.base, `/carts/${started}/items`, { method: 'POST', account, body: { sku: 'SKU-1', quantity: 1 } });
    const first = await env.newWorker();
    await first.worker.runUntil(async () => {
      for (const cartId of [changed, canceled]) {
        await call(slow.base, `/carts/${cartId}/items`, { method: 'POST', account, body: { sku: 'SKU-1', quantity: 1 } });
        expect((await call(slow.base, `/carts/${cartId}/checkouts`, { method: 'POST', account })).status).toBe(202);
      }
    });
    // No worker from here on: nothing can finish.
    const add = { method: 'POST', account, body: { sku: 'SKU-2', quantity: 1 }, key: `lost-${changed}` };
    const pending = call(slow.base, `/carts/${changed}/items`, add);
    await eventually('the first request to hold its key', async () =>
      (await keys().countDocuments({ _id: { $regex: `:lost-${changed}$` }, state: 'pending' })) > 0 ? true : undefined,
    );
    const meanwhile = await call(slow.base, `/carts/${changed}/items`, add);
    expect(meanwhile).toMatchObject({ status: 409, body: [{ errorCode: 'CHECKOUT_CONFLICT', message: expect.stringMatching(/in progress/) }] });
    expect(Number(meanwhile.headers.get('retry-after'))).toBeGreaterThan(0);
    const accepted = await pending;
    expect(accepted).toMatchObject({ status: 202, body: { accepted: true, cartId: changed, requestId: expect.any(String), message: expect.any(String) } });

    const cancel = await call(slow.base, `/carts/${canceled}/checkouts/active`, { method: 'DELETE', account });
    expect(cancel).toMatchObject({ status: 202, body: { accepted: true, cartId: canceled } });
    expect((await cartOf(changed)).status).toBe('Checkout');
    const start = await call(slow.base, `/carts/${started}/checkouts`, { method: 'POST', account, key: `start-${started}` });
    expect(start).toMatchObject({ status: 202, body: { accepted: true, checkoutId: `checkout-${started}`, runId: expect.any(String) } });

    const second = await env.newWorker();
    await second.worker.runUntil(async () => {
      // The same request with the same key: the first attempt's result, which cancelled the checkout.
      // The old run's workflow task waits out the lost worker's sticky queue first, which may take longer
      // than the API's wait: until then each repeat answers 202 again, so repeat until it has the result.
      const done = await eventually(
        'the item change to finish with its first attempt',
        async () => {
          const answer = await call(slow.base, `/carts/${changed}/items`, add);
          return answer.status === 202 ? undefined : answer;
        },
        60000,
      );
      expect(done).toMatchObject({ status: 201, body: { status: 'Active', canceledCheckout: true, requestId: accepted.body.requestId } });
      expect(done.body.items).toEqual([
        { sku: 'SKU-1', quantity: 1 },
        { sku: 'SKU-2', quantity: 1 },
      ]);
      expect(await env.checkout.checkoutResult(canceled)).toMatchObject({ outcome: 'CANCELED' });
      expect((await cartOf(canceled)).status).toBe('Active');
      // The checkout started without a worker locks the cart once one runs it; the key then answers it.
      await eventually('the started checkout to lock its cart', async () => ((await cartOf(started)).status === 'Checkout' ? true : undefined));
      const startAgain = await call(slow.base, `/carts/${started}/checkouts`, { method: 'POST', account, key: `start-${started}` });
      expect(startAgain).toMatchObject({ body: { runId: start.body.runId, status: 'Checkout' } });
      expect((await call(slow.base, `/carts/${started}/checkouts/active`, { method: 'DELETE', account })).status).toBe(200);
    });
    expect((await cartOf(changed)).items).toEqual([
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-2', quantity: 1 },
    ]);
  } finally {
    await slow.close();
  }
});

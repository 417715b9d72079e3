/**
 * The store's price book (issue 12) on the real stack: the admin routes, a store with `"pricing":
 * "book"` pricing item changes and the Confirm Price step from it, and stores without it unchanged.
 * Outcomes: the answers, the cart and price documents in MongoDB, the workflows' results and histories.
 */
import { randomUUID } from 'node:crypto';
import { CART_ITEMS_WORKFLOW_TYPE, COLLECTIONS, cartItemsWorkflowId, checkoutWorkflowId, type CartItem } from '../src/contract';
import { findCheckoutError } from '../src/contract/failures';
import type { PriceDoc } from '../src/db';
import { eventually, setupTestEnv, workflowFailure, type TestEnv } from './harness/env';
import { activityRuns, scheduledActivities } from './harness/history';
import { ADMIN_TOKEN, SERVICE_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';
import { TestProvider } from './harness/provider';

let env: TestEnv;
let api: RunningTestApi;
const providers: TestProvider[] = [];

beforeAll(async () => {
  env = await setupTestEnv('price-book');
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
});
afterAll(async () => {
  await api?.close();
  for (const p of providers) await p.close();
  await env?.close();
});

const admin = (method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) =>
  call(api.base, path, { method, token, account: null, body });
const buyer = (method: string, path: string, body?: unknown) => call(api.base, path, { method, body });
const prices = () => env.mongo.db.collection<PriceDoc>(COLLECTIONS.storePrices);

/** A store of this test only with buyer acct-1; `pricing` as given (PUT semantics: left out is the default). */
async function newStore(pricing?: 'book' | 'caller'): Promise<string> {
  const store = `store-book-${randomUUID().slice(0, 8)}`;
  await setupDirectory(api.base, store, ['acct-1']);
  if (pricing) expect((await admin('PUT', `/webstores/${store}`, { name: store, pricing })).body).toMatchObject({ pricing });
  return store;
}

async function setPrice(store: string, sku: string, unitPrice: number): Promise<void> {
  expect(await admin('PUT', `/webstores/${store}/prices/${encodeURIComponent(sku)}`, { unitPrice })).toMatchObject({
    status: 200,
    body: { webstoreId: store, sku, unitPrice },
  });
}

async function newCart(store: string): Promise<string> {
  const created = await buyer('POST', `/webstores/${store}/carts`);
  expect(created.status).toBe(201);
  return created.body.cartId as string;
}

const cartDoc = (cartId: string) => env.carts.findOne({ _id: cartId });
const getCart = async (cartId: string) => (await buyer('GET', `/carts/${cartId}`)).body;
const handleOf = (cartId: string) => env.client.workflow.getHandle(checkoutWorkflowId(cartId));

const stepsDone = (cartId: string) =>
  eventually(`the steps of ${cartId}`, async () => {
    const cart = await getCart(cartId);
    return cart.checkout?.state === 'Checkout Summary' ? cart : undefined;
  });

describe('admin routes', () => {
  test('PUT sets a price (one document per store and SKU, repeating it is the same), GET reads it, DELETE removes it and is idempotent', async () => {
    const store = await newStore();
    const path = `/webstores/${store}/prices/SKU-A`;
    const put = await admin('PUT', path, { unitPrice: 12.5 });
    expect(put).toMatchObject({ status: 200, body: { webstoreId: store, sku: 'SKU-A', unitPrice: 12.5 } });
    expect(Date.parse(put.body.updatedAt)).not.toBeNaN();
    expect((await admin('PUT', path, { unitPrice: 12.5 })).status).toBe(200);
    expect((await admin('PUT', path, { unitPrice: 14 })).body.unitPrice).toBe(14);
    expect(await prices().find({ webstoreId: store }).toArray()).toEqual([
      { _id: `${store}|SKU-A`, webstoreId: store, sku: 'SKU-A', unitPrice: 14, updatedAt: expect.any(Date) },
    ]);
    expect(await admin('GET', path)).toMatchObject({ status: 200, body: { webstoreId: store, sku: 'SKU-A', unitPrice: 14 } });

    expect(await admin('DELETE', path)).toMatchObject({ status: 200, body: { webstoreId: store, sku: 'SKU-A', removed: true } });
    expect(await admin('DELETE', path)).toMatchObject({ status: 200, body: { removed: false } });
    expect(await prices().countDocuments({ webstoreId: store })).toBe(0);
    expect(await admin('GET', path)).toMatchObject({ status: 404, body: [{ errorCode: 'NOT_FOUND', message: `Webstore ${store} has no price for SKU-A.` }] });
  });

  test('a price of 0 and SKUs with / . : - are fine; prices of two stores are apart', async () => {
    const [one, two] = [await newStore(), await newStore()];
    await setPrice(one, 'A/1.x:y-z', 0);
    await setPrice(two, 'A/1.x:y-z', 3);
    expect((await admin('GET', `/webstores/${one}/prices/${encodeURIComponent('A/1.x:y-z')}`)).body.unitPrice).toBe(0);
    expect((await admin('GET', `/webstores/${two}/prices/${encodeURIComponent('A/1.x:y-z')}`)).body.unitPrice).toBe(3);
  });

  test('an unknown store is 404 NOT_FOUND on PUT, GET and DELETE, and nothing is written', async () => {
    const store = `store-missing-${randomUUID().slice(0, 8)}`;
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await admin(method, `/webstores/${store}/prices/SKU-A`, method === 'PUT' ? { unitPrice: 1 } : undefined);
      expect(res).toMatchObject({ status: 404, body: [{ errorCode: 'NOT_FOUND', message: `Webstore ${store} was not found.` }] });
    }
    expect(await prices().countDocuments({ webstoreId: store })).toBe(0);
  });

  test('without a token 401, with a service token 403; nothing is written', async () => {
    const store = await newStore();
    const path = `/webstores/${store}/prices/SKU-A`;
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const body = method === 'PUT' ? { unitPrice: 1 } : undefined;
      expect(await admin(method, path, body, null)).toMatchObject({ status: 401, body: [{ errorCode: 'UNAUTHENTICATED' }] });
      expect(await admin(method, path, body, SERVICE_TOKEN)).toMatchObject({ status: 403, body: [{ errorCode: 'INSUFFICIENT_ACCESS' }] });
    }
    expect(await prices().countDocuments({ webstoreId: store })).toBe(0);
  });

  test.each([
    ['no body', undefined],
    ['no unitPrice', {}],
    ['a negative price', { unitPrice: -1 }],
    ['a price over the bound of item prices', { unitPrice: 1e9 + 1 }],
    ['a string', { unitPrice: '12.5' }],
    ['an unknown field', { unitPrice: 1, currency: 'EUR' }],
    ['an operator object', { unitPrice: { $gt: 0 } }],
  ])('a body with %s is 400 INVALID_INPUT and writes nothing', async (_what, body) => {
    const store = await newStore();
    expect(await admin('PUT', `/webstores/${store}/prices/SKU-A`, body)).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_INPUT' }] });
    expect(await prices().countDocuments({ webstoreId: store })).toBe(0);
  });

  test('a malformed store id or SKU is 400 INVALID_INPUT', async () => {
    expect((await admin('PUT', `/webstores/${encodeURIComponent('bad|id')}/prices/SKU-A`, { unitPrice: 1 })).body).toMatchObject([
      { errorCode: 'INVALID_INPUT' },
    ]);
    expect((await admin('GET', `/webstores/store-1/prices/${encodeURIComponent('-sku')}`)).body).toMatchObject([{ errorCode: 'INVALID_INPUT' }]);
  });
});

describe('store settings on PUT /webstores/:webstoreId', () => {
  test('answers checkoutPolicy and pricing: defaults when left out (also when set before), the values given otherwise; stored on the store', async () => {
    const store = `store-settings-${randomUUID().slice(0, 8)}`;
    expect(await admin('PUT', `/webstores/${store}`, { name: 'S' })).toMatchObject({
      status: 200,
      body: { webstoreId: store, name: 'S', checkoutPolicy: 'cancel', pricing: 'caller' },
    });
    expect(await admin('PUT', `/webstores/${store}`, { name: 'S', checkoutPolicy: 'recalculate', pricing: 'book' })).toMatchObject({
      status: 200,
      body: { checkoutPolicy: 'recalculate', pricing: 'book' },
    });
    expect(await env.mongo.db.collection(COLLECTIONS.webstores).findOne({ _id: store as never })).toMatchObject({
      checkoutPolicy: 'recalculate',
      pricing: 'book',
    });
    // PUT replaces: a setting left out returns to its default.
    expect((await admin('PUT', `/webstores/${store}`, { name: 'S' })).body).toMatchObject({ checkoutPolicy: 'cancel', pricing: 'caller' });
    expect(await env.mongo.db.collection(COLLECTIONS.webstores).findOne({ _id: store as never })).toMatchObject({
      checkoutPolicy: 'cancel',
      pricing: 'caller',
    });
  });

  test.each([[{ checkoutPolicy: 'keep' }], [{ pricing: 'BOOK' }], [{ pricing: null }], [{ checkoutPolicy: 1 }]])(
    '%j is 400 INVALID_INPUT and leaves the store as it was',
    async (bad) => {
      const store = `store-settings-${randomUUID().slice(0, 8)}`;
      expect((await admin('PUT', `/webstores/${store}`, { name: 'S', pricing: 'book' })).status).toBe(200);
      expect(await admin('PUT', `/webstores/${store}`, { name: 'S', ...bad })).toMatchObject({ status: 400, body: [{ errorCode: 'INVALID_INPUT' }] });
      expect(await env.mongo.db.collection(COLLECTIONS.webstores).findOne({ _id: store as never })).toMatchObject({
        checkoutPolicy: 'cancel',
        pricing: 'book',
      });
    },
  );
});

describe('a store that prices from its book', () => {
  test("add item: a caller's unitPrice is ignored, the line has the book's price; an add of a line already there takes today's price", async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 12.5);
      const cartId = await newCart(store);
      const added = await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 2, unitPrice: 0.01 });
      expect(added).toMatchObject({ status: 201, body: { items: [{ sku: 'SKU-A', quantity: 2, unitPrice: 12.5 }] } });
      expect((await cartDoc(cartId))?.items).toEqual([{ sku: 'SKU-A', quantity: 2, unitPrice: 12.5 }]);

      await setPrice(store, 'SKU-A', 13);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 1 })).status).toBe(201);
      expect((await cartDoc(cartId))?.items).toEqual([{ sku: 'SKU-A', quantity: 3, unitPrice: 13 }]);
    });
  });

  test('add item without a price: 400 PRICE_NOT_FOUND before any workflow starts, the cart unchanged in MongoDB', async () => {
    const store = await newStore('book');
    await setPrice(store, 'SKU-A', 12.5);
    const cartId = await newCart(store);
    const before = await cartDoc(cartId);
    // No worker polls now: had a workflow been started for it, the answer would wait and be 202, not 400.
    const refused = await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-NONE', quantity: 1, unitPrice: 5 });
    expect(refused).toMatchObject({
      status: 400,
      body: [{ errorCode: 'PRICE_NOT_FOUND', message: `Webstore ${store} has no price for SKU-NONE in its price book.` }],
    });
    expect(await cartDoc(cartId)).toEqual(before);

    // The one item-change workflow of this cart is the accepted change that follows.
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 1 })).status).toBe(201);
    });
    const query = `WorkflowType = '${CART_ITEMS_WORKFLOW_TYPE}' AND CartId = '${cartId}'`;
    const listed = await eventually('the accepted change in visibility', async () => {
      const runs = [];
      for await (const run of env.client.workflow.list({ query })) runs.push(run);
      return runs.length > 0 ? runs : undefined;
    });
    expect(listed).toHaveLength(1);
    expect(listed[0].status.name).toBe('COMPLETED');
  });

  test('a Temporal-only caller (changeCartItems) is refused too: non-retryable PRICE_NOT_FOUND, nothing written', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      const cartId = await newCart(store);
      const before = await cartDoc(cartId);
      const requestId = `req-${randomUUID()}`;
      const err = await env.checkout.addItem(cartId, 'SKU-NONE', 1, { unitPrice: 5, requestId }).catch((e: unknown) => e);
      expect(findCheckoutError(err)).toMatchObject({ errorCode: 'PRICE_NOT_FOUND', details: { cartId, webstoreId: store, skus: ['SKU-NONE'] } });
      expect(await cartDoc(cartId)).toEqual(before);
      const history = await env.client.workflow.getHandle(cartItemsWorkflowId(cartId, requestId)).fetchHistory();
      const [change] = activityRuns(history).filter((r) => r.activityType === 'changeCartItems');
      expect(change.started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
      expect(change.failed?.activityTaskFailedEventAttributes?.failure).toMatchObject({
        message: `Webstore ${store} has no price for SKU-NONE in its price book.`,
        applicationFailureInfo: { type: 'PRICE_NOT_FOUND', nonRetryable: true },
      });
    });
  });

  test('a quantity set on a SKU without a price is refused; with a price it adds a priced line; a remove needs no price', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 2);
      const cartId = await newCart(store);
      expect(await buyer('PATCH', `/carts/${cartId}/items/SKU-NONE`, { quantity: 3 })).toMatchObject({ status: 400, body: [{ errorCode: 'PRICE_NOT_FOUND' }] });
      expect((await buyer('PATCH', `/carts/${cartId}/items/SKU-A`, { quantity: 3 })).status).toBe(200);
      expect((await cartDoc(cartId))?.items).toEqual([{ sku: 'SKU-A', quantity: 3, unitPrice: 2 }]);
      expect((await admin('DELETE', `/webstores/${store}/prices/SKU-A`)).status).toBe(200);
      expect((await buyer('DELETE', `/carts/${cartId}/items/SKU-A`)).status).toBe(200);
      expect((await cartDoc(cartId))?.items).toEqual([]);
    });
  });

  test('an add without a price while a checkout runs is refused without cancelling the checkout', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 4);
      const cartId = await newCart(store);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 1 })).status).toBe(201);
      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      const locked = await stepsDone(cartId);
      const err = await env.checkout.addItem(cartId, 'SKU-NONE', 1).catch((e: unknown) => e);
      expect(findCheckoutError(err)?.errorCode).toBe('PRICE_NOT_FOUND');
      const cart = await getCart(cartId);
      expect(cart).toMatchObject({ status: 'Checkout', version: locked.version, checkout: { sessionId: locked.checkout.sessionId } });
    });
  });

  test('checkout totals come from the book; a price changed after the add is what Confirm Price charges', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 12.5);
      await setPrice(store, 'SKU-B', 3);
      const cartId = await newCart(store);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 2, unitPrice: 1 })).status).toBe(201);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-B', quantity: 1 })).status).toBe(201);
      await setPrice(store, 'SKU-B', 4.25);

      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      await stepsDone(cartId);
      const doc = await cartDoc(cartId);
      expect(doc?.items).toEqual<CartItem[]>([
        { sku: 'SKU-A', quantity: 2, unitPrice: 12.5 },
        { sku: 'SKU-B', quantity: 1, unitPrice: 4.25 },
      ]);
      // 2 × 12.50 + 4.25 = 29.25; shipping 500 + 50 × 3; tax 8 %.
      expect(doc?.checkout?.totals).toEqual({ subtotal: 2925, shipping: 650, tax: 234, total: 3809 });
      const summaries = scheduledActivities(await handleOf(cartId).fetchHistory()).map((a) => a.summary);
      expect(summaries).toContain(`step Shipping Cost for cart ${cartId}, after Confirm Price via builtin: subtotal 2925 (2 lines from the price book)`);

      expect((await buyer('POST', `/carts/${cartId}/checkouts/active/orders`)).status).toBe(201);
      expect((await cartDoc(cartId))?.status).toBe('Closed');
    });
  });

  test('a price deleted after the add fails the checkout with PRICE_NOT_FOUND at Confirm Price, the cart Active again', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 12.5);
      await setPrice(store, 'SKU-B', 3);
      const cartId = await newCart(store);
      for (const sku of ['SKU-A', 'SKU-B']) expect((await buyer('POST', `/carts/${cartId}/items`, { sku, quantity: 1 })).status).toBe(201);
      expect((await admin('DELETE', `/webstores/${store}/prices/SKU-B`)).body.removed).toBe(true);

      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      const failure = findCheckoutError(await workflowFailure(handleOf(cartId)));
      expect(failure).toMatchObject({ errorCode: 'PRICE_NOT_FOUND', message: 'Confirm Price via builtin: no price for SKU-B in the price book' });
      expect(failure?.details).toMatchObject({ step: 'Confirm Price', provider: 'builtin', webstoreId: store, skus: ['SKU-B'] });
      const doc = await cartDoc(cartId);
      expect(doc).toMatchObject({ status: 'Active', archivedSessionCount: 1 });
      expect(doc?.checkout).toBeFalsy();
      expect(doc?.archivedSessions?.at(-1)).toMatchObject({ backgroundOperation: { status: 'Canceled' }, cancelReason: 'STEP_FAILED' });
      // The lines keep the prices they had: a refused step writes nothing to them.
      expect(doc?.items).toEqual([
        { sku: 'SKU-A', quantity: 1, unitPrice: 12.5 },
        { sku: 'SKU-B', quantity: 1, unitPrice: 3 },
      ]);
      const confirm = activityRuns(await handleOf(cartId).fetchHistory()).find(
        (r) => r.activityType === 'runCheckoutStep' && (r.input[0] as { step: string }).step === 'Confirm Price',
      );
      expect(confirm?.started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
      expect(confirm?.failed?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo).toMatchObject({
        type: 'PRICE_NOT_FOUND',
        nonRetryable: true,
      });
    });
  });

  test('a cart another service wrote without prices is priced at Confirm Price from the book', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 7);
      const cartId = `cart-foreign-${randomUUID()}`;
      await env.carts.insertOne({ _id: cartId, status: 'Active', webstoreId: store, accountId: 'acct-1', items: [{ sku: 'SKU-A', quantity: 2 }], version: 0 });
      await env.checkout.startCheckout(cartId);
      await stepsDone(cartId);
      const doc = await cartDoc(cartId);
      expect(doc?.items).toEqual([{ sku: 'SKU-A', quantity: 2, unitPrice: 7 }]);
      expect(doc?.checkout?.totals?.subtotal).toBe(1400);
    });
  });

  test("the store's http Confirm Price provider wins over its book", async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('book');
      await setPrice(store, 'SKU-A', 12.5);
      const secret = 'store-secret-book';
      const p = await TestProvider.start(secret, () => ({ status: 200, json: { prices: { 'SKU-A': 9 } } }));
      providers.push(p);
      expect((await admin('PUT', `/webstores/${store}/integrations/ConfirmPrice`, { type: 'http', url: p.url, secret })).status).toBe(200);
      const cartId = await newCart(store);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 2 })).status).toBe(201);
      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      await stepsDone(cartId);
      // The provider was asked with the line as the book priced it, and its answer is what the cart charges.
      expect(p.calls[0].body.items).toEqual([{ sku: 'SKU-A', quantity: 2, unitPrice: 12.5 }]);
      const doc = await cartDoc(cartId);
      expect(doc?.items).toEqual([{ sku: 'SKU-A', quantity: 2, unitPrice: 9 }]);
      expect(doc?.checkout?.totals?.subtotal).toBe(1800);
    });
  });
});

describe('a store without pricing: book', () => {
  test("keeps today's behaviour: the caller's prices (or the default), whatever its book holds", async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore('caller');
      await setPrice(store, 'SKU-A', 99);
      const cartId = await newCart(store);
      expect(await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-A', quantity: 2, unitPrice: 12.5 })).toMatchObject({
        status: 201,
        body: { items: [{ sku: 'SKU-A', quantity: 2, unitPrice: 12.5 }] },
      });
      // No price anywhere: accepted, the line without a price (the builtin default, 10.00).
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-NONE', quantity: 1 })).status).toBe(201);
      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      await stepsDone(cartId);
      const doc = await cartDoc(cartId);
      expect(doc?.items).toEqual([
        { sku: 'SKU-A', quantity: 2, unitPrice: 12.5 },
        { sku: 'SKU-NONE', quantity: 1 },
      ]);
      expect(doc?.checkout?.totals?.subtotal).toBe(3500);
      const summaries = scheduledActivities(await handleOf(cartId).fetchHistory()).map((a) => a.summary);
      expect(summaries).toContain(`step Shipping Cost for cart ${cartId}, after Confirm Price via builtin: subtotal 3500`);
    });
  });
});

/**
 * Store integrations (issue 15) on the real stack: a store registers http providers for its checkout
 * steps through the admin routes, and the checkout calls them. The providers are local node:http
 * servers (test/harness/provider.ts) that check each call's signature. Outcomes: the cart through
 * `GET /carts/:id`, the workflow's result and history, what each provider received.
 */
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCheckoutActivities } from '../activities/checkout';
import { IntegrationStore } from '../src/db';
import { randomUUID } from 'node:crypto';
import { COLLECTIONS, checkoutWorkflowId, type IntegrationStep } from '../src/contract';
import { findCheckoutError } from '../src/contract/failures';
import { eventually, setupTestEnv, workflowFailure, type TestEnv } from './harness/env';
import { activityRuns, scheduledActivities, summaryOf } from './harness/history';
import { ADMIN_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';
import { TestProvider, type Reply } from './harness/provider';

let env: TestEnv;
let api: RunningTestApi;
const providers: TestProvider[] = [];

beforeAll(async () => {
  env = await setupTestEnv('integrations');
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
});
afterAll(async () => {
  await api?.close();
  for (const p of providers) await p.close();
  await env?.close();
});

const SECRET = 'store-secret-4f1c';

async function provider(respond: (call: { n: number; body: { step: string } }) => Reply, secret = SECRET): Promise<TestProvider> {
  const p = await TestProvider.start(secret, respond);
  providers.push(p);
  return p;
}

const admin = (method: string, path: string, body?: unknown, token: string = ADMIN_TOKEN) => call(api.base, path, { method, token, account: null, body });

/** A store of this test only (providers are per store) with buyer acct-1. */
async function newStore(): Promise<string> {
  const store = `store-integ-${randomUUID().slice(0, 8)}`;
  await setupDirectory(api.base, store, ['acct-1']);
  return store;
}

async function register(store: string, step: IntegrationStep, url: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await admin('PUT', `/webstores/${store}/integrations/${step}`, { type: 'http', url, secret: SECRET, ...extra });
  expect(res).toMatchObject({ status: 200, body: { webstoreId: store, step, type: 'http', url, secretSet: true } });
}

/** A cart of the store with SKU-1 ×2 at 10.00 and SKU-2 ×1 at 5.00, in checkout. */
async function cartInCheckout(store: string): Promise<string> {
  const created = await call(api.base, `/webstores/${store}/carts`, { method: 'POST' });
  expect(created.status).toBe(201);
  const cartId = created.body.cartId as string;
  for (const item of [
    { sku: 'SKU-1', quantity: 2, unitPrice: 10 },
    { sku: 'SKU-2', quantity: 1, unitPrice: 5 },
  ]) {
    expect((await call(api.base, `/carts/${cartId}/items`, { method: 'POST', body: item })).status).toBe(201);
  }
  expect((await call(api.base, `/carts/${cartId}/checkouts`, { method: 'POST' })).status).toBe(202);
  return cartId;
}

const getCart = async (cartId: string) => (await call(api.base, `/carts/${cartId}`)).body;

/** Waits until every background step has completed: the cart's session state is the last step's. */
const stepsDone = (cartId: string) =>
  eventually(`the steps of ${cartId}`, async () => {
    const cart = await getCart(cartId);
    return cart.checkout?.state === 'Checkout Summary' ? cart : undefined;
  });

const handleOf = (cartId: string) => env.client.workflow.getHandle(checkoutWorkflowId(cartId));

async function failureOf(cartId: string) {
  return findCheckoutError(await workflowFailure(handleOf(cartId)));
}

/** The attempts of one step's activity: the attempt that started last, and the failure before it. */
async function stepRun(cartId: string, state: string) {
  const history = await handleOf(cartId).fetchHistory();
  const run = activityRuns(history).find((r) => r.activityType === 'runCheckoutStep' && (r.input[0] as { step: string }).step === state);
  return run!;
}

test('the answers of http providers flow into checkout.totals; each outcome is in the history and the current details', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    const p = await provider(({ body }) => {
      switch (body.step) {
        case 'Inventory':
          return { status: 200, json: { available: true } };
        case 'ConfirmPrice':
          return { status: 200, json: { prices: { 'SKU-1': 12.5, 'SKU-2': 3 } } };
        case 'ShippingCost':
          return { status: 200, json: { shipping: 650 } };
        default:
          return { status: 200, json: { tax: 777 } };
      }
    });
    for (const step of ['Inventory', 'ConfirmPrice', 'ShippingCost', 'Taxes'] as const) await register(store, step, p.url);
    const cartId = await cartInCheckout(store);

    const cart = await stepsDone(cartId);
    expect(cart.checkout.totals).toEqual({ subtotal: 2800, shipping: 650, tax: 777, total: 4227 });
    // Confirm Price repriced every line.
    expect(cart.items).toEqual([
      { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 },
      { sku: 'SKU-2', quantity: 1, unitPrice: 3 },
    ]);

    // One signed call per step, in order, each with the cart as it stood.
    expect(p.calls.map((c) => [c.body.step, c.signatureOk])).toEqual([
      ['Inventory', true],
      ['ConfirmPrice', true],
      ['ShippingCost', true],
      ['Taxes', true],
    ]);
    expect(p.calls[0].body).toEqual({
      step: 'Inventory',
      cartId,
      webstoreId: store,
      accountId: 'acct-1',
      items: [
        { sku: 'SKU-1', quantity: 2, unitPrice: 10 },
        { sku: 'SKU-2', quantity: 1, unitPrice: 5 },
      ],
      totals: { subtotal: 2500 },
    });
    expect(p.calls[3].body).toMatchObject({ items: [{ unitPrice: 12.5 }, { unitPrice: 3 }], totals: { subtotal: 2800, shipping: 650 } });
    expect(p.calls[3].idempotencyKey).toBe(`${cart.checkout.sessionId}:Taxes`);

    // Each step's outcome names the step, its provider and its answer: in the summary of the command after it.
    const summaries = scheduledActivities(await handleOf(cartId).fetchHistory()).map((a) => a.summary);
    expect(summaries).toEqual(
      expect.arrayContaining([
        `step Confirm Price for cart ${cartId}, after Inventory via http: available`,
        `step Shipping Cost for cart ${cartId}, after Confirm Price via http: subtotal 2800 (2 lines repriced)`,
        `step Taxes for cart ${cartId}, after Shipping Cost via http: 650`,
        `step Checkout Summary for cart ${cartId}, after Taxes via http: 777`,
      ]),
    );
    // The cart shows the last step's totals as soon as its activity wrote them; the lease timer comes with the workflow task after.
    const lease = await eventually('the lease timer', async () => (await handleOf(cartId).fetchHistory()).events!.find((e) => e.timerStartedEventAttributes));
    expect(summaryOf(lease)).toMatch(/, after Checkout Summary via builtin: total 4227$/);
    const { currentDetails } = await handleOf(cartId).query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(currentDetails).toContain(
      '**steps** Inventory via http: available · Confirm Price via http: subtotal 2800 (2 lines repriced) · Shipping Cost via http: 650 · Taxes via http: 777 · Checkout Summary via builtin: total 4227',
    );

    expect((await call(api.base, `/carts/${cartId}/checkouts/active/orders`, { method: 'POST' })).status).toBe(201);
    expect((await getCart(cartId)).status).toBe('Closed');
  });
});

test('a refusing inventory ends the checkout with INSUFFICIENT_INVENTORY and an Active cart, without a retry', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    const p = await provider(() => ({ status: 200, json: { available: false, unavailable: ['SKU-2'] } }));
    await register(store, 'Inventory', p.url);
    const cartId = await cartInCheckout(store);

    const failure = await failureOf(cartId);
    expect(failure).toMatchObject({ errorCode: 'INSUFFICIENT_INVENTORY', message: 'Inventory via http: unavailable SKU-2' });
    expect(failure?.details).toMatchObject({ unavailable: ['SKU-2'], step: 'Inventory', provider: 'http' });
    const cart = await getCart(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.checkout).toBeUndefined();
    expect(cart.archivedSessionCount).toBe(1);
    const doc = await env.carts.findOne({ _id: cartId });
    expect(doc?.archivedSessions?.at(-1)).toMatchObject({ isArchived: true, backgroundOperation: { status: 'Canceled' }, cancelReason: 'STEP_FAILED' });
    expect(p.calls).toHaveLength(1);
    const inventory = await stepRun(cartId, 'Inventory');
    expect(inventory.failed?.activityTaskFailedEventAttributes?.failure).toMatchObject({
      message: 'Inventory via http: unavailable SKU-2',
      applicationFailureInfo: { type: 'INSUFFICIENT_INVENTORY', nonRetryable: true },
    });
  });
});

test('a provider answering 500 twice then 200 is retried and succeeds', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    const p = await provider(({ n }) => (n <= 2 ? { status: 500, json: { message: 'down' } } : { status: 200, json: { tax: 123 } }));
    await register(store, 'Taxes', p.url);
    const cartId = await cartInCheckout(store);

    const cart = await stepsDone(cartId);
    expect(cart.checkout.totals).toMatchObject({ subtotal: 2500, tax: 123, total: 2500 + cart.checkout.totals.shipping + 123 });
    expect(p.calls.map((c) => c.signatureOk)).toEqual([true, true, true]);
    // Every attempt is the same call: one idempotency key.
    expect(new Set(p.calls.map((c) => c.idempotencyKey)).size).toBe(1);
    const taxes = await stepRun(cartId, 'Taxes');
    expect(taxes.started?.activityTaskStartedEventAttributes).toMatchObject({
      attempt: 3,
      lastFailure: { message: 'Taxes via http: answered 500', applicationFailureInfo: { type: 'INTEGRATION_UNAVAILABLE', nonRetryable: false } },
    });
  });
});

test('a provider that hangs is cut off by its timeout and retried', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    const p = await provider(({ n }) => (n === 1 ? 'hold' : { status: 200, json: { shipping: 999 } }));
    await register(store, 'ShippingCost', p.url, { timeoutMs: 300 });
    const cartId = await cartInCheckout(store);

    const cart = await stepsDone(cartId);
    expect(cart.checkout.totals).toMatchObject({ shipping: 999 });
    expect(p.calls).toHaveLength(2);
    // The first call was given up on by the checkout, not answered.
    expect(p.calls[0]).toMatchObject({ answered: false, abandoned: true });
    const shipping = await stepRun(cartId, 'Shipping Cost');
    expect(shipping.started?.activityTaskStartedEventAttributes).toMatchObject({
      attempt: 2,
      lastFailure: { message: 'Shipping Cost via http: no answer within 300 ms' },
    });
  });
});

test('a slow provider is interrupted by a cancel (add to cart): the call is aborted and the cart ends Active', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    const p = await provider(() => 'hold');
    await register(store, 'Taxes', p.url, { timeoutMs: 60000 });
    const cartId = await cartInCheckout(store);
    await eventually('the tax call', async () => (p.calls.length > 0 ? true : undefined));

    const added = await call(api.base, `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-3', quantity: 1 } });
    expect(added).toMatchObject({ status: 201, body: { status: 'Active', canceledCheckout: true } });
    expect(await handleOf(cartId).result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADD_TO_CART' } });
    const cart = await getCart(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.items.map((i: { sku: string }) => i.sku)).toEqual(['SKU-1', 'SKU-2', 'SKU-3']);
    // The call itself was aborted (through the activity's cancellation), not left to its minute.
    await eventually('the tax call to be aborted', async () => (p.calls[0].abandoned ? true : undefined));
    expect(p.calls).toHaveLength(1);
    expect(p.calls[0].answered).toBe(false);
  });
});

test('a call with a wrong signature is rejected by the provider: the checkout fails with INTEGRATION_REFUSED', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const store = await newStore();
    // The provider checks with another secret than the one the store registered.
    const p = await provider(() => ({ status: 200, json: { shipping: 1 } }), 'the-provider-s-own-secret');
    await register(store, 'ShippingCost', p.url);
    const cartId = await cartInCheckout(store);

    const failure = await failureOf(cartId);
    expect(failure).toMatchObject({ errorCode: 'INTEGRATION_REFUSED', message: 'Shipping Cost via http: refused with 401 ({"message":"bad signature"})' });
    expect(p.calls).toEqual([expect.objectContaining({ signatureOk: false, answered: true })]);
    expect((await getCart(cartId)).status).toBe('Active');
  });
});

describe('the step activity alone (MockActivityEnvironment)', () => {
  test('heartbeats while the provider thinks; a cancel aborts the call and leaves the step unfinished', async () => {
    const store = `store-integ-${randomUUID().slice(0, 8)}`;
    const p = await provider(() => 'hold');
    await new IntegrationStore(env.mongo.db).put(store, 'Taxes', { type: 'http', url: p.url, secret: SECRET, timeoutMs: 60000 });
    const cartId = `cart-${randomUUID()}`;
    const sessionId = randomUUID();
    await env.carts.insertOne({ _id: cartId, status: 'Active', webstoreId: store, accountId: 'acct-1', items: [{ sku: 'SKU-1', quantity: 1 }], version: 0 });
    const activities = createCheckoutActivities({ carts: env.carts, client: env.client });
    await new MockActivityEnvironment().run(activities.lockCartForCheckout, { cartId, sessionId, workflowId: checkoutWorkflowId(cartId) });

    const mock = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    mock.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const step = mock.run(activities.runCheckoutStep, { cartId, sessionId, step: 'Taxes' as const }).catch((e: unknown) => e);
    await eventually('two heartbeats during the call', async () => (p.calls.length === 1 && heartbeats.length >= 2 ? true : undefined));
    expect(heartbeats[0]).toEqual({ step: 'Taxes', provider: 'http', waitingMs: expect.any(Number) });
    mock.cancel();
    expect(await step).toBeInstanceOf(CancelledFailure);
    await eventually('the call to be aborted', async () => (p.calls[0].abandoned ? true : undefined));
    const doc = await env.carts.findOne({ _id: cartId });
    expect(doc?.checkout).toMatchObject({ nextState: 'Taxes', isProcessing: true });
    expect(doc?.checkout?.totals).toBeUndefined();
  });
});

describe('the admin routes', () => {
  test('PUT registers, GET reads without the secret, DELETE returns the step to builtin', async () => {
    const store = await newStore();
    const path = `/webstores/${store}/integrations/Taxes`;
    expect(await admin('GET', path)).toMatchObject({ status: 200, body: { webstoreId: store, step: 'Taxes', type: 'builtin' } });
    const put = await admin('PUT', path, { type: 'http', url: 'https://tax.example.com/v1/quote', secret: 's3cret' });
    expect(put).toMatchObject({ status: 200, body: { type: 'http', url: 'https://tax.example.com/v1/quote', timeoutMs: 5000, secretSet: true } });
    const got = await admin('GET', path);
    expect(got.body).toEqual({
      webstoreId: store,
      step: 'Taxes',
      type: 'http',
      url: 'https://tax.example.com/v1/quote',
      timeoutMs: 5000,
      secretSet: true,
      updatedAt: expect.any(String),
    });
    expect(JSON.stringify(got.body)).not.toContain('s3cret');
    expect(await env.mongo.db.collection(COLLECTIONS.storeIntegrations).findOne({ _id: `${store}|Taxes` as never })).toMatchObject({ secret: 's3cret' });

    expect(await admin('DELETE', path)).toMatchObject({ status: 200, body: { type: 'builtin' } });
    expect((await admin('GET', path)).body).toEqual({ webstoreId: store, step: 'Taxes', type: 'builtin' });
    expect(await env.mongo.db.collection(COLLECTIONS.storeIntegrations).countDocuments({ webstoreId: store })).toBe(0);
    // PUT of builtin is the same as DELETE.
    await admin('PUT', path, { type: 'http', url: 'http://127.0.0.1:9/x', secret: 's' });
    expect(await admin('PUT', path, { type: 'builtin' })).toMatchObject({ status: 200, body: { type: 'builtin' } });
  });

  test.each([
    ['an unknown step', 'Discounts', { type: 'http', url: 'https://a.example', secret: 's' }, 400, 'INVALID_INPUT', /step/],
    ['no type', 'Taxes', { url: 'https://a.example', secret: 's' }, 400, 'INVALID_INPUT', /type must be/],
    ['an unknown type', 'Taxes', { type: 'grpc', url: 'https://a.example', secret: 's' }, 400, 'INVALID_INPUT', /type must be/],
    ['no url', 'Taxes', { type: 'http', secret: 's' }, 400, 'INVALID_INPUT', /url must be/],
    ['an ftp url', 'Taxes', { type: 'http', url: 'ftp://a.example/x', secret: 's' }, 400, 'INVALID_INPUT', /url must be/],
    ['a relative url', 'Taxes', { type: 'http', url: '/tax', secret: 's' }, 400, 'INVALID_INPUT', /url must be/],
    ['a url with credentials', 'Taxes', { type: 'http', url: 'https://u:p@a.example', secret: 's' }, 400, 'INVALID_INPUT', /credentials/],
    ['no secret', 'Taxes', { type: 'http', url: 'https://a.example' }, 400, 'INVALID_INPUT', /secret/],
    ['an empty secret', 'Taxes', { type: 'http', url: 'https://a.example', secret: '' }, 400, 'INVALID_INPUT', /secret/],
    ['a timeout of 0', 'Taxes', { type: 'http', url: 'https://a.example', secret: 's', timeoutMs: 0 }, 400, 'INVALID_INPUT', /timeoutMs/],
    ['a timeout of 2 min', 'Taxes', { type: 'http', url: 'https://a.example', secret: 's', timeoutMs: 120000 }, 400, 'INVALID_INPUT', /timeoutMs/],
    ['a timeout as text', 'Taxes', { type: 'http', url: 'https://a.example', secret: 's', timeoutMs: '5000' }, 400, 'INVALID_INPUT', /timeoutMs/],
    ['an unknown field', 'Taxes', { type: 'http', url: 'https://a.example', secret: 's', retries: 3 }, 400, 'INVALID_INPUT', /unknown field retries/],
    ['builtin with a url', 'Taxes', { type: 'builtin', url: 'https://a.example' }, 400, 'INVALID_INPUT', /builtin provider takes no url/],
    ['an operator object', 'Taxes', { type: 'http', url: { $ne: null }, secret: 's' }, 400, 'INVALID_INPUT', /url must be/],
  ])('PUT with %s', async (_what, step, body, status, code, message) => {
    const store = await newStore();
    const res = await admin('PUT', `/webstores/${store}/integrations/${step}`, body);
    expect(res).toMatchObject({ status, body: [{ errorCode: code, message: expect.stringMatching(message) }] });
    expect(await env.mongo.db.collection(COLLECTIONS.storeIntegrations).countDocuments({ webstoreId: store })).toBe(0);
  });

  test('a service token is refused (403) and an unknown store is NOT_FOUND', async () => {
    const store = await newStore();
    const body = { type: 'http', url: 'https://a.example', secret: 's' };
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const refused = await call(api.base, `/webstores/${store}/integrations/Taxes`, { method, account: null, body: method === 'PUT' ? body : undefined });
      expect(refused).toMatchObject({ status: 403, body: [{ errorCode: 'INSUFFICIENT_ACCESS' }] });
      const unknown = await admin(method, `/webstores/no-such-store-${randomUUID()}/integrations/Taxes`, method === 'PUT' ? body : undefined);
      expect(unknown).toMatchObject({ status: 404, body: [{ errorCode: 'NOT_FOUND' }] });
    }
  });
});

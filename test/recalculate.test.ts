/**
 * The store's checkout policy end to end, through the HTTP API on the real stack: under `cancel` an
 * item change cancels the checkout (as always); under `recalculate` it goes through the running
 * checkout (the recalculateCheckout Update), the cart stays in Checkout under the same session, the
 * steps from Confirm Price on run again (a running one is interrupted), and the order uses the new
 * totals. This file has a database of its own (its stores' policies are its own).
 */
import { Context } from '@temporalio/activity';
import { WorkflowUpdateStage } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createCheckoutActivities } from '../activities/checkout';
import { main } from '../src/cli/main';
import type { CartItemsResult } from '../src/contract';
import { CANCEL_SIGNAL_NAME, RECALCULATE_UPDATE_NAME, checkoutWorkflowId, type BackgroundStep, type CartItemsRequest, type StepInput } from '../src/contract';
import { placeOrderUpdate } from '../src/contract/messages';
import { CartRepository, type CartDoc } from '../src/db';
import { decideRecalculation } from '../src/db/cart-transitions';
import { checkoutDetails, stepSummary } from '../workflows/summaries';
import { createCheckoutWorker } from '../src/worker';
import { sessionDoc } from './harness/docs';
import { eventually, setupTestEnv, type TestEnv } from './harness/env';
import { eventsWith, runsOf, scheduledActivities, signalsOf } from './harness/history';
import { ADMIN_TOKEN, call, startTestApi, type RunningTestApi } from './harness/http';
import { recordHistory } from './harness/record';

let env: TestEnv;
let api: RunningTestApi;
const CANCEL_STORE = 'store-cancel';
const RECALC_STORE = 'store-recalc';

beforeAll(async () => {
  env = await setupTestEnv('recalculate', { ownDatabase: true });
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
  const admin = (path: string, body?: unknown) => call(api.base, path, { method: 'PUT', token: ADMIN_TOKEN, account: null, body });
  expect((await admin(`/webstores/${CANCEL_STORE}`, { name: 'Cancelling store' })).body).toMatchObject({ checkoutPolicy: 'cancel' });
  expect((await admin(`/webstores/${RECALC_STORE}`, { name: 'Recalculating store', checkoutPolicy: 'recalculate' })).body).toMatchObject({
    checkoutPolicy: 'recalculate',
  });
  expect((await admin('/accounts/acct-1', { name: 'Acme', active: true })).status).toBe(200);
  for (const store of [CANCEL_STORE, RECALC_STORE]) expect((await admin(`/webstores/${store}/members/acct-1`)).status).toBe(200);
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

/**
 * Steps held on purpose: a cart's step (of the checkout's first round only, before any
 * recalculation) waits, heartbeating, until the test releases it or the workflow cancels it.
 */
const held = new Map<string, { step: BackgroundStep; released: boolean }>();
async function holdSteps(input: StepInput): Promise<void> {
  const hold = held.get(input.cartId);
  if (!hold || hold.step !== input.step || input.recalculation) return;
  const ctx = Context.current();
  while (!hold.released) {
    ctx.heartbeat({ held: input.step });
    await ctx.sleep(200);
  }
}

async function withWorker(fn: () => Promise<void>): Promise<void> {
  const w = await createCheckoutWorker({
    temporal: env.temporal,
    mongoUri: env.mongoUri,
    mongoDb: env.mongoDb,
    taskQueue: env.taskQueue,
    workflowBundle: env.bundle,
    beforeStep: holdSteps,
  });
  try {
    await w.worker.runUntil(fn);
  } finally {
    await w.close();
  }
}

const buyer = (path: string, method = 'GET', body?: unknown, key?: string) =>
  call(api.base, path, { method, ...(body ? { body } : {}), ...(key ? { key } : {}) });
const cartOf = async (cartId: string) => (await buyer(`/carts/${cartId}`)).body;
/** The cart document in MongoDB, with its archived sessions (the API shows only their count). */
const docOf = async (cartId: string) => (await env.carts.findOne({ _id: cartId }))!;
/** The names of the Updates a history shows accepted, in order. */
const updatesAccepted = (history: Awaited<ReturnType<ReturnType<typeof handleOf>['fetchHistory']>>) =>
  eventsWith(history, 'workflowExecutionUpdateAcceptedEventAttributes').map(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name,
  );
const handleOf = (cartId: string, runId?: string) => env.client.workflow.getHandle(checkoutWorkflowId(cartId), runId);

/** A cart of `store` with 2 × SKU-1 at 12.50, and its checkout started: answers the session (run) id. */
async function cartInCheckout(store: string): Promise<{ cartId: string; sessionId: string }> {
  const created = await buyer(`/webstores/${store}/carts`, 'POST');
  expect(created.status).toBe(201);
  const cartId: string = created.body.cartId;
  expect((await buyer(`/carts/${cartId}/items`, 'POST', { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 })).status).toBe(201);
  const started = await buyer(`/carts/${cartId}/checkouts`, 'POST');
  expect(started.status).toBe(202);
  return { cartId, sessionId: started.body.runId };
}

/** The cart once its checkout has computed every total (state Checkout Summary), with the total asked for. */
function totalsReach(cartId: string, total: number) {
  return eventually(`cart ${cartId} to total ${total}`, async () => {
    const cart = await cartOf(cartId);
    return cart.checkout?.state === 'Checkout Summary' && cart.checkout?.totals?.total === total ? cart : undefined;
  });
}

// 2 × 12.50 = 2500; shipping 500 + 50 × 2 = 600; tax 8 % = 200.
const TOTAL_BEFORE = 3300;
// + 1 × 5.00: subtotal 3000; shipping 500 + 50 × 3 = 650; tax 240.
const TOTAL_AFTER = 3890;
const SKU_2 = { sku: 'SKU-2', quantity: 1, unitPrice: 5 };

test('policy cancel (the default): an item change during checkout cancels it, the cart is Active with the item', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(CANCEL_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    const res = await buyer(`/carts/${cartId}/items`, 'POST', SKU_2);
    expect(res).toMatchObject({ status: 201, body: { status: 'Active', canceledCheckout: true, recalculated: false } });
    const cart = await docOf(cartId);
    expect(cart).toMatchObject({
      status: 'Active',
      archivedSessions: [{ sessionId, backgroundOperation: { status: 'Canceled' }, cancelReason: 'ADD_TO_CART' }],
    });
    expect(cart.checkout).toBeUndefined();
    const history = await handleOf(cartId, sessionId).fetchHistory();
    expect(updatesAccepted(history)).not.toContain(RECALCULATE_UPDATE_NAME);
  });
});

test('policy recalculate: the change goes through the checkout, same session, steps from Confirm Price again, the order uses the new totals', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);

    const res = await buyer(`/carts/${cartId}/items`, 'POST', { ...SKU_2 }, `add-sku-2-${randomUUID()}`);
    expect(res).toMatchObject({ status: 201, body: { cartId, status: 'Checkout', canceledCheckout: false, recalculated: true } });
    expect(res.body.items).toEqual([{ sku: 'SKU-1', quantity: 2, unitPrice: 12.5 }, SKU_2]);

    const cart = await totalsReach(cartId, TOTAL_AFTER);
    expect(cart).toMatchObject({ status: 'Checkout', checkout: { sessionId, recalculations: 1, totals: { subtotal: 3000, shipping: 650, tax: 240 } } });
    expect((await docOf(cartId)).archivedSessions).toEqual([]);

    const order = await buyer(`/carts/${cartId}/checkouts/active/orders`, 'POST');
    expect(order).toMatchObject({ status: 201, body: { orderId: expect.stringMatching(/^order-/) } });
    const closed = await docOf(cartId);
    expect(closed).toMatchObject({ status: 'Closed', orderId: order.body.orderId });
    expect(closed.archivedSessions).toEqual([
      expect.objectContaining({
        sessionId,
        recalculations: 1,
        orderId: order.body.orderId,
        totals: { subtotal: 3000, shipping: 650, tax: 240, total: TOTAL_AFTER },
      }),
    ]);

    // The history: the Update accepted and completed, the change's activity, the steps from Confirm Price again with their summaries.
    const handle = handleOf(cartId, sessionId);
    expect(await handle.result()).toMatchObject({ outcome: 'ORDER_PLACED', orderId: order.body.orderId });
    const history = await handle.fetchHistory();
    // waitForLock is the start's (update-with-start); placeOrder the order's.
    expect(updatesAccepted(history)).toEqual(['waitForLock', RECALCULATE_UPDATE_NAME, 'placeOrder']);
    const completed = eventsWith(history, 'workflowExecutionUpdateCompletedEventAttributes');
    expect(completed).toHaveLength(3);
    expect(completed.every((e) => e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success)).toBe(true);
    const activities = scheduledActivities(history);
    const change = activities.findIndex((a) => a.activityType === 'applyItemChangeInCheckout');
    expect(activities[change].summary).toMatch(new RegExp(`^recalculation 1 of cart ${cartId}: add 1 × SKU-2, by .+; steps from Confirm Price run again$`));
    const after = activities.slice(change + 1).map((a) => a.summary ?? '');
    expect(after.slice(0, 4).map((s) => s.replace(/, after .*$/, ''))).toEqual(
      ['Confirm Price', 'Shipping Cost', 'Taxes', 'Checkout Summary'].map((step) => `step ${step} for cart ${cartId} (recalculation 1)`),
    );
    expect(activities.at(-1)?.activityType).toBe('placeOrder');
    await recordHistory('checkout-recalculated', handle);
  });
});

test('policy recalculate: a change while Confirm Price runs interrupts it; Inventory is not run again', async () => {
  await withWorker(async () => {
    const created = await buyer(`/webstores/${RECALC_STORE}/carts`, 'POST');
    const cartId: string = created.body.cartId;
    await buyer(`/carts/${cartId}/items`, 'POST', { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 });
    held.set(cartId, { step: 'Confirm Price', released: false });
    const sessionId: string = (await buyer(`/carts/${cartId}/checkouts`, 'POST')).body.runId;
    await eventually('Confirm Price to be running', async () => {
      const cart = await cartOf(cartId);
      return cart.checkout?.isProcessing && cart.checkout.nextState === 'Confirm Price' ? true : undefined;
    });

    const res = await buyer(`/carts/${cartId}/items/SKU-1`, 'PATCH', { quantity: 4 });
    expect(res).toMatchObject({
      status: 200,
      body: { status: 'Checkout', canceledCheckout: false, recalculated: true, items: [{ sku: 'SKU-1', quantity: 4 }] },
    });
    // 4 × 12.50 = 5000; shipping 500 + 200 = 700; tax 400.
    const cart = await totalsReach(cartId, 6100);
    expect(cart.checkout).toMatchObject({ sessionId, recalculations: 1 });

    const history = await handleOf(cartId, sessionId).fetchHistory();
    const steps = runsOf(history, 'runCheckoutStep').map((r) => ({
      step: (r.input[0] as StepInput).step,
      recalculation: (r.input[0] as StepInput).recalculation,
      r,
    }));
    const interrupted = steps.find((s) => s.step === 'Confirm Price' && !s.recalculation);
    expect(interrupted?.r.cancelRequested).toBe(true);
    expect(interrupted?.r.completed).toBeUndefined();
    expect(steps.filter((s) => s.step === 'Inventory')).toHaveLength(1);
    expect(steps.filter((s) => s.recalculation === 1).map((s) => s.step)).toEqual(['Confirm Price', 'Shipping Cost', 'Taxes', 'Checkout Summary']);

    expect((await buyer(`/carts/${cartId}/checkouts/active`, 'DELETE')).status).toBe(200);
  });
});

test('policy recalculate: the same Idempotency-Key again answers the same and applies the change once', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    const key = `add-${randomUUID()}`;
    const first = await buyer(`/carts/${cartId}/items`, 'POST', SKU_2, key);
    expect(first).toMatchObject({ status: 201, body: { status: 'Checkout', recalculated: true } });
    const again = await buyer(`/carts/${cartId}/items`, 'POST', SKU_2, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const cart = await totalsReach(cartId, TOTAL_AFTER);
    expect(cart.items).toEqual([{ sku: 'SKU-1', quantity: 2, unitPrice: 12.5 }, SKU_2]);
    expect(cart.checkout).toMatchObject({ sessionId, recalculations: 1 });
    await buyer(`/carts/${cartId}/checkouts/active`, 'DELETE');
  });
});

test('policy recalculate: a retried changeCartItems attempt (same request id) neither changes the cart twice nor recalculates twice', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    const activities = createCheckoutActivities({ carts: env.carts, client: env.client });
    const req: CartItemsRequest = { cartId, change: { op: 'add', ...SKU_2 }, requestId: `retry-${randomUUID()}`, requestedBy: 'buyer-7' };
    const attempt = (n: number) =>
      new MockActivityEnvironment({ attempt: n, activityId: '1' }, { logger: new DefaultLogger('ERROR') }).run(
        activities.changeCartItems,
        req,
      ) as Promise<CartItemsResult>;
    const first = await attempt(1);
    // Attempt 1's completion was lost: Temporal runs attempt 2 with the same request.
    const second = await attempt(2);
    expect(first).toMatchObject({ status: 'Checkout', canceledCheckout: false, recalculated: true });
    expect(second).toMatchObject({ status: 'Checkout', canceledCheckout: false, recalculated: true, items: first.items });
    const cart = await totalsReach(cartId, TOTAL_AFTER);
    expect(cart.checkout).toMatchObject({ sessionId, recalculations: 1 });
    const history = await handleOf(cartId, sessionId).fetchHistory();
    expect(runsOf(history, 'applyItemChangeInCheckout')).toHaveLength(1);
    await buyer(`/carts/${cartId}/checkouts/active`, 'DELETE');
  });
});

test('policy recalculate: an explicit cancel still cancels', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    expect((await buyer(`/carts/${cartId}/items`, 'POST', SKU_2)).body).toMatchObject({ recalculated: true });
    const res = await buyer(`/carts/${cartId}/checkouts/active?reason=BUYER_LEFT`, 'DELETE');
    expect(res).toMatchObject({ status: 200, body: { canceled: true } });
    const cart = await docOf(cartId);
    expect(cart).toMatchObject({
      status: 'Active',
      archivedSessions: [{ sessionId, cancelReason: 'BUYER_LEFT', backgroundOperation: { status: 'Canceled' } }],
    });
    expect(cart.items).toEqual([{ sku: 'SKU-1', quantity: 2, unitPrice: 12.5 }, SKU_2]);
    expect(await handleOf(cartId, sessionId).result()).toMatchObject({ outcome: 'CANCELED' });
  });
});

test('policy recalculate: a change after the order was accepted is refused by the checkout and, the cart Closed, fails INVALID_OPERATION', async () => {
  await withWorker(async () => {
    const created = await buyer(`/webstores/${RECALC_STORE}/carts`, 'POST');
    const cartId: string = created.body.cartId;
    await buyer(`/carts/${cartId}/items`, 'POST', { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 });
    const hold = { step: 'Taxes' as BackgroundStep, released: false };
    held.set(cartId, hold);
    const sessionId: string = (await buyer(`/carts/${cartId}/checkouts`, 'POST')).body.runId;
    const handle = handleOf(cartId, sessionId);
    // The order is accepted while Taxes runs: it waits for the steps.
    const order = await handle.startUpdate(placeOrderUpdate, { args: [{}], waitForStage: WorkflowUpdateStage.ACCEPTED });

    const change = buyer(`/carts/${cartId}/items`, 'POST', SKU_2);
    // Refused by the checkout's validator, the change falls back to cancelling: the cancel signal arrives.
    await eventually('the fallback cancel signal', async () => (signalsOf(await handle.fetchHistory(), CANCEL_SIGNAL_NAME).length > 0 ? true : undefined));
    hold.released = true;
    const res = await change;
    expect(res).toMatchObject({ status: 403, body: [{ errorCode: 'INVALID_OPERATION' }] });
    const { orderId } = await order.result();
    const cart = await docOf(cartId);
    expect(cart).toMatchObject({ status: 'Closed', orderId, items: [{ sku: 'SKU-1', quantity: 2, unitPrice: 12.5 }] });
    expect(cart.archivedSessions?.[0].totals?.total).toBe(TOTAL_BEFORE);
    const history = await handle.fetchHistory();
    expect(runsOf(history, 'applyItemChangeInCheckout')).toHaveLength(0);
    expect(await handle.result()).toMatchObject({ outcome: 'ORDER_PLACED', refusedCancels: 1 });
  });
});

test('policy recalculate: the client library and the CLI report the recalculation', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    const byClient = await env.checkout.addItem(cartId, 'SKU-2', 1, { unitPrice: 5, requestedBy: 'svc-client' });
    expect(byClient).toMatchObject({ cartId, status: 'Checkout', canceledCheckout: false, recalculated: true, requestId: expect.any(String) });

    let stdout = '';
    const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true }, env: { ...process.env, MONGODB_DB: env.mongoDb } };
    expect(await main(['--task-queue', env.taskQueue, 'add-item', cartId, 'SKU-3', '1', '--requested-by', 'ops-1'], io)).toBe(0);
    expect(stdout).toContain('cart is Checkout');
    expect(stdout).toContain('the running checkout took the change and is being recalculated');
    stdout = '';
    expect(await main(['--task-queue', env.taskQueue, '--json', 'add-item', cartId, 'SKU-4', '1'], io)).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'Checkout', canceledCheckout: false, recalculated: true });

    const cart = await eventually('three recalculations with every total', async () => {
      const c = await cartOf(cartId);
      return c.checkout?.recalculations === 3 && c.checkout.totals?.total !== undefined ? c : undefined;
    });
    expect(cart.checkout.sessionId).toBe(sessionId);
    expect(cart.items.map((i: { sku: string }) => i.sku)).toEqual(['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4']);
    await buyer(`/carts/${cartId}/checkouts/active`, 'DELETE');
  });
});

test('policy recalculate: a change that would empty the cart cancels the checkout instead', async () => {
  await withWorker(async () => {
    const { cartId, sessionId } = await cartInCheckout(RECALC_STORE);
    await totalsReach(cartId, TOTAL_BEFORE);
    const res = await buyer(`/carts/${cartId}/items/SKU-1`, 'DELETE');
    expect(res).toMatchObject({ status: 200, body: { status: 'Active', canceledCheckout: true, recalculated: false, items: [] } });
    expect(await handleOf(cartId, sessionId).result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADD_TO_CART' } });
    // The checkout refused it in its handler (after its write refused it): the Update is in the history, failed.
    const history = await handleOf(cartId, sessionId).fetchHistory();
    expect(updatesAccepted(history)).toContain(RECALCULATE_UPDATE_NAME);
    const failed = eventsWith(history, 'workflowExecutionUpdateCompletedEventAttributes').filter(
      (e) => e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.failure,
    );
    expect(failed.map((e) => e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.failure?.message)).toEqual([
      'The change would leave the cart empty; the checkout is cancelled instead of recalculated.',
    ]);
  });
});

describe('the store: a recalculation fences off the steps of the round it interrupted', () => {
  test('a step of the earlier round that ends after the change writes nothing; the new round writes', async () => {
    const repo = new CartRepository(env.carts);
    const cartId = `cart-${randomUUID()}`;
    await env.carts.insertOne({
      _id: cartId,
      status: 'Active',
      webstoreId: RECALC_STORE,
      accountId: 'acct-1',
      items: [{ sku: 'SKU-1', quantity: 2 }],
      version: 0,
    });
    const sessionId = `session-${randomUUID()}`;
    await repo.lock({ cartId, sessionId, workflowId: checkoutWorkflowId(cartId) });
    await repo.markStep(cartId, sessionId, 'Inventory', 'begin');
    await repo.markStep(cartId, sessionId, 'Inventory', 'end', { subtotal: 2000 });
    // Confirm Price begins on the old items; the change comes while it runs.
    const stale = await repo.markStep(cartId, sessionId, 'Confirm Price', 'begin');
    const change = {
      cartId,
      sessionId,
      change: { op: 'add' as const, sku: 'SKU-2', quantity: 1 },
      requestId: 'req-1',
      recalculation: 1,
      fromStep: 'Confirm Price' as const,
    };
    expect(await repo.recalculate(change)).toMatchObject({ held: true, applied: true });
    // The interrupted attempt ends after all, with the old items repriced: nothing is written.
    const staleEnd = await repo.markStep(cartId, sessionId, 'Confirm Price', 'end', { subtotal: 2000 }, stale.doc.items);
    expect(staleEnd).toMatchObject({ held: true, recorded: true });
    let doc = await docOf(cartId);
    expect(doc.items).toEqual([
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ]);
    expect(doc.checkout).toMatchObject({ state: 'Inventory', nextState: 'Confirm Price', isProcessing: false, recalculations: 1 });
    expect(doc.checkout?.totals).toBeUndefined();
    // A repeat of the change (a retried attempt) answers applied and writes nothing.
    expect(await repo.recalculate(change)).toMatchObject({ held: true, applied: true });
    expect((await docOf(cartId)).version).toBe(doc.version);
    // The new round's step writes.
    await repo.markStep(cartId, sessionId, 'Confirm Price', 'begin', undefined, undefined, 1);
    await repo.markStep(cartId, sessionId, 'Confirm Price', 'end', { subtotal: 3000 }, undefined, 1);
    doc = await docOf(cartId);
    expect(doc.checkout).toMatchObject({ state: 'Confirm Price', totals: { subtotal: 3000 } });
  });
});

describe('decisions and summaries of a recalculation (plain functions)', () => {
  const inCheckout: CartDoc = {
    _id: 'c1',
    status: 'Checkout',
    items: [{ sku: 'SKU-1', quantity: 2 }],
    version: 7,
    checkout: sessionDoc('s1', { state: 'Start', nextState: 'Inventory', isProcessing: true }),
  };
  const input = { cartId: 'c1', sessionId: 's1', change: { op: 'add' as const, sku: 'SKU-2', quantity: 1 }, requestId: 'r1', recalculation: 1 };

  test('interrupted in Inventory: the session goes back to Start, Inventory runs again', () => {
    const decision = decideRecalculation(inCheckout, { ...input, fromStep: 'Inventory' });
    expect('write' in decision && decision.write.$set).toMatchObject({
      'checkout.state': 'Start',
      'checkout.nextState': 'Inventory',
      'checkout.recalculations': 1,
    });
  });

  test('another session holds the cart, or it is Closed: nothing written, not held', () => {
    for (const doc of [
      { ...inCheckout, checkout: { ...inCheckout.checkout!, sessionId: 's2' } },
      { ...inCheckout, status: 'Closed' as const, checkout: null },
    ]) {
      const decision = decideRecalculation(doc, { ...input, fromStep: 'Confirm Price' });
      expect('write' in decision).toBe(false);
      expect(decision.result).toMatchObject({ held: false, applied: false });
    }
  });

  test('a request id applied before without this checkout (the cart was Active then): nothing written, not applied here', () => {
    const doc = { ...inCheckout, appliedChanges: [{ requestId: 'r1', at: new Date(0) }] };
    const decision = decideRecalculation(doc, { ...input, fromStep: 'Confirm Price' });
    expect('write' in decision).toBe(false);
    expect(decision.result).toMatchObject({ applied: false });
  });

  test('the summaries and current details name the recalculation', () => {
    expect(stepSummary('Taxes', 'c1', 'Shipping Cost via builtin: 650', 2)).toBe(
      'step Taxes for cart c1 (recalculation 2), after Shipping Cost via builtin: 650',
    );
    const view = { cartId: 'c1', sessionId: 's1', phase: 'PROCESSING' as const, state: 'Inventory' as const, recalculations: 2 };
    expect(checkoutDetails(view, { recalculations: 2, lastChange: 'add 1 × SKU-2, by buyer-7' })).toContain(
      '**recalculated** 2× (last: add 1 × SKU-2, by buyer-7)',
    );
  });
});

/**
 * Cart events on the real stack: each transition's event written in its own cart write, the relay
 * moving them into the `events` collection (in order per cart, once, a cursor without gaps, also
 * with several relays at once and after a relay that died between its steps), and GET /events.
 * This file has a database of its own (the cursor is checked over the whole feed).
 */
import type { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from 'mongodb';
import { checkoutWorkflowId, type CheckoutResult, type EventView } from '../src/contract';
import { CartRepository, EventRelay, cartsCollection, connectMongo, eventsCollection, type CartDoc, type EventDoc, type MongoConnection } from '../src/db';
import { eventually, newCartId, setupTestEnv, type TestEnv } from './harness/env';
import { ADMIN_TOKEN, SERVICE_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';
import type { CheckoutWorker } from '../src/worker';
import { WorkerProcesses, ensureNamespace } from './harness/worker-processes';

let env: TestEnv;
let api: RunningTestApi;
let worker: CheckoutWorker;
let running: Promise<void>;

beforeAll(async () => {
  env = await setupTestEnv('events', { ownDatabase: true });
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
  await setupDirectory(api.base);
  // The worker runs the relay, as every worker process does.
  worker = await env.newWorker({ relayEvents: { pollMs: 50 } });
  running = worker.worker.run();
});
afterAll(async () => {
  if (worker?.worker.getState() === 'RUNNING') worker.worker.shutdown();
  await running;
  await api?.close();
  await env?.close();
});

/** The whole feed through GET /events, `limit` at a time, asserting each page continues the last. */
async function readFeed(limit: number, token = ADMIN_TOKEN): Promise<EventView[]> {
  const all: EventView[] = [];
  let after = '0';
  for (;;) {
    const res = await call(api.base, `/events?after=${after}&limit=${limit}`, { token, account: null });
    expect(res.status).toBe(200);
    const page = res.body as { events: EventView[]; next: string };
    expect(page.events.length).toBeLessThanOrEqual(limit);
    if (page.events.length === 0) {
      expect(page.next).toBe(after);
      return all;
    }
    expect(page.next).toBe(page.events[page.events.length - 1].cursor);
    all.push(...page.events);
    after = page.next;
  }
}

const feedOf = async (cartId: string) => (await readFeed(1000)).filter((e) => e.cartId === cartId);

/** Waits until the cart has recorded `count` events and all of them are in the feed. */
async function relayedEvents(cartId: string, count: number): Promise<EventView[]> {
  return eventually(`${count} events of ${cartId} in the feed`, async () => {
    const events = await feedOf(cartId);
    return events.length >= count ? events : undefined;
  });
}

/** The feed is a cursor 1..N without gaps, and every cart's events appear once each, seq 1..k in order. */
async function assertFeedConsistent(db: Db): Promise<EventDoc[]> {
  const docs = await eventsCollection(db).find({}).sort({ _id: 1 }).toArray();
  expect(docs.map((d) => d._id)).toEqual(docs.map((_, i) => i + 1));
  const perCart = new Map<string, number[]>();
  for (const d of docs) perCart.set(d.cartId, [...(perCart.get(d.cartId) ?? []), Number(d.eventId.slice(d.cartId.length + 1))]);
  for (const [cartId, seqs] of perCart) expect([cartId, seqs]).toEqual([cartId, seqs.map((_, i) => i + 1)]);
  return docs;
}

test('a checkout story records exactly its events in order, read through GET /events page by page', async () => {
  const buyer = (method: string, path: string, body?: unknown) => call(api.base, path, { method, body });
  const created = await buyer('POST', '/webstores/store-1/carts');
  expect(created.status).toBe(201);
  const cartId = created.body.cartId as string;
  expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-1', quantity: 2 })).status).toBe(201);
  expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
  expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-2', quantity: 1 })).body).toMatchObject({ canceledCheckout: true });
  expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
  const order = await buyer('POST', `/carts/${cartId}/checkouts/active/orders`);
  expect(order.status).toBe(201);
  expect((await buyer('DELETE', `/carts/${cartId}/checkouts/active`)).body).toEqual([
    { errorCode: 'INVALID_OPERATION', message: "A cart can't be canceled after it's closed." },
  ]);

  const events = await relayedEvents(cartId, 8);
  expect(events.map((e) => e.type)).toEqual([
    'cart.created',
    'cart.items_changed',
    'checkout.started',
    'checkout.canceled',
    'cart.items_changed',
    'checkout.started',
    'order.placed',
    'checkout.cancel_refused',
  ]);
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => `${cartId}:${i + 1}`));
  for (const e of events) expect(e).toMatchObject({ cartId, webstoreId: 'store-1', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  const [, added, firstStart, canceled, , secondStart, placed, refused] = events;
  expect(added.data).toMatchObject({ change: { op: 'add', sku: 'SKU-1', quantity: 2 } });
  expect(canceled.data).toMatchObject({ sessionId: firstStart.data.sessionId, reason: 'ADD_TO_CART' });
  expect(placed.data).toMatchObject({ sessionId: secondStart.data.sessionId, orderId: order.body.orderId, totals: expect.any(Object) });
  expect(refused.data).toMatchObject({ reason: 'REQUESTED', errorCode: 'INVALID_OPERATION' });

  // Small pages cover the feed exactly as one large page does: every event once, cursors 1..N.
  const whole = await readFeed(1000);
  expect((await readFeed(3)).map((e) => e.id)).toEqual(whole.map((e) => e.id));
  expect(whole.map((e) => e.cursor)).toEqual(whole.map((_, i) => String(i + 1)));
  expect(new Set(whole.map((e) => e.id)).size).toBe(whole.length);
  // A service token reads the feed too.
  expect((await readFeed(1000, SERVICE_TOKEN)).length).toBeGreaterThanOrEqual(whole.length);
});

test('under the recalculate policy a change during checkout records cart.items_changed and checkout.recalculated, and no cancel', async () => {
  const admin = (path: string, body?: unknown) => call(api.base, path, { method: 'PUT', token: ADMIN_TOKEN, account: null, body });
  expect((await admin('/webstores/store-recalc', { name: 'Recalculating store', checkoutPolicy: 'recalculate' })).status).toBe(200);
  expect((await admin('/webstores/store-recalc/members/acct-1')).status).toBe(200);
  const buyer = (method: string, path: string, body?: unknown) => call(api.base, path, { method, body });
  const cartId = (await buyer('POST', '/webstores/store-recalc/carts')).body.cartId as string;
  expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-1', quantity: 1 })).status).toBe(201);
  expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
  expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-2', quantity: 3 })).body).toMatchObject({ canceledCheckout: false, recalculated: true });
  expect((await buyer('POST', `/carts/${cartId}/checkouts/active/orders`)).status).toBe(201);

  const events = await relayedEvents(cartId, 6);
  expect(events.map((e) => e.type)).toEqual([
    'cart.created',
    'cart.items_changed',
    'checkout.started',
    'cart.items_changed',
    'checkout.recalculated',
    'order.placed',
  ]);
  expect(events[4].data).toMatchObject({ sessionId: events[2].data.sessionId, change: { op: 'add', sku: 'SKU-2', quantity: 3 } });
});

test('a lease that runs out records checkout.expired', async () => {
  const cartId = newCartId();
  await env.checkout.createCart({ cartId, webstoreId: 'store-1', accountId: 'acct-1', items: [{ sku: 'SKU-1', quantity: 1 }] });
  await env.checkout.startCheckout(cartId, { leaseMs: 1000 });
  const result = (await env.client.workflow.getHandle(checkoutWorkflowId(cartId)).result()) as CheckoutResult;
  expect(result.outcome).toBe('EXPIRED');
  const events = await relayedEvents(cartId, 3);
  expect(events.map((e) => e.type)).toEqual(['cart.created', 'checkout.started', 'checkout.expired']);
  expect(events[2].data).toMatchObject({ sessionId: result.sessionId, reason: 'EXPIRED' });
});

test('GET /events refuses a bad cursor or limit with INVALID_INPUT, and needs a token', async () => {
  for (const query of ['after=-1', 'after=abc', 'after=01', 'after=1.5', 'limit=0', 'limit=1001', 'limit=x', 'limit=-5', 'other=1']) {
    const res = await call(api.base, `/events?${query}`, { account: null });
    expect([query, res.status, res.body[0]?.errorCode]).toEqual([query, 400, 'INVALID_INPUT']);
  }
  expect((await call(api.base, '/events', { token: null, account: null })).status).toBe(401);
  const res = await call(api.base, '/events?after=999999999', { account: null });
  expect(res).toMatchObject({ status: 200, body: { events: [], next: '999999999' } });
});

describe('the relay, on a database no worker relays', () => {
  let mongo: MongoConnection;
  let repo: CartRepository;

  beforeAll(async () => {
    mongo = await connectMongo(env.mongoUri, `b2b_checkout_test_relay_${randomUUID().slice(0, 8)}`);
    repo = new CartRepository(cartsCollection(mongo.db));
  });
  afterAll(async () => {
    await mongo?.db.dropDatabase().catch(() => undefined);
    await mongo?.close();
  });

  const pendingCarts = () => cartsCollection(mongo.db).countDocuments({ outboxPending: true });

  /** A cart with `changes` item changes: `changes + 1` events in its outbox. */
  async function cartWithEvents(changes: number): Promise<string> {
    const cartId = newCartId('relay');
    await repo.create({ cartId, webstoreId: 'store-1', accountId: 'acct-1' });
    for (let i = 0; i < changes; i++) await repo.changeItems(cartId, { op: 'add', sku: `SKU-${i}`, quantity: 1 });
    return cartId;
  }

  test('a relay that died after inserting and before clearing the outbox: the next one neither loses nor repeats', async () => {
    const cartId = await cartWithEvents(3);
    const cart = (await cartsCollection(mongo.db).findOne({ _id: cartId })) as CartDoc;
    expect(cart.outbox?.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    const dying = new EventRelay(mongo.db);
    // Died mid-batch: two events inserted, the outbox untouched.
    expect(await dying.append(cart.outbox![0])).toBe('inserted');
    expect(await dying.append(cart.outbox![1])).toBe('inserted');
    // Meanwhile the cart moves on.
    await repo.changeItems(cartId, { op: 'add', sku: 'SKU-late', quantity: 1 });
    // A relay that read the outbox before the late change, and died after its inserts: its removal
    // must leave the late event in place.
    const stale = new EventRelay(mongo.db);
    for (const e of cart.outbox!) await stale.append(e);
    await stale.removeRelayed(cartId, cart.eventSeq!);
    expect((await cartsCollection(mongo.db).findOne({ _id: cartId }))?.outbox?.map((e) => e.seq)).toEqual([5]);

    const next = new EventRelay(mongo.db);
    while ((await next.relayOnce()) > 0);
    const docs = await assertFeedConsistent(mongo.db);
    expect(docs.filter((d) => d.cartId === cartId).map((d) => [d.eventId, d.type])).toEqual([
      [`${cartId}:1`, 'cart.created'],
      [`${cartId}:2`, 'cart.items_changed'],
      [`${cartId}:3`, 'cart.items_changed'],
      [`${cartId}:4`, 'cart.items_changed'],
      [`${cartId}:5`, 'cart.items_changed'],
    ]);
    const after = await cartsCollection(mongo.db).findOne({ _id: cartId });
    expect(after).toMatchObject({ outbox: [], eventSeq: 5 });
    expect(after?.outboxPending).toBeUndefined();
  });

  test('many carts changing at once while two relays run: every event once, in per-cart order, the cursor without gaps', async () => {
    const stop = new AbortController();
    const relays = [new EventRelay(mongo.db, { pollMs: 10, cartsPerRound: 7 }), new EventRelay(mongo.db, { pollMs: 10, cartsPerRound: 7 })];
    const relaying = relays.map((r) => r.run(stop.signal));
    const cartIds = Array.from({ length: 24 }, () => newCartId('many'));
    try {
      await Promise.all(
        cartIds.map(async (cartId, i) => {
          await repo.create({ cartId, webstoreId: 'store-1', accountId: 'acct-1' });
          for (let n = 0; n < 4 + (i % 4); n++) await repo.changeItems(cartId, { op: 'add', sku: `SKU-${n}`, quantity: 1 });
          const sessionId = randomUUID();
          await repo.lock({ cartId, sessionId, workflowId: checkoutWorkflowId(cartId) });
          if (i % 2 === 0) await repo.cancel({ cartId, sessionId, reason: 'REQUESTED' });
          else await repo.placeOrder({ cartId, sessionId, orderId: `order-${sessionId}` });
        }),
      );
      await eventually('every outbox relayed', async () => ((await pendingCarts()) === 0 ? true : undefined));
    } finally {
      stop.abort();
      await Promise.all(relaying);
    }
    const docs = await assertFeedConsistent(mongo.db);
    for (const [i, cartId] of cartIds.entries()) {
      const cart = await cartsCollection(mongo.db).findOne({ _id: cartId });
      const types = docs.filter((d) => d.cartId === cartId).map((d) => d.type);
      const changes = 4 + (i % 4);
      expect(types).toEqual([
        'cart.created',
        ...Array(changes).fill('cart.items_changed'),
        'checkout.started',
        i % 2 === 0 ? 'checkout.canceled' : 'order.placed',
      ]);
      expect(cart?.eventSeq).toBe(types.length);
      expect(cart?.outbox).toEqual([]);
    }
  });

  test('a cancel refused on a Closed cart is recorded once per session, however often it is retried', async () => {
    const cartId = await cartWithEvents(1);
    const sessionId = randomUUID();
    await repo.lock({ cartId, sessionId, workflowId: checkoutWorkflowId(cartId) });
    await repo.placeOrder({ cartId, sessionId, orderId: `order-${sessionId}` });
    const lateSession = randomUUID();
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(repo.cancel({ cartId, sessionId: lateSession, reason: 'REQUESTED', requestedBy: 'billing' })).rejects.toMatchObject({
        errorCode: 'INVALID_OPERATION',
      });
    }
    const relay = new EventRelay(mongo.db);
    while ((await relay.relayOnce()) > 0);
    const docs = (await assertFeedConsistent(mongo.db)).filter((d) => d.cartId === cartId);
    expect(docs.map((d) => d.type)).toEqual(['cart.created', 'cart.items_changed', 'checkout.started', 'order.placed', 'checkout.cancel_refused']);
    expect(docs[4].data).toEqual({
      sessionId: lateSession,
      reason: 'REQUESTED',
      requestedBy: 'billing',
      errorCode: 'INVALID_OPERATION',
      message: "A cart can't be canceled after it's closed.",
    });
  });
});

describe('the relay in worker processes', () => {
  let mongo: MongoConnection;
  let workers: WorkerProcesses;
  let logDir: string;

  beforeAll(async () => {
    const dbName = `b2b_checkout_test_relayproc_${randomUUID().slice(0, 8)}`;
    mongo = await connectMongo(env.mongoUri, dbName);
    // A namespace of its own: these workers poll the product task queue and must take no one else's work.
    const namespace = 'b2b-checkout-test-events';
    await ensureNamespace(env.client.connection as Connection, namespace);
    logDir = mkdtempSync(path.join(os.tmpdir(), 'b2b-events-'));
    workers = new WorkerProcesses(namespace, dbName, logDir);
  });
  afterAll(async () => {
    await workers?.stop();
    await mongo?.db.dropDatabase().catch(() => undefined);
    await mongo?.close();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  test('a worker process relays; SIGKILLed while carts change, a restarted one relays the rest, each event once', async () => {
    const repo = new CartRepository(cartsCollection(mongo.db));
    const pending = () => cartsCollection(mongo.db).countDocuments({ outboxPending: true });
    const changeCarts = (cartIds: string[], changes: number) =>
      Promise.all(
        cartIds.map(async (cartId) => {
          for (let n = 0; n < changes; n++) await repo.changeItems(cartId, { op: 'add', sku: `SKU-${n}`, quantity: 1 });
        }),
      );
    const cartIds = Array.from({ length: 8 }, () => newCartId('proc'));
    for (const cartId of cartIds) await repo.create({ cartId, webstoreId: 'store-1', accountId: 'acct-1' });

    const first = await workers.start('relay-a');
    await changeCarts(cartIds, 2);
    await eventually('the first worker relayed', async () => ((await pending()) === 0 ? true : undefined), 60000);

    // Killed while the carts go on changing: whatever it had inserted or not, nothing is lost or repeated.
    const relayedBefore = await eventsCollection(mongo.db).countDocuments();
    const changing = changeCarts(cartIds, 6);
    await eventually(
      'the first worker relays the new changes',
      async () => ((await eventsCollection(mongo.db).countDocuments()) > relayedBefore ? true : undefined),
      60000,
    );
    await workers.kill(first);
    await changing;

    await workers.start('relay-b');
    await eventually('the restarted worker relayed the rest', async () => ((await pending()) === 0 ? true : undefined), 60000);
    const docs = await assertFeedConsistent(mongo.db);
    for (const cartId of cartIds) {
      expect([cartId, docs.filter((d) => d.cartId === cartId).map((d) => d.type)]).toEqual([cartId, ['cart.created', ...Array(8).fill('cart.items_changed')]]);
    }
  }, 240000);
});

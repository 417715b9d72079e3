/**
 * The cart store and the checkout activities against the real MongoDB server (and, where a checkout
 * must run, the real Temporal server). Races and stalled attempts are reproduced by calling the store
 * in the order the race produces, or by a writer that lands between its read and its write.
 */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Collection } from 'mongodb';
import { createCheckoutActivities } from '../activities/checkout';
import { checkoutWorkflowId, type ItemChange } from '../src/contract';
import { CartRepository, RECENT_SESSIONS_KEPT, sessionsCollection, type CartDoc } from '../src/db';
import { CheckoutError } from '../src/contract';
import { getCheckoutStateQuery } from '../src/contract/messages';
import { activityRuns } from './harness/history';
import { eventually, insertForeignCart, newCartId, setupTestEnv, type TestEnv } from './harness/env';

let env: TestEnv;
let repo: CartRepository;
beforeAll(async () => {
  env = await setupTestEnv('carts');
  repo = new CartRepository(env.carts);
});
afterAll(async () => {
  await env?.close();
});

const cartOf = async (cartId: string) => {
  const doc = await env.carts.findOne({ _id: cartId });
  if (!doc) throw new Error(`cart ${cartId} is missing`);
  return doc;
};

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

async function checkoutErrorOf(promise: Promise<unknown>, code: string): Promise<CheckoutError> {
  const err = await failureOf(promise);
  expect(err).toBeInstanceOf(CheckoutError);
  expect((err as CheckoutError).errorCode).toBe(code);
  return err as CheckoutError;
}

/** Activities run outside a worker, with the activity info (workflow id, activity id, heartbeats) a test chooses. */
function activityEnv(info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}) {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}
const activities = () => createCheckoutActivities({ carts: env.carts, client: env.client });

/** Runs one activity in a mock environment, typed by the activity itself. */
function runIn<A extends unknown[], R>(mock: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return (mock.run as unknown as (f: typeof fn, ...a: A) => Promise<R>)(fn, ...args);
}

const lockInput = (cartId: string, sessionId: string, workflowId = checkoutWorkflowId(cartId)) => ({ cartId, sessionId, workflowId });

/** A carts collection on which one foreign write lands right after the store's next read: the race window of a compare-and-set. */
function withWriteAfterRead(carts: Collection<CartDoc>, foreignWrite: () => Promise<unknown>): Collection<CartDoc> {
  let pending = true;
  return new Proxy(carts, {
    get(target, prop, receiver) {
      if (prop === 'findOne') {
        return async (...args: Parameters<Collection<CartDoc>['findOne']>) => {
          const doc = await target.findOne(...args);
          if (pending) {
            pending = false;
            await foreignWrite();
          }
          return doc;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('defect 1: item changes are exactly-once', () => {
  test('the same request id twice: the quantity is added once, the repeat writes nothing and says duplicate', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId, [{ sku: 'SKU-1', quantity: 2 }]);
    const change: ItemChange = { op: 'add', sku: 'SKU-1', quantity: 3 };
    const first = await repo.changeItems(cartId, change, { requestId: 'req-1' });
    expect(first).toMatchObject({ locked: false, duplicate: false });
    const again = await repo.changeItems(cartId, change, { requestId: 'req-1' });
    expect(again).toMatchObject({ locked: false, duplicate: true });
    const cart = await cartOf(cartId);
    expect(cart.items).toEqual([{ sku: 'SKU-1', quantity: 5 }]);
    expect(cart.version).toBe(1);
    expect(cart.appliedChanges?.map((c) => c.requestId)).toEqual(['req-1']);

    // Another request id is another change.
    await repo.changeItems(cartId, change, { requestId: 'req-2' });
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 8 }]);
  });

  test('a retried changeCartItems activity without a request id (same workflow and activity id) adds once', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId, [{ sku: 'SKU-1', quantity: 1 }]);
    const info = { workflowExecution: { workflowId: `cart-items-${cartId}-old-caller`, runId: 'run-1' }, activityId: '1' };
    const req = { cartId, change: { op: 'add', sku: 'SKU-1', quantity: 4 } as ItemChange };
    const attempt1 = await runIn(activityEnv({ ...info, attempt: 1 }), activities().changeCartItems, req);
    // Attempt 1's completion was lost: Temporal runs attempt 2 with the same identity.
    const attempt2 = await runIn(activityEnv({ ...info, attempt: 2 }), activities().changeCartItems, req);
    expect(attempt1.items).toEqual([{ sku: 'SKU-1', quantity: 5 }]);
    expect(attempt2).toEqual(attempt1);
    expect((await cartOf(cartId)).items).toEqual([{ sku: 'SKU-1', quantity: 5 }]);
  });

  test('a repeat after the cart was checked out since answers the cart as it is and cancels nothing', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.changeItems(cartId, { op: 'set', sku: 'SKU-1', quantity: 7 }, { requestId: 'req-set' });
    await repo.lock(lockInput(cartId, `${cartId}:s-later`));
    const repeat = await runIn(activityEnv(), activities().changeCartItems, {
      cartId,
      change: { op: 'set', sku: 'SKU-1', quantity: 7 },
      requestId: 'req-set',
    });
    expect(repeat).toMatchObject({ status: 'Checkout', canceledCheckout: false, items: [{ sku: 'SKU-1', quantity: 7 }] });
    expect((await cartOf(cartId)).checkout?.sessionId).toBe(`${cartId}:s-later`);
  });

  test('a malformed request id is INVALID_INPUT', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const err = await failureOf(runIn(activityEnv(), activities().changeCartItems, { cartId, change: { op: 'remove', sku: 'SKU-1' }, requestId: 'has space' }));
    expect(err).toMatchObject({ type: 'INVALID_INPUT', nonRetryable: true });
  });
});

describe('defect 3: an archived session never locks again', () => {
  test('a stalled lock attempt resuming after its checkout was cancelled is refused; the cart stays Active', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-a`));
    await repo.cancel({ cartId, sessionId: `${cartId}:s-a`, reason: 'REQUESTED' });
    const before = await cartOf(cartId);
    const err = await checkoutErrorOf(repo.lock(lockInput(cartId, `${cartId}:s-a`)), 'INVALID_OPERATION');
    expect(err.details).toMatchObject({ sessionId: `${cartId}:s-a`, archived: true });
    const after = await cartOf(cartId);
    expect(after.status).toBe('Active');
    expect(after.version).toBe(before.version);
  });

  test('nor does it supersede a newer checkout of the same workflow id', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-a`));
    await repo.cancel({ cartId, sessionId: `${cartId}:s-a`, reason: 'REQUESTED' });
    await repo.lock(lockInput(cartId, `${cartId}:s-b`));
    await checkoutErrorOf(repo.lock(lockInput(cartId, `${cartId}:s-a`)), 'INVALID_OPERATION');
    expect((await cartOf(cartId)).checkout?.sessionId).toBe(`${cartId}:s-b`);
  });

  test('a stalled lock attempt of a run that closed before it locked does not supersede the running checkout', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = newCartId();
      await insertForeignCart(env.carts, cartId);
      const running = await env.checkout.startCheckout(cartId);
      // Attempt 1 of an earlier run's lock (that run was terminated before it locked), resuming now.
      const stale = { ...lockInput(cartId, '0f0f0f0f-1111-4222-8333-444455556666'), runId: '0f0f0f0f-1111-4222-8333-444455556666' };
      const err = await failureOf(runIn(activityEnv(), activities().lockCartForCheckout, stale));
      expect(err).toMatchObject({ type: 'CHECKOUT_CONFLICT', nonRetryable: true });
      const cart = await cartOf(cartId);
      expect(cart.checkout?.sessionId).toBe(running.runId);
      expect(cart.archivedSessions ?? []).toHaveLength(0);
      await env.checkout.cancelCheckout(cartId);
    });
  });

  test('a new checkout still takes over the lock of a run that was terminated while holding it', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = newCartId();
      await insertForeignCart(env.carts, cartId);
      const first = await env.checkout.startCheckout(cartId);
      await env.client.workflow.getHandle(checkoutWorkflowId(cartId), first.runId).terminate('test: ends holding the lock');
      const second = await env.checkout.startCheckout(cartId);
      expect(second.runId).not.toBe(first.runId);
      const cart = await cartOf(cartId);
      expect(cart.checkout?.sessionId).toBe(second.runId);
      expect(cart.archivedSessions?.[0]).toMatchObject({ sessionId: first.runId, cancelReason: 'SUPERSEDED' });
      await env.checkout.cancelCheckout(cartId);
    });
  });

  test('the activity fails non-retryably with INVALID_OPERATION, archived: true', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-a`));
    await repo.placeOrder({ cartId, sessionId: `${cartId}:s-a`, orderId: 'order-1' });
    const err = await failureOf(runIn(activityEnv(), activities().lockCartForCheckout, lockInput(cartId, `${cartId}:s-a`)));
    expect(err).toMatchObject({ type: 'INVALID_OPERATION', nonRetryable: true, details: [expect.objectContaining({ archived: true })] });
    expect((await cartOf(cartId)).status).toBe('Closed');
  });
});

describe('defect 9: the cart stays bounded; every session is kept in checkout_sessions', () => {
  test(`${RECENT_SESSIONS_KEPT + 5} checkout cycles: the cart keeps the last ${RECENT_SESSIONS_KEPT}, counts all, the collection has all`, async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const cycles = RECENT_SESSIONS_KEPT + 5;
    for (let i = 0; i < cycles; i++) {
      await repo.lock(lockInput(cartId, `${cartId}-s${i}`));
      await repo.cancel({ cartId, sessionId: `${cartId}-s${i}`, reason: `R${i}` });
    }
    const cart = await cartOf(cartId);
    expect(cart.archivedSessionCount).toBe(cycles);
    expect(cart.archivedSessions?.map((s) => s.cancelReason)).toEqual(Array.from({ length: RECENT_SESSIONS_KEPT }, (_, k) => `R${k + 5}`));
    const history = await repo.sessionHistory(cartId);
    expect(history.map((s) => s._id)).toEqual(Array.from({ length: cycles }, (_, k) => `${cartId}-s${k}`));
    expect(history.every((s) => s.isArchived && s.cartId === cartId && s.backgroundOperation.status === 'Canceled')).toBe(true);

    // The lock's archived check reaches sessions no longer in the cart.
    await checkoutErrorOf(repo.lock(lockInput(cartId, `${cartId}-s0`)), 'INVALID_OPERATION');
    // And a cancel of such a session still answers that it cancelled it.
    expect(await repo.cancel({ cartId, sessionId: `${cartId}-s0`, reason: 'RETRY' })).toMatchObject({ canceled: true });
  });

  test('a cancel retried after its cart write (the upsert was lost) records the session again', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}-s`));
    await repo.cancel({ cartId, sessionId: `${cartId}-s`, reason: 'REQUESTED' });
    await sessionsCollection(env.mongo.db).deleteOne({ _id: `${cartId}-s` });
    await repo.cancel({ cartId, sessionId: `${cartId}-s`, reason: 'REQUESTED' });
    expect(await sessionsCollection(env.mongo.db).findOne({ _id: `${cartId}-s` })).toMatchObject({ cartId, cancelReason: 'REQUESTED' });
  });

  test('placing the order records the completed session; the view counts it', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}-s`));
    await repo.placeOrder({ cartId, sessionId: `${cartId}-s`, orderId: 'order-9' });
    expect(await sessionsCollection(env.mongo.db).findOne({ _id: `${cartId}-s` })).toMatchObject({
      orderId: 'order-9',
      backgroundOperation: { status: 'Complete' },
    });
    expect(await env.checkout.getCart(cartId)).toMatchObject({ status: 'Closed', archivedSessionCount: 1 });
  });
});

describe('defect 11: carts written by other services', () => {
  test.each([
    ['version null', { version: null }, 'version'],
    ['version "0"', { version: '0' }, 'version'],
    ['version -1', { version: -1 }, 'version'],
    ['version 1.5', { version: 1.5 }, 'version'],
    ['no status', { status: undefined }, 'status'],
    ['unknown status', { status: 'Open' }, 'status'],
    ['items not an array', { items: { sku: 'SKU-1' } }, 'items'],
    ['an item without a sku', { items: [{ quantity: 1 }] }, 'items.0'],
  ])('%s: refused with INVALID_OPERATION MALFORMED_CART, nothing written', async (_what, fields, field) => {
    const cartId = newCartId('malformed');
    const doc: Record<string, unknown> = { _id: cartId, status: 'Active', items: [{ sku: 'SKU-1', quantity: 1 }], version: 0, ...fields };
    for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
    await env.carts.insertOne(doc as unknown as CartDoc);
    const err = await checkoutErrorOf(repo.lock(lockInput(cartId, `${cartId}:s-m`)), 'INVALID_OPERATION');
    expect(err.details).toMatchObject({ problem: 'MALFORMED_CART', field, cartId });
    expect(err.message).toMatch(/malformed/);
    await checkoutErrorOf(repo.changeItems(cartId, { op: 'add', sku: 'SKU-2', quantity: 1 }), 'INVALID_OPERATION');
    expect(await env.carts.findOne({ _id: cartId })).toEqual(doc);
  });

  test('a cart without a version is valid: the first write sets it', async () => {
    const cartId = newCartId();
    await env.carts.insertOne({ _id: cartId, status: 'Active', items: [{ sku: 'SKU-1', quantity: 1 }] });
    await repo.lock(lockInput(cartId, `${cartId}:s-v`));
    expect(await cartOf(cartId)).toMatchObject({ status: 'Checkout', version: 1 });
  });

  test('a cart whose checkout is null (as some writers clear it) locks, cancels and changes normally', async () => {
    const cartId = newCartId();
    await env.carts.insertOne({ _id: cartId, status: 'Active', items: [{ sku: 'SKU-1', quantity: 1 }], version: 4, checkout: null });
    await repo.changeItems(cartId, { op: 'add', sku: 'SKU-2', quantity: 1 }, { requestId: 'null-1' });
    await repo.lock(lockInput(cartId, `${cartId}:s-n`));
    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s-n`, reason: 'REQUESTED' })).toMatchObject({ canceled: true });
    expect(await cartOf(cartId)).toMatchObject({ status: 'Active', version: 7, archivedSessionCount: 1 });
  });

  test('a service that closes the cart without bumping the version, between our read and our write: the cancel does not reopen it', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-f`));
    const racing = new CartRepository(
      withWriteAfterRead(env.carts, () => env.carts.updateOne({ _id: cartId }, { $set: { status: 'Closed', orderId: 'order-elsewhere' } })),
    );
    await checkoutErrorOf(racing.cancel({ cartId, sessionId: `${cartId}:s-f`, reason: 'REQUESTED' }), 'INVALID_OPERATION');
    expect(await cartOf(cartId)).toMatchObject({ status: 'Closed', orderId: 'order-elsewhere' });
  });

  test('a service that takes the lock for another session without bumping the version: our step write does not land on it', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-g`));
    const racing = new CartRepository(
      withWriteAfterRead(env.carts, () => env.carts.updateOne({ _id: cartId }, { $set: { 'checkout.sessionId': 'someone-else' } })),
    );
    expect(await racing.markStep(cartId, `${cartId}:s-g`, 'Inventory', 'begin')).toMatchObject({ held: false });
    expect((await cartOf(cartId)).checkout).toMatchObject({ sessionId: 'someone-else', isProcessing: false });
  });
});

describe('defect 12: retried steps and cancels', () => {
  test('a step retried after attempt 1 finished it is not begun again: isProcessing stays false', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-s`));
    const step = { cartId, sessionId: `${cartId}:s-s`, step: 'Inventory' as const };
    expect(await runIn(activityEnv({ attempt: 1 }), activities().runCheckoutStep, step)).toEqual({
      step: 'Inventory',
      held: true,
      outcome: { provider: 'builtin', answer: 'available' },
    });
    const afterFirst = await cartOf(cartId);
    expect(await runIn(activityEnv({ attempt: 2 }), activities().runCheckoutStep, step)).toEqual({ step: 'Inventory', held: true });
    const cart = await cartOf(cartId);
    expect(cart.checkout).toMatchObject({ state: 'Inventory', isProcessing: false });
    expect(cart.version).toBe(afterFirst.version);
  });

  test('a retried cancel whose first attempt cancelled answers canceled: true', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-c`));
    const input = { cartId, sessionId: `${cartId}:s-c`, reason: 'REQUESTED' };
    const first = await runIn(activityEnv({ attempt: 1 }), activities().cancelCartAsyncOperation, input);
    const retry = await runIn(activityEnv({ attempt: 2 }), activities().cancelCartAsyncOperation, input);
    expect(first).toEqual({ cartId, canceled: true, reason: 'REQUESTED', status: 'Active' });
    expect(retry).toEqual(first);
    expect((await cartOf(cartId)).archivedSessionCount).toBe(1);
  });

  test('a cancel of a session that ended with an order is still INVALID_OPERATION', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-o`));
    await repo.placeOrder({ cartId, sessionId: `${cartId}:s-o`, orderId: 'order-o' });
    await checkoutErrorOf(repo.cancel({ cartId, sessionId: `${cartId}:s-o`, reason: 'LATE' }), 'INVALID_OPERATION');
  });
});

describe('defect 16: no checkout and no order of a cart with no items', () => {
  test('lock of an empty cart: INVALID_OPERATION, nothing written', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId, []);
    const err = await checkoutErrorOf(repo.lock(lockInput(cartId, `${cartId}:s-e`)), 'INVALID_OPERATION');
    expect(err.message).toBe("A cart with no items can't be checked out.");
    expect(await cartOf(cartId)).toMatchObject({ status: 'Active', version: 0 });
  });

  test('order of a cart emptied under its checkout: INVALID_OPERATION, still locked', async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await repo.lock(lockInput(cartId, `${cartId}:s-e2`));
    await env.carts.updateOne({ _id: cartId }, { $set: { items: [] }, $inc: { version: 1 } });
    const err = await checkoutErrorOf(repo.placeOrder({ cartId, sessionId: `${cartId}:s-e2`, orderId: 'order-e' }), 'INVALID_OPERATION');
    expect(err.message).toBe("A cart with no items can't be ordered.");
    expect(await cartOf(cartId)).toMatchObject({ status: 'Checkout', checkout: { sessionId: `${cartId}:s-e2` } });
    expect((await cartOf(cartId)).orderId).toBeUndefined();
  });
});

describe('on the real workflows', () => {
  test('defect 7: a burst of concurrent writers on a locked cart does not end the cancel; it lands', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = newCartId('contended');
      await insertForeignCart(env.carts, cartId);
      await env.checkout.startCheckout(cartId);
      const handle = env.client.workflow.getHandle(checkoutWorkflowId(cartId));
      await eventually('the checkout to be READY', async () => ((await handle.query(getCheckoutStateQuery)).phase === 'READY' ? true : undefined));
      // Writers that bump the version while the cart is locked, each a bounded number of times.
      const writer = async () => {
        for (let i = 0; i < 400; i++) {
          const r = await env.carts.updateOne({ _id: cartId, status: 'Checkout' }, { $inc: { version: 1 }, $set: { touchedBy: 'writer' } });
          if (r.matchedCount === 0) return;
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      await handle.signal('cancelCheckout', { reason: 'CONTENDED' });
      await Promise.all(writers);
      expect(await handle.result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'CONTENDED' } });
      expect(await cartOf(cartId)).toMatchObject({ status: 'Active', archivedSessionCount: 1 });
    });
  });

  test('defect 14: the item change heartbeats while it waits for the checkout it cancelled; a retry still reports that cancel', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = newCartId();
      await insertForeignCart(env.carts, cartId);
      // Steps of 1.5 s: the checkout takes a while to end after the cancel signal.
      env.slowSteps(cartId, 1500);
      const started = await env.checkout.startCheckout(cartId);
      const mock = activityEnv({ workflowExecution: { workflowId: `cart-items-${cartId}-hb`, runId: 'r' }, activityId: '1' });
      const beats: unknown[] = [];
      mock.on('heartbeat', (d: unknown) => beats.push(d));
      const changed = await runIn(mock, activities().changeCartItems, { cartId, change: { op: 'add', sku: 'SKU-2', quantity: 1 }, requestId: 'hb-1' });
      expect(changed).toMatchObject({ status: 'Active', canceledCheckout: true });
      expect(beats).toContainEqual({ canceledCheckout: true, waitingFor: checkoutWorkflowId(cartId) });
      expect(await env.client.workflow.getHandle(checkoutWorkflowId(cartId), started.runId).result()).toMatchObject({ outcome: 'CANCELED' });

      // Attempt 2 of the same change (attempt 1's completion lost): nothing written, the cancel still reported.
      const retry = await runIn(activityEnv({ attempt: 2, heartbeatDetails: beats[beats.length - 1] }), activities().changeCartItems, {
        cartId,
        change: { op: 'add', sku: 'SKU-2', quantity: 1 },
        requestId: 'hb-1',
      });
      expect(retry).toEqual(changed);

      // Through the workflow, the activity is scheduled with a heartbeat timeout of seconds.
      const itemsHandle = await env.client.workflow.start('cartItemsWorkflow', {
        workflowId: `cart-items-${cartId}-hb-2`,
        taskQueue: env.taskQueue,
        args: [{ cartId, change: { op: 'add', sku: 'SKU-3', quantity: 1 }, requestId: 'hb-2' }],
      });
      const result = (await itemsHandle.result()) as { items: unknown[] };
      expect(result.items).toEqual([
        { sku: 'SKU-1', quantity: 2 },
        { sku: 'SKU-2', quantity: 1 },
        { sku: 'SKU-3', quantity: 1 },
      ]);
      const history = await itemsHandle.fetchHistory();
      const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes)?.activityTaskScheduledEventAttributes;
      expect(Number(scheduled?.heartbeatTimeout?.seconds)).toBe(5);
      expect(activityRuns(history)).toHaveLength(1);
    });
  });

  test('a lock left by a run that was terminated is released by the next item change, fenced by its session', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = newCartId();
      await insertForeignCart(env.carts, cartId);
      const started = await env.checkout.startCheckout(cartId);
      await env.client.workflow.getHandle(checkoutWorkflowId(cartId), started.runId).terminate('test: a run that ends without unlocking');
      expect((await cartOf(cartId)).status).toBe('Checkout');
      const changed = await env.checkout.addItem(cartId, 'SKU-2', 1, { requestedBy: 'buyer-9' });
      expect(changed).toMatchObject({ status: 'Active', canceledCheckout: true });
      const cart = await cartOf(cartId);
      expect(cart.archivedSessions?.[0]).toMatchObject({ sessionId: started.runId, cancelReason: 'ADD_TO_CART', canceledBy: 'buyer-9' });
    });
  });
});

/**
 * Bad input gets a clear code and writes nothing. This file has a database of its own, so it can
 * assert that the whole carts collection is unchanged afterwards.
 */
import { ApplicationFailure } from '@temporalio/common';
import { checkoutWorkflowId, type ItemChange } from '../src/contract';
import { CheckoutError } from '../src/contract';
import { insertForeignCart, newCartId, setupTestEnv, workflowFailure, type TestEnv } from './harness/env';

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('badinput', { ownDatabase: true });
});
afterAll(async () => {
  await env?.close();
});

const snapshot = async () => JSON.stringify(await env.carts.find({}).sort({ _id: 1 }).toArray());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CheckoutError)) throw new Error(`expected a CheckoutError, got ${String(err)}`);
  return err.errorCode;
}

const badCartIds: [string, unknown][] = [
  ['empty', ''],
  ['oversized', 'x'.repeat(129)],
  ['a number', 42],
  ['null', null],
  ['an operator object', { $ne: null }],
  ['a regex-like operator', { $regex: '.*' }],
  ['an array', ['cart-1']],
  ['path-like', '../carts/other'],
  ['with spaces', 'cart 1'],
  ['with a dollar', '$where'],
];

test('malformed cart ids are refused with INVALID_INPUT by every client call, and nothing is written', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const existing = newCartId();
    await insertForeignCart(env.carts, existing);
    const before = await snapshot();
    for (const [what, cartId] of badCartIds) {
      const id = cartId as string;
      for (const call of [
        () => env.checkout.startCheckout(id),
        () => env.checkout.cancelCheckout(id),
        () => env.checkout.cancelCheckout(id, { wait: false }),
        () => env.checkout.addItem(id, 'SKU-1', 1),
        () => env.checkout.placeOrder(id),
        () => env.checkout.getCart(id),
      ]) {
        expect([what, await codeOf(call())]).toEqual([what, 'INVALID_INPUT']);
      }
    }
    expect(await snapshot()).toBe(before);
  });
});

test('bad cancel reasons and item changes are refused with INVALID_INPUT; nothing is written', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const before = await snapshot();
    expect(await codeOf(env.checkout.cancelCheckout(cartId, { reason: '' }))).toBe('INVALID_INPUT');
    expect(await codeOf(env.checkout.cancelCheckout(cartId, { reason: 'x'.repeat(201) }))).toBe('INVALID_INPUT');
    const badChanges: unknown[] = [
      { op: 'add', sku: 'SKU-1', quantity: 0 },
      { op: 'add', sku: 'SKU-1', quantity: 1.5 },
      { op: 'add', sku: 'SKU-1', quantity: '2' },
      { op: 'add', sku: 'SKU-1', quantity: 10_000_001 },
      { op: 'add', sku: { $ne: null }, quantity: 1 },
      { op: 'add', sku: '', quantity: 1 },
      { op: 'add', sku: 'SKU-1', quantity: 1, unitPrice: -1 },
      { op: 'set', sku: 'SKU-1', quantity: -1 },
      { op: 'explode', sku: 'SKU-1' },
      null,
    ];
    for (const change of badChanges) {
      expect([change, await codeOf(env.checkout.changeItems(cartId, change as ItemChange))]).toEqual([change, 'INVALID_INPUT']);
    }
    expect(await snapshot()).toBe(before);
  });
});

test('an unknown cart: NOT_FOUND from start, cancel and add-item; no document is created', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const before = await snapshot();
    const unknown = newCartId('unknown');
    expect(await codeOf(env.checkout.startCheckout(unknown))).toBe('NOT_FOUND');
    expect(await codeOf(env.checkout.cancelCheckout(unknown))).toBe('NOT_FOUND');
    expect(await codeOf(env.checkout.addItem(unknown, 'SKU-1', 1))).toBe('NOT_FOUND');
    expect(await codeOf(env.checkout.getCart(unknown))).toBe('NOT_FOUND');
    expect(await env.carts.countDocuments({ _id: unknown })).toBe(0);
    expect(await snapshot()).toBe(before);
  });
});

test('a workflow started directly with an operator object as cart id fails with INVALID_INPUT before any activity', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const before = await snapshot();
    const handle = await env.client.workflow.start('checkoutWorkflow', {
      taskQueue: env.taskQueue,
      workflowId: checkoutWorkflowId(newCartId('direct')),
      args: [{ cartId: { $ne: null } }],
    });
    const err = await workflowFailure(handle);
    expect((err.cause as ApplicationFailure).type).toBe('INVALID_INPUT');
    const history = await handle.fetchHistory();
    expect((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    expect(await snapshot()).toBe(before);
  });
});

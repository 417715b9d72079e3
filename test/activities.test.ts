/**
 * The checkout activities run alone in MockActivityEnvironment (no worker, no workflow) against the
 * run's real MongoDB server: heartbeats, cancellation, business failures, and the at-least-once
 * guarantees (a repeated attempt changes nothing twice). Outcomes: the cart document, the answers
 * and failures, the heartbeats the activity reported.
 */
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { createCheckoutActivities } from '../activities/checkout';
import { checkoutWorkflowId } from '../src/contract';
import { temporalSettings } from '../src/config';
import { dataConverter } from '../src/data-converter';
import { cartsCollection, type CartDoc, connectMongo, type MongoConnection } from '../src/db';
import { stepDelaysFrom } from '../stack/step-delay';
import { insertForeignCart, newCartId, quietRuntime } from './harness/env';

let mongo: MongoConnection;
let carts: Collection<CartDoc>;
let connection: Connection;
let activities: ReturnType<typeof createCheckoutActivities>;
/** Cart id → how long each of its steps takes (the worker-side test seam). */
const stepDelays = new Map<string, number>();

beforeAll(async () => {
  quietRuntime();
  if (!process.env.MONGODB_URI || !process.env.TEMPORAL_ADDRESS) throw new Error('the jest global setup did not provide the servers');
  mongo = await connectMongo(process.env.MONGODB_URI, process.env.MONGODB_DB ?? 'b2b_checkout_test');
  carts = cartsCollection(mongo.db);
  const settings = temporalSettings();
  // Only lockCartForCheckout's liveness check of a previous holder talks to Temporal.
  connection = await Connection.connect(settings.connectionOptions);
  activities = createCheckoutActivities({
    carts,
    client: new Client({ connection, namespace: settings.namespace, dataConverter }),
    beforeStep: stepDelaysFrom(stepDelays),
  });
});
afterAll(async () => {
  await connection?.close();
  await mongo?.close();
});

/** A cart locked by a new session, as the checkout workflow's first activity leaves it. */
async function lockedCart(): Promise<{ cartId: string; sessionId: string }> {
  const cartId = newCartId();
  const sessionId = randomUUID();
  await insertForeignCart(carts, cartId);
  await new MockActivityEnvironment().run(activities.lockCartForCheckout, {
    cartId,
    sessionId,
    workflowId: checkoutWorkflowId(cartId),
  });
  return { cartId, sessionId };
}

const cart = async (cartId: string) => (await carts.findOne({ _id: cartId }))!;

describe('runCheckoutStep', () => {
  test('heartbeats while it works, then records the step on the cart', async () => {
    const { cartId, sessionId } = await lockedCart();
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    stepDelays.set(cartId, 1200);
    const result = await env.run(activities.runCheckoutStep, { cartId, sessionId, step: 'Inventory' as const });
    expect(result).toEqual({ step: 'Inventory', held: true, outcome: { provider: 'builtin', answer: 'available' } });
    expect(heartbeats).toEqual([
      { step: 'Inventory', remainingMs: 1200 },
      { step: 'Inventory', remainingMs: 700 },
      { step: 'Inventory', remainingMs: 200 },
    ]);
    const doc = await cart(cartId);
    expect(doc.status).toBe('Checkout');
    expect(doc.checkout).toMatchObject({ sessionId, state: 'Inventory', isProcessing: false });
  });

  test('stops when cancelled: the step stays unfinished and nothing else changes', async () => {
    const { cartId, sessionId } = await lockedCart();
    const env = new MockActivityEnvironment();
    // The first heartbeat says the step has begun (its begin is written); the workflow cancels it then.
    env.once('heartbeat', () => env.cancel());
    stepDelays.set(cartId, 60_000);
    const run = env.run(activities.runCheckoutStep, { cartId, sessionId, step: 'Inventory' as const });
    await expect(run).rejects.toBeInstanceOf(CancelledFailure);
    const doc = await cart(cartId);
    expect(doc.status).toBe('Checkout');
    expect(doc.checkout).toMatchObject({ sessionId, state: 'Start', nextState: 'Inventory', isProcessing: true });
    expect(doc.checkout?.totals).toBeUndefined();
  });

  test('repeated after a lost completion answers the same and writes nothing', async () => {
    const { cartId, sessionId } = await lockedCart();
    const input = { cartId, sessionId, step: 'Inventory' as const };
    await new MockActivityEnvironment().run(activities.runCheckoutStep, input);
    const before = await cart(cartId);
    const again = await new MockActivityEnvironment({ attempt: 2 }).run(activities.runCheckoutStep, input);
    expect(again).toEqual({ step: 'Inventory', held: true });
    expect((await cart(cartId)).version).toBe(before.version);
  });

  test('of a session that no longer holds the cart answers held: false and writes nothing', async () => {
    const { cartId } = await lockedCart();
    const before = await cart(cartId);
    const result = await new MockActivityEnvironment().run(activities.runCheckoutStep, { cartId, sessionId: randomUUID(), step: 'Inventory' as const });
    expect(result).toEqual({ step: 'Inventory', held: false });
    expect(await cart(cartId)).toEqual(before);
  });
});

describe('cancelCartAsyncOperation', () => {
  test('unlocks the cart and archives the session in one write; repeated, it answers the same and writes nothing', async () => {
    const { cartId, sessionId } = await lockedCart();
    const input = { cartId, sessionId, reason: 'BUYER_LEFT', requestedBy: 'buyer-1' };
    const first = await new MockActivityEnvironment().run(activities.cancelCartAsyncOperation, input);
    expect(first).toEqual({ cartId, canceled: true, reason: 'BUYER_LEFT', status: 'Active' });
    const after = await cart(cartId);
    expect(after.status).toBe('Active');
    expect(after.checkout).toBeUndefined();
    expect(after.archivedSessions?.at(-1)).toMatchObject({ sessionId, isArchived: true, backgroundOperation: { status: 'Canceled' } });

    const again = await new MockActivityEnvironment({ attempt: 2 }).run(activities.cancelCartAsyncOperation, input);
    expect(again).toEqual(first);
    expect((await cart(cartId)).version).toBe(after.version);
  });

  test('on a Closed cart fails with the non-retryable INVALID_OPERATION and leaves the cart Closed', async () => {
    const { cartId, sessionId } = await lockedCart();
    await new MockActivityEnvironment().run(activities.placeOrder, { cartId, sessionId, orderId: `order-${randomUUID()}` });
    const closed = await cart(cartId);
    expect(closed.status).toBe('Closed');

    const err: unknown = await new MockActivityEnvironment().run(activities.cancelCartAsyncOperation, { cartId, sessionId, reason: 'REQUESTED' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('INVALID_OPERATION');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe("A cart can't be canceled after it's closed.");
    expect(failure.details?.[0]).toMatchObject({ errorCode: 'INVALID_OPERATION', httpStatus: 403, cartId, status: 'Closed' });
    // The refusal is recorded as the cart's event (issue 12), in a write of its own; nothing else changes.
    const after = await cart(cartId);
    expect(after.outbox?.at(-1)).toMatchObject({ type: 'checkout.cancel_refused', data: { sessionId, errorCode: 'INVALID_OPERATION' } });
    const withoutEvents = (doc: CartDoc) => {
      const rest: Partial<CartDoc> = { ...doc };
      for (const field of ['outbox', 'eventSeq', 'cancelRefusals', 'version', 'updatedAt'] as const) delete rest[field];
      return rest;
    };
    expect(withoutEvents(after)).toEqual(withoutEvents(closed));
  });
});

describe('lockCartForCheckout', () => {
  test('on a cart with no items fails with INVALID_OPERATION and leaves it Active', async () => {
    const cartId = newCartId();
    await insertForeignCart(carts, cartId, []);
    const err: unknown = await new MockActivityEnvironment()
      .run(activities.lockCartForCheckout, { cartId, sessionId: randomUUID(), workflowId: checkoutWorkflowId(cartId) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('INVALID_OPERATION');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(await cart(cartId)).toMatchObject({ status: 'Active', version: 0 });
  });
});

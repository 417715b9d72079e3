/**
 * The one-write cancel against the real MongoDB server: a store that advanced a checkout cancels it
 * with one conditional write and no read; when that write matches nothing (another worker, another
 * service or another session came in between) the store reads the cart and answers as it always did.
 * Two stores on one collection play two worker processes.
 */
import type { Collection } from 'mongodb';
import { checkoutWorkflowId, CheckoutError } from '../src/contract';
import { CartRepository, cartsCollection, connectMongo, sessionsCollection, type CartDoc, type MongoConnection } from '../src/db';
import { insertForeignCart, newCartId } from './harness/env';

// The store alone: MongoDB, no Temporal (no SDK runtime to keep the jest worker alive).
let env: { mongo: MongoConnection; carts: Collection<CartDoc> };
beforeAll(async () => {
  if (!process.env.MONGODB_URI) throw new Error('the jest global setup did not provide MongoDB');
  const mongo = await connectMongo(process.env.MONGODB_URI, process.env.MONGODB_DB ?? 'b2b_checkout_test');
  env = { mongo, carts: cartsCollection(mongo.db) };
});
afterAll(async () => {
  await env?.mongo.close();
});

const cartOf = async (cartId: string) => {
  const doc = await env.carts.findOne({ _id: cartId });
  if (!doc) throw new Error(`cart ${cartId} is missing`);
  return doc;
};

/** The carts collection, counting the reads made through it. */
function countingReads(carts: Collection<CartDoc>): { carts: Collection<CartDoc>; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(carts, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'findOne' || prop === 'find') reads++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { carts: proxy, reads: () => reads };
}

/** A cart locked by `sessionId` through `repo`, its first step done: the store remembers it as it wrote it. */
async function lockedThrough(repo: CartRepository, cartId: string, sessionId: string): Promise<void> {
  await insertForeignCart(env.carts, cartId);
  await repo.lock({ cartId, sessionId, workflowId: checkoutWorkflowId(cartId) });
  await repo.markStep(cartId, sessionId, 'Inventory', 'begin');
  await repo.markStep(cartId, sessionId, 'Inventory', 'end', { subtotal: 200 });
}

async function errorOf(promise: Promise<unknown>): Promise<CheckoutError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckoutError);
  return err as CheckoutError;
}

test('the common case: the cart held by this session as the store wrote it is cancelled by one write, no read', async () => {
  const cartId = newCartId();
  const { carts, reads } = countingReads(env.carts);
  const repo = new CartRepository(carts);
  await lockedThrough(repo, cartId, `${cartId}:s`);
  const readsBefore = reads();
  const before = await cartOf(cartId);

  const outcome = await repo.cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED', requestedBy: 'buyer-1' });

  expect(reads() - readsBefore).toBe(0);
  expect(outcome).toMatchObject({ canceled: true, doc: { status: 'Active' } });
  const cart = await cartOf(cartId);
  expect(cart).toMatchObject({ status: 'Active', version: (before.version ?? 0) + 1, archivedSessionCount: 1 });
  expect(cart.checkout).toBeUndefined();
  expect(cart.archivedSessions).toEqual([
    expect.objectContaining({
      ...before.checkout,
      isArchived: true,
      isProcessing: false,
      backgroundOperation: { ...before.checkout!.backgroundOperation, status: 'Canceled' },
      cancelReason: 'REQUESTED',
      canceledBy: 'buyer-1',
    }),
  ]);
  expect(await sessionsCollection(env.mongo.db).findOne({ _id: `${cartId}:s` })).toMatchObject({
    cartId,
    cancelReason: 'REQUESTED',
    state: 'Inventory',
    backgroundOperation: { status: 'Canceled' },
  });
});

describe('the write matched nothing: the cart is read to tell why', () => {
  test('another worker cancelled the session first: canceled: true again, archived once', async () => {
    const cartId = newCartId();
    const repo = new CartRepository(env.carts);
    await lockedThrough(repo, cartId, `${cartId}:s`);
    await new CartRepository(env.carts).cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED' });

    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED' })).toMatchObject({ canceled: true });
    expect(await cartOf(cartId)).toMatchObject({ status: 'Active', archivedSessionCount: 1 });
  });

  test('another service closed the cart without bumping the version: INVALID_OPERATION, the cart stays Closed', async () => {
    const cartId = newCartId();
    const repo = new CartRepository(env.carts);
    await lockedThrough(repo, cartId, `${cartId}:s`);
    await env.carts.updateOne({ _id: cartId }, { $set: { status: 'Closed', orderId: 'order-elsewhere' } });

    const err = await errorOf(repo.cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED' }));
    expect(err.errorCode).toBe('INVALID_OPERATION');
    expect(await cartOf(cartId)).toMatchObject({ status: 'Closed', orderId: 'order-elsewhere' });
  });

  test('another session holds the cart now: canceled: false, that checkout is left alone', async () => {
    const cartId = newCartId();
    const repo = new CartRepository(env.carts);
    await lockedThrough(repo, cartId, `${cartId}:s1`);
    const other = new CartRepository(env.carts);
    await other.cancel({ cartId, sessionId: `${cartId}:s1`, reason: 'ADD_TO_CART' });
    await other.lock({ cartId, sessionId: `${cartId}:s2`, workflowId: checkoutWorkflowId(cartId) });
    const held = await cartOf(cartId);

    // s1 was cancelled (by the other worker): that is what this cancel of s1 is told.
    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s1`, reason: 'REQUESTED' })).toMatchObject({ canceled: true });
    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s-unknown`, reason: 'REQUESTED' })).toMatchObject({ canceled: false });
    expect(await cartOf(cartId)).toEqual(held);
  });

  test('another service changed the session without bumping the version: the session is archived as the cart held it', async () => {
    const cartId = newCartId();
    const repo = new CartRepository(env.carts);
    await lockedThrough(repo, cartId, `${cartId}:s`);
    await env.carts.updateOne({ _id: cartId }, { $set: { 'checkout.isError': true, 'checkout.state': 'Error' } });

    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED' })).toMatchObject({ canceled: true });
    const cart = await cartOf(cartId);
    expect(cart.archivedSessions?.[0]).toMatchObject({ state: 'Error', isError: true, backgroundOperation: { status: 'Canceled' } });
    expect(await sessionsCollection(env.mongo.db).findOne({ _id: `${cartId}:s` })).toMatchObject({ state: 'Error', isError: true });
  });

  test('a step another worker wrote meanwhile: the next step lands on the cart as it is', async () => {
    const cartId = newCartId();
    const repo = new CartRepository(env.carts);
    await lockedThrough(repo, cartId, `${cartId}:s`);
    const other = new CartRepository(env.carts);
    await other.markStep(cartId, `${cartId}:s`, 'Confirm Price', 'begin');
    await other.markStep(cartId, `${cartId}:s`, 'Confirm Price', 'end', { subtotal: 300, shipping: 0 });

    expect(await repo.markStep(cartId, `${cartId}:s`, 'Shipping Cost', 'begin')).toMatchObject({ held: true, recorded: false });
    expect((await cartOf(cartId)).checkout).toMatchObject({
      state: 'Confirm Price',
      nextState: 'Shipping Cost',
      isProcessing: true,
      totals: { subtotal: 300 },
    });
    expect(await repo.cancel({ cartId, sessionId: `${cartId}:s`, reason: 'REQUESTED' })).toMatchObject({ canceled: true });
    expect((await cartOf(cartId)).archivedSessions?.[0]).toMatchObject({ nextState: 'Shipping Cost', totals: { subtotal: 300 } });
  });
});

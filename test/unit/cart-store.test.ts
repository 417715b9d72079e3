/**
 * Unit tests of the cart store's compare-and-set under contention, with a stand-in collection whose
 * conditional write never matches (every round lost to another writer). The integration tests in
 * test/carts.test.ts drive the same paths against the real server.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Collection } from 'mongodb';
import { BUSINESS_ERROR_TYPES } from '../../src/contract';
import { CartRepository, cartProblem, casBackoffMs, type CartDoc } from '../../src/db';
import { CART_CONTENDED, CartContendedError } from '../../src/contract';
import { toRetryableFailure } from '../../src/contract/failures';

/** A carts collection where the cart is always there and every fenced write loses. */
function alwaysContended(doc: CartDoc): { carts: Collection<CartDoc>; writes: () => number } {
  let writes = 0;
  const carts = {
    db: { collection: () => ({}) },
    findOne: () => Promise.resolve({ ...doc }),
    findOneAndUpdate: () => {
      writes++;
      return Promise.resolve(null);
    },
  } as unknown as Collection<CartDoc>;
  return { carts, writes: () => writes };
}

const locked: CartDoc = {
  _id: 'cart-1',
  status: 'Checkout',
  items: [{ sku: 'SKU-1', quantity: 1 }],
  version: 3,
  checkout: {
    sessionId: 's-1',
    workflowId: 'checkout-cart-1',
    state: 'Checkout Summary',
    nextState: 'Checkout Summary',
    isProcessing: false,
    isError: false,
    isArchived: false,
    backgroundOperation: { id: 'bgop-s-1', status: 'Running' },
    startedAt: new Date(0),
  },
};

test('a cancel that loses every round ends with the retryable CartContendedError', async () => {
  const { carts, writes } = alwaysContended(locked);
  const repo = new CartRepository(carts, { maxRounds: 6, backoffMs: () => 0 });
  const err = await repo.cancel({ cartId: 'cart-1', sessionId: 's-1', reason: 'REQUESTED' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CartContendedError);
  expect(err).toMatchObject({ cartId: 'cart-1', rounds: 6 });
  expect(writes()).toBe(6);
});

test('its failure is retryable: type CART_CONTENDED, not a business error type', () => {
  const failure = toRetryableFailure(new CartContendedError('cart-1', 25));
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: CART_CONTENDED, nonRetryable: false, details: [{ cartId: 'cart-1', rounds: 25 }] });
  expect(BUSINESS_ERROR_TYPES as string[]).not.toContain(CART_CONTENDED);
});

test('the default backoff between rounds is jittered, grows with the round, and stays bounded', () => {
  const samples = (round: number) => Array.from({ length: 200 }, () => casBackoffMs(round));
  for (let round = 1; round < 25; round++) {
    const s = samples(round);
    expect(Math.min(...s)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s)).toBeLessThanOrEqual(Math.min(500, 5 * 2 ** round));
  }
  expect(new Set(samples(3)).size).toBeGreaterThan(1);
  expect(Math.max(...samples(20))).toBeGreaterThan(Math.max(...samples(1)));
});

test.each([
  [{ version: 0 }, undefined],
  [{ version: undefined }, undefined],
  [{ items: undefined }, undefined],
  [{ version: null }, 'version'],
  [{ version: '0' }, 'version'],
  [{ status: 'Locked' }, 'status'],
  [{ items: 'SKU-1' }, 'items'],
  [{ items: [{ sku: 'A', quantity: '1' }] }, 'items.0'],
  [{ archivedSessions: {} }, 'archivedSessions'],
  [{ checkout: { state: 'Start' } }, 'checkout.sessionId'],
])('cartProblem(%j) names %s', (fields, field) => {
  const doc = { _id: 'c', status: 'Active', items: [{ sku: 'A', quantity: 1 }], ...fields } as unknown as CartDoc;
  expect(cartProblem(doc)?.field).toBe(field);
});

/**
 * Unit tests of the cart's transitions as decisions taken from the cart as read: which write (and
 * fence) each one makes, and when a repeat answers without one. No server: these are plain
 * functions. test/carts.test.ts drives the same transitions through the repository against the real
 * MongoDB-wire server.
 */
import { CLOSED_CART_MESSAGE, CheckoutError } from '../../src/contract';
import type { CartDoc, CheckoutSessionDoc } from '../../src/db';
import { decideCancel, decideItemChange, decideLock, decidePlaceOrder, decideStep } from '../../src/db/cart-transitions';
import { fence, type Decision } from '../../src/db/cart-writes';
import { sessionDoc } from '../harness/docs';

const session = (sessionId: string, workflowId = 'checkout-c1'): CheckoutSessionDoc => sessionDoc(sessionId, { workflowId, state: 'Taxes' });

const active: CartDoc = { _id: 'c1', status: 'Active', items: [{ sku: 'SKU-1', quantity: 2 }], version: 4 };
const locked: CartDoc = { ...active, status: 'Checkout', version: 5, checkout: session('s1') };
const lockInput = { cartId: 'c1', sessionId: 's2', workflowId: 'checkout-c1' };

function writeOf<R>(decision: Decision<R>): Record<string, Record<string, unknown>> {
  if (!('write' in decision)) throw new Error('expected a write');
  return decision.write as Record<string, Record<string, unknown>>;
}

async function refusal(decide: () => unknown): Promise<CheckoutError> {
  try {
    await decide();
  } catch (err) {
    if (err instanceof CheckoutError) return err;
    throw err;
  }
  throw new Error('expected a CheckoutError');
}

test('a write is fenced on the version, status and session read; a missing version must still be missing', () => {
  expect(fence(locked)).toEqual({ _id: 'c1', version: 5, status: 'Checkout', 'checkout.sessionId': 's1' });
  expect(fence({ _id: 'c1', status: 'Active' })).toEqual({
    _id: 'c1',
    version: { $exists: false },
    status: 'Active',
    'checkout.sessionId': { $exists: false },
  });
});

test('lock: an Active cart gets a new Running session; the same session again answers without a write', async () => {
  const $set = writeOf(await decideLock(active, lockInput)).$set;
  expect($set).toMatchObject({ status: 'Checkout', checkout: { sessionId: 's2', state: 'Start', backgroundOperation: { status: 'Running' } } });
  expect(await decideLock(locked, { ...lockInput, sessionId: 's1' })).toEqual({ result: locked });
});

test('lock: a holder under another workflow ID, or a live run of ours, is a conflict; a closed run of ours is superseded', async () => {
  expect((await refusal(() => decideLock({ ...locked, checkout: session('s1', 'checkout-other') }, lockInput))).errorCode).toBe('CHECKOUT_CONFLICT');
  expect((await refusal(() => decideLock(locked, lockInput, () => Promise.resolve(true)))).errorCode).toBe('CHECKOUT_CONFLICT');
  const decision = await decideLock(locked, lockInput, () => Promise.resolve(false));
  expect(writeOf(decision).$set).toMatchObject({ checkout: { sessionId: 's2' }, archivedSessionCount: 1 });
  expect(decision.archives).toEqual([
    expect.objectContaining({ sessionId: 's1', isArchived: true, cancelReason: 'SUPERSEDED', backgroundOperation: { id: 'bgop-s1', status: 'Canceled' } }),
  ]);
});

test('lock: an archived session, a Closed or an empty cart is refused with INVALID_OPERATION', async () => {
  const ended = await refusal(() => decideLock({ ...active, archivedSessions: [session('s2')] }, lockInput));
  expect(ended).toMatchObject({ errorCode: 'INVALID_OPERATION', details: { archived: true } });
  expect((await refusal(() => decideLock({ ...active, status: 'Closed' }, lockInput))).errorCode).toBe('INVALID_OPERATION');
  expect((await refusal(() => decideLock({ ...active, items: [] }, lockInput))).errorCode).toBe('INVALID_OPERATION');
});

test('step: a recorded step is not begun again, and a session that no longer holds the cart writes nothing', () => {
  expect(decideStep(locked, 's1', 'Taxes', 'begin')).toEqual({ result: { held: true, recorded: true, doc: locked } });
  expect(decideStep(locked, 's9', 'Checkout Summary', 'end')).toEqual({ result: { held: false, recorded: false, doc: locked } });
  expect(writeOf(decideStep(locked, 's1', 'Checkout Summary', 'end', { subtotal: 1 })).$set).toEqual({
    'checkout.state': 'Checkout Summary',
    'checkout.isProcessing': false,
    'checkout.totals': { subtotal: 1 },
  });
});

test('cancel: unlocks and archives its own session only; a repeat answers canceled again; a Closed cart is refused', async () => {
  const decision = decideCancel(locked, { cartId: 'c1', sessionId: 's1', reason: 'REQUESTED' });
  expect(writeOf(decision)).toMatchObject({ $set: { status: 'Active', archivedSessionCount: 1 }, $unset: { checkout: '' } });
  const canceled = decision.archives![0];
  expect(decideCancel(locked, { cartId: 'c1', sessionId: 's9', reason: 'REQUESTED' })).toEqual({ result: { canceled: false, doc: locked } });
  const after: CartDoc = { ...active, archivedSessions: [canceled] };
  expect(decideCancel(after, { cartId: 'c1', sessionId: 's1', reason: 'REQUESTED' })).toEqual({
    result: { canceled: true, doc: after, recent: true },
    archives: [canceled],
  });
  const closed = await refusal(() => decideCancel({ ...active, status: 'Closed' }, { cartId: 'c1', reason: 'REQUESTED' }));
  expect(closed).toMatchObject({ errorCode: 'INVALID_OPERATION', message: CLOSED_CART_MESSAGE });
});

test('place order: only the holder closes the cart; its own earlier success answers without a write', async () => {
  expect(writeOf(decidePlaceOrder(locked, { cartId: 'c1', sessionId: 's1', orderId: 'o1' })).$set).toMatchObject({ status: 'Closed', orderId: 'o1' });
  expect((await refusal(() => decidePlaceOrder(locked, { cartId: 'c1', sessionId: 's9', orderId: 'o1' }))).errorCode).toBe('INVALID_OPERATION');
  const closed: CartDoc = { ...active, status: 'Closed', orderId: 'o1' };
  expect(decidePlaceOrder(closed, { cartId: 'c1', sessionId: 's1', orderId: 'o1' })).toEqual({ result: closed, archives: [] });
});

test('item change: a repeated request id answers duplicate, a locked cart answers locked, neither writes', () => {
  const change = { op: 'add', sku: 'SKU-2', quantity: 1 } as const;
  const seen: CartDoc = { ...active, appliedChanges: [{ requestId: 'r1', at: new Date(0) }] };
  expect(decideItemChange(seen, change, 'r1')).toEqual({ result: { locked: false, duplicate: true, doc: seen } });
  expect(decideItemChange(locked, change, 'r2')).toEqual({ result: { locked: true, duplicate: false, doc: locked } });
  const write = writeOf(decideItemChange(active, change, 'r2'));
  expect(write.$set).toEqual({
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ],
  });
  expect(write.$push).toMatchObject({ appliedChanges: { $each: [{ requestId: 'r2' }], $slice: -100 } });
});

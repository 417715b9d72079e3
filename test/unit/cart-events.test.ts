/**
 * Unit tests of cart events as decided: which event each transition records, how the outbox write
 * numbers them, and the refusal recorded once per session. Plain functions, no server;
 * test/events.test.ts runs the same through the store, the relay and GET /events.
 */
import { CART_EVENT_TYPES, CLOSED_CART_MESSAGE, cartEventId, type CartEventInput } from '../../src/contract';
import type { CartDoc, CheckoutSessionDoc } from '../../src/db';
import { recalculatedEvent } from '../../src/db/cart-events';
import { decideCancel, decideCancelRefused, decideItemChange, decideLock, decidePlaceOrder, decideStep } from '../../src/db/cart-transitions';
import { outboxWrite, type Decision } from '../../src/db/cart-writes';
import { sessionDoc } from '../harness/docs';

const session = (sessionId: string, workflowId = 'checkout-c1'): CheckoutSessionDoc =>
  sessionDoc(sessionId, { workflowId, totals: { subtotal: 500, shipping: 0, tax: 50, total: 550 } });

const active: CartDoc = { _id: 'c1', status: 'Active', webstoreId: 'store-1', items: [{ sku: 'SKU-1', quantity: 2 }], version: 4, eventSeq: 6 };
const locked: CartDoc = { ...active, status: 'Checkout', version: 5, checkout: session('s1') };
const closed: CartDoc = { ...active, status: 'Closed', orderId: 'o1' };

function eventsOf<R>(decision: Decision<R>): CartEventInput[] | undefined {
  if (!('write' in decision)) throw new Error('expected a write');
  return decision.events;
}

test('every transition that writes records its event; a step records none', async () => {
  expect(eventsOf(await decideLock(active, { cartId: 'c1', sessionId: 's2', workflowId: 'checkout-c1', requestedBy: 'svc' }))).toEqual([
    { type: 'checkout.started', data: { sessionId: 's2', workflowId: 'checkout-c1', requestedBy: 'svc' } },
  ]);
  // A lock that takes over its own workflow's closed run: the old session cancelled, the new one started, one write.
  const supersede = eventsOf(await decideLock(locked, { cartId: 'c1', sessionId: 's2', workflowId: 'checkout-c1' }, async () => false));
  expect(supersede?.map((e) => [e.type, (e.data as { sessionId?: string }).sessionId])).toEqual([
    ['checkout.canceled', 's1'],
    ['checkout.started', 's2'],
  ]);
  expect(eventsOf(decideCancel(locked, { cartId: 'c1', sessionId: 's1', reason: 'ADD_TO_CART', requestedBy: 'buyer' }))).toEqual([
    { type: 'checkout.canceled', data: { sessionId: 's1', reason: 'ADD_TO_CART', requestedBy: 'buyer' } },
  ]);
  expect(eventsOf(decideCancel(locked, { cartId: 'c1', sessionId: 's1', reason: 'EXPIRED', requestedBy: 'lease' }))).toEqual([
    { type: 'checkout.expired', data: { sessionId: 's1', reason: 'EXPIRED', requestedBy: 'lease' } },
  ]);
  expect(eventsOf(decidePlaceOrder(locked, { cartId: 'c1', sessionId: 's1', orderId: 'o1' }))).toEqual([
    { type: 'order.placed', data: { sessionId: 's1', orderId: 'o1', totals: { subtotal: 500, shipping: 0, tax: 50, total: 550 } } },
  ]);
  expect(eventsOf(decideItemChange(active, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r1'))).toEqual([
    { type: 'cart.items_changed', data: { change: { op: 'add', sku: 'SKU-2', quantity: 1 }, requestId: 'r1' } },
  ]);
  expect(eventsOf(decideStep({ ...locked, checkout: { ...session('s1'), state: 'Taxes' } }, 's1', 'Checkout Summary', 'begin'))).toBeUndefined();
  expect(recalculatedEvent('s1', { requestId: undefined, change: { op: 'remove', sku: 'SKU-1' } })).toEqual({
    type: 'checkout.recalculated',
    data: { sessionId: 's1', change: { op: 'remove', sku: 'SKU-1' } },
  });
});

test("the outbox write numbers events after the cart's last one, in one $set and one $push", () => {
  const at = new Date(1000);
  const written = outboxWrite(
    active,
    [
      { type: 'checkout.canceled', data: { sessionId: 's1', reason: 'R' } },
      { type: 'checkout.started', data: { sessionId: 's2', workflowId: 'w' } },
    ],
    at,
  );
  expect(written.$set).toEqual({ eventSeq: 8, outboxPending: true });
  expect(written.push.map((e) => [e.seq, e.type, e.cartId, e.webstoreId, e.at])).toEqual([
    [7, 'checkout.canceled', 'c1', 'store-1', at],
    [8, 'checkout.started', 'c1', 'store-1', at],
  ]);
  expect(outboxWrite({ _id: 'foreign', status: 'Active' }, [{ type: 'cart.items_changed', data: { change: { op: 'remove', sku: 'S' } } }], at).push[0]).toEqual(
    {
      seq: 1,
      type: 'cart.items_changed',
      cartId: 'foreign',
      at,
      data: { change: { op: 'remove', sku: 'S' } },
    },
  );
  expect(cartEventId('c1', 7)).toBe('c1:7');
  expect(new Set(CART_EVENT_TYPES).size).toBe(CART_EVENT_TYPES.length);
});

test('a refused cancel is recorded on the Closed cart once per session; without a session each time', () => {
  const input = { cartId: 'c1', sessionId: 's9', reason: 'REQUESTED', requestedBy: 'billing' };
  const first = decideCancelRefused(closed, input, CLOSED_CART_MESSAGE);
  expect(eventsOf(first)).toEqual([
    {
      type: 'checkout.cancel_refused',
      data: { sessionId: 's9', reason: 'REQUESTED', requestedBy: 'billing', errorCode: 'INVALID_OPERATION', message: CLOSED_CART_MESSAGE },
    },
  ]);
  expect('write' in first && first.write).toMatchObject({ $push: { cancelRefusals: { $each: ['s9'] } } });
  expect('write' in decideCancelRefused({ ...closed, cancelRefusals: ['s9'] }, input, CLOSED_CART_MESSAGE)).toBe(false);
  expect('write' in decideCancelRefused({ ...closed, cancelRefusals: ['s9'] }, { cartId: 'c1', reason: 'REQUESTED' }, CLOSED_CART_MESSAGE)).toBe(true);
  expect('write' in decideCancelRefused(active, input, CLOSED_CART_MESSAGE)).toBe(false);
});

/**
 * The events the cart transitions record, one helper per type, so a decision adds its event in one
 * line (`events: [startedEvent(session)]`). The store numbers them and writes them into the cart's
 * outbox in the transition's own write (./cart-writes `outboxWrite`); the relay (./event-relay) moves
 * them into the `events` collection.
 */
import { LEASE_EXPIRED_REASON, type CancelInput, type CartEventInput, type CartItem, type ItemChange, type Totals } from '../contract';
import type { CheckoutSessionDoc } from './cart-docs';

const requestedByOf = (requestedBy: string | undefined) => (requestedBy ? { requestedBy } : {});

export function createdEvent(accountId: string | undefined, items: CartItem[]): CartEventInput {
  return { type: 'cart.created', data: { ...(accountId ? { accountId } : {}), items: items.map((i) => ({ ...i })) } };
}

export function itemsChangedEvent(change: ItemChange, requestId: string | undefined): CartEventInput {
  return { type: 'cart.items_changed', data: { change, ...(requestId !== undefined ? { requestId } : {}) } };
}

export function startedEvent(session: CheckoutSessionDoc): CartEventInput {
  return {
    type: 'checkout.started',
    data: { sessionId: session.sessionId, workflowId: session.workflowId, ...requestedByOf(session.requestedBy) },
  };
}

/** A cancel that unlocked the cart: `checkout.expired` when the lease ran out, else `checkout.canceled`. */
export function canceledEvent(sessionId: string, reason: string, requestedBy: string | undefined): CartEventInput {
  const data = { sessionId, reason, ...requestedByOf(requestedBy) };
  return reason === LEASE_EXPIRED_REASON ? { type: 'checkout.expired', data } : { type: 'checkout.canceled', data };
}

/** A cancel refused because the cart is Closed (INVALID_OPERATION). */
export function cancelRefusedEvent(input: CancelInput, message: string): CartEventInput {
  return {
    type: 'checkout.cancel_refused',
    data: {
      ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
      reason: input.reason,
      ...requestedByOf(input.requestedBy),
      errorCode: 'INVALID_OPERATION',
      message,
    },
  };
}

export function orderPlacedEvent(sessionId: string, orderId: string, totals: Totals | undefined): CartEventInput {
  return { type: 'order.placed', data: { sessionId, orderId, ...(totals ? { totals } : {}) } };
}

/** For the checkout policy `recalculate`: an item change applied through the running checkout, or its new totals. */
export function recalculatedEvent(sessionId: string, what: { change?: ItemChange; requestId?: string; totals?: Totals } = {}): CartEventInput {
  const given = Object.fromEntries(Object.entries(what).filter(([, v]) => v !== undefined));
  return { type: 'checkout.recalculated', data: { sessionId, ...given } };
}

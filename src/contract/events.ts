/**
 * Cart events (issue 12): what each cart transition records in its own write, and the shape of the
 * `events` collection and of `GET /events` that other services read. Defined here only.
 */
import type { ItemChange, Totals } from './types';

/** Every event type, in the order a cart usually meets them. */
export const CART_EVENT_TYPES = [
  'cart.created',
  'cart.items_changed',
  'checkout.started',
  'checkout.recalculated',
  'checkout.canceled',
  'checkout.expired',
  'checkout.cancel_refused',
  'order.placed',
] as const;
export type CartEventType = (typeof CART_EVENT_TYPES)[number];

/** The `data` of each event type (fields may be added later; readers ignore what they do not know). */
export interface CartEventData {
  'cart.created': { accountId?: string; items: { sku: string; quantity: number }[] };
  'cart.items_changed': { change: ItemChange; requestId?: string };
  'checkout.started': { sessionId: string; workflowId: string; requestedBy?: string };
  'checkout.recalculated': { sessionId: string; change?: ItemChange; requestId?: string; totals?: Totals };
  'checkout.canceled': { sessionId: string; reason: string; requestedBy?: string };
  'checkout.expired': { sessionId: string; reason: string; requestedBy?: string };
  'checkout.cancel_refused': { sessionId?: string; reason: string; requestedBy?: string; errorCode: 'INVALID_OPERATION'; message: string };
  'order.placed': { sessionId: string; orderId: string; totals?: Totals };
}

/** An event as a transition decides it; the store adds its sequence number, cart, store and time. */
export type CartEventInput = { [T in CartEventType]: { type: T; data: CartEventData[T] } }[CartEventType];

/** One event of `GET /events`: `id` is `<cartId>:<seq>` (unique, for deduplication), `cursor` its place in the feed. */
export interface EventView {
  id: string;
  cursor: string;
  type: CartEventType;
  cartId: string;
  webstoreId?: string;
  /** ISO 8601, the time of the cart write that recorded it. */
  at: string;
  data: Record<string, unknown>;
}

export interface EventPage {
  events: EventView[];
  /** The cursor to pass as `after` next time: the last event's, or `after` itself when there was none. */
  next: string;
}

/** `GET /events` page sizes. */
export const EVENTS_PAGE = { defaultLimit: 100, maxLimit: 1000 } as const;

/** The stable, unique id of a cart's `seq`-th event. */
export function cartEventId(cartId: string, seq: number): string {
  return `${cartId}:${seq}`;
}

/** The cancel reason of a checkout whose lease ran out: its event is `checkout.expired`, not `checkout.canceled`. */
export const LEASE_EXPIRED_REASON = 'EXPIRED';

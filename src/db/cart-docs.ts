/**
 * The cart documents as MongoDB holds them, and the plain JSON views callers get of them (the views
 * themselves are part of the contract). One document per cart holds its status, items, version, the
 * current checkout session and its most recent archived sessions, so that every transition is one
 * atomic single-document write. Every archived session is also kept, one document each, in
 * `checkout_sessions`.
 */
import type { CartEventType, CartItem, CartStatus, CartView, SessionView } from '../contract';

/** Archived sessions kept in the cart document; older ones are only in checkout_sessions. */
export const RECENT_SESSIONS_KEPT = 20;
/** Request ids of applied item changes kept in the cart, to recognise a repeated request. */
export const APPLIED_CHANGES_KEPT = 100;

/** A checkout session as stored: its view, with dates as BSON dates. */
export interface CheckoutSessionDoc extends Omit<SessionView, 'startedAt' | 'archivedAt'> {
  startedAt: Date;
  archivedAt?: Date;
}

/** One archived session in `checkout_sessions`: `_id` is the session id. */
export interface SessionRecord extends CheckoutSessionDoc {
  _id: string;
  cartId: string;
}

export interface AppliedChange {
  requestId: string;
  at: Date;
  /** Set when the change was applied through the running checkout (checkoutPolicy `recalculate`): its session. */
  sessionId?: string;
  /** With sessionId: the session's recalculation the change started. */
  recalculation?: number;
}

export interface CartDoc {
  _id: string;
  status: CartStatus;
  webstoreId?: string;
  accountId?: string;
  ownerId?: string;
  items?: CartItem[];
  version?: number;
  checkout?: CheckoutSessionDoc | null;
  /** The most recent archived sessions, oldest first (at most RECENT_SESSIONS_KEPT). */
  archivedSessions?: CheckoutSessionDoc[];
  /** Every session ever archived on this cart, including those no longer in archivedSessions. */
  archivedSessionCount?: number;
  appliedChanges?: AppliedChange[];
  orderId?: string;
  createdAt?: Date;
  updatedAt?: Date;
  // ---- Cart events (issue 12): the outbox the transition's own write fills and the relay empties.
  /** Events recorded by this cart's writes and not yet relayed into `events`, oldest first. */
  outbox?: OutboxEvent[];
  /** The seq of the cart's last recorded event (0 or absent: none yet). */
  eventSeq?: number;
  /** Set while the outbox may hold events: the relay finds such carts by a sparse index on it. */
  outboxPending?: boolean;
  /** Sessions whose cancel was refused on this Closed cart (so a retried refusal records its event once). */
  cancelRefusals?: string[];
}

/** An event in a cart's outbox: its per-cart `seq`, where and when it happened. */
export interface OutboxEvent {
  seq: number;
  type: CartEventType;
  cartId: string;
  webstoreId?: string;
  at: Date;
  data: Record<string, unknown>;
}

function sessionView(s: CheckoutSessionDoc): SessionView {
  const { startedAt, archivedAt, ...rest } = s;
  return {
    ...rest,
    startedAt: new Date(startedAt).toISOString(),
    ...(archivedAt ? { archivedAt: new Date(archivedAt).toISOString() } : {}),
  };
}

/** Sessions ever archived on the cart; carts archived before the count existed count their list. */
export function archivedCount(doc: CartDoc): number {
  return doc.archivedSessionCount ?? (doc.archivedSessions ?? []).length;
}

export function cartView(doc: CartDoc): CartView {
  return {
    cartId: doc._id,
    status: doc.status,
    ...(doc.webstoreId !== undefined ? { webstoreId: doc.webstoreId } : {}),
    ...(doc.accountId !== undefined ? { accountId: doc.accountId } : {}),
    items: (doc.items ?? []).map((i) => ({ ...i })),
    version: doc.version ?? 0,
    ...(doc.orderId ? { orderId: doc.orderId } : {}),
    ...(doc.checkout ? { checkout: sessionView(doc.checkout) } : {}),
    archivedSessions: (doc.archivedSessions ?? []).map(sessionView),
    archivedSessionCount: archivedCount(doc),
  };
}

/**
 * The pieces every cart write is made of: the decision a compare-and-set round takes, the fence
 * that makes the write match only the cart that was read, and the archiving of sessions into the
 * cart's bounded list.
 */
import type { Filter, UpdateFilter } from 'mongodb';
import type { BackgroundOperationStatus, CartEventInput } from '../contract';
import { RECENT_SESSIONS_KEPT, archivedCount, type CartDoc, type CheckoutSessionDoc, type OutboxEvent } from './cart-docs';

/**
 * What a compare-and-set round decided: a write (fenced on the cart it read) or an answer without
 * one. `archives` are sessions this write archives (or an earlier attempt archived): they are
 * upserted into checkout_sessions after the cart write, again on a retry. `events` are recorded in
 * the cart's outbox by the same write (no event without its transition, no transition without its event).
 */
export type Decision<R> =
  | { write: UpdateFilter<CartDoc>; archives?: CheckoutSessionDoc[]; events?: CartEventInput[]; result: (written: CartDoc) => R }
  | { result: R; archives?: CheckoutSessionDoc[] };

/**
 * The write's condition: exactly the cart we read. The version alone is not enough: another service
 * may change the status (close the cart) without bumping it, so status and session id fence too.
 */
export function fence(doc: CartDoc): Filter<CartDoc> {
  return {
    _id: doc._id,
    version: doc.version === undefined ? { $exists: false } : doc.version,
    status: doc.status,
    'checkout.sessionId': doc.checkout ? doc.checkout.sessionId : { $exists: false },
  } as Filter<CartDoc>;
}

/** The `$push` and count of archiving sessions, keeping the cart's list bounded. */
export function archiveWrite(doc: CartDoc, sessions: CheckoutSessionDoc[]): { $push: UpdateFilter<CartDoc>['$push']; count: number } {
  return {
    $push: { archivedSessions: { $each: sessions, $slice: -RECENT_SESSIONS_KEPT } } as UpdateFilter<CartDoc>['$push'],
    // The count is set, not $inc'ed: the write is fenced on the version read, so the value is exact,
    // and carts archived before the count existed start from their list's length.
    count: archivedCount(doc) + sessions.length,
  };
}

/** Sessions that fall off the cart's bounded list when `pushed` are added. */
export function droppedBy(doc: CartDoc, pushed: number): CheckoutSessionDoc[] {
  const list = doc.archivedSessions ?? [];
  return list.slice(0, Math.max(0, list.length + pushed - RECENT_SESSIONS_KEPT));
}

/** The session as archived: no longer processing, its background operation in its final status. */
export function archived(session: CheckoutSessionDoc, operationStatus: BackgroundOperationStatus, extra: Partial<CheckoutSessionDoc>): CheckoutSessionDoc {
  return {
    ...session,
    ...extra,
    isArchived: true,
    isProcessing: false,
    backgroundOperation: { ...session.backgroundOperation, status: operationStatus },
    archivedAt: new Date(),
  };
}

/**
 * The part of a write that records `events` in the cart's outbox, numbered after the cart's last
 * event. `eventSeq` is set, not $inc'ed: the write is fenced on the version read, so the value is
 * exact, and a write that matches nothing records nothing. `$push` appends: the relay's removals
 * ($pull of what it relayed) never touch events written after its read.
 */
export function outboxWrite(doc: CartDoc, events: CartEventInput[], at: Date): { $set: Partial<CartDoc>; push: OutboxEvent[] } {
  const last = doc.eventSeq ?? 0;
  const push = events.map((e, i) => ({
    seq: last + i + 1,
    type: e.type,
    cartId: doc._id,
    ...(doc.webstoreId !== undefined ? { webstoreId: doc.webstoreId } : {}),
    at,
    data: e.data as Record<string, unknown>,
  }));
  return { $set: { eventSeq: last + events.length, outboxPending: true }, push };
}

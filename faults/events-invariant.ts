/**
 * The cart events' invariant (issue 12), checked after quiescence once the relays have emptied the
 * outboxes: every transition a cart went through has its event in the feed exactly once, in order.
 * Read from the cart itself rather than the ledger: each archived session was archived by a cancel
 * or an order (one `checkout.canceled`/`checkout.expired`/`order.placed` each) and each session,
 * archived or holding the cart, was started once (`checkout.started`); a cart's events carry the
 * seqs 1..eventSeq once each, their cursors increasing with the seq.
 */
import type { Collection } from 'mongodb';
import type { CartDoc, EventDoc } from '../src/db';
import { eventsCollection } from '../src/db';
import { sleep } from './log';

export interface EventViolation {
  cartIds: string[];
  detail: string;
}

/** Waits (bounded) until no cart of the run has events waiting in its outbox; the carts still pending. */
async function drained(carts: Collection<CartDoc>, cartIds: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = (await carts.find({ _id: { $in: cartIds }, outboxPending: true }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    if (pending.length === 0 || Date.now() > deadline) return pending;
    await sleep(250);
  }
}

export async function eventViolations(carts: Collection<CartDoc>, cartIds: string[], timeoutMs = 30000): Promise<EventViolation[]> {
  const out: EventViolation[] = [];
  const pending = await drained(carts, cartIds, timeoutMs);
  if (pending.length > 0) out.push({ cartIds: pending, detail: `events still in the outbox ${timeoutMs / 1000}s after quiescence (no relay running?)` });
  const events = eventsCollection(carts.db);
  for (const doc of await carts.find({ _id: { $in: cartIds } }).toArray()) {
    if (pending.includes(doc._id)) continue;
    const detail = cartProblems(doc, await events.find({ cartId: doc._id }).sort({ _id: 1 }).toArray());
    if (detail) out.push({ cartIds: [doc._id], detail });
  }
  return out;
}

function cartProblems(doc: CartDoc, events: EventDoc[]): string | undefined {
  const seqs = events.map((e) => Number(e.eventId.slice(doc._id.length + 1)));
  const expected = Array.from({ length: doc.eventSeq ?? 0 }, (_, i) => i + 1);
  if (JSON.stringify(seqs) !== JSON.stringify(expected))
    return `events in cursor order have seqs [${seqs.join(',')}], expected 1..${doc.eventSeq ?? 0} once each`;
  const count = (...types: string[]) => events.filter((e) => types.includes(e.type)).length;
  const archived = doc.archivedSessionCount ?? (doc.archivedSessions ?? []).length;
  const holding = doc.status === 'Checkout' ? 1 : 0;
  // Carts written before events existed (or by another service) have fewer: only carts created with their event are counted.
  if (count('cart.created') === 0) return undefined;
  if (count('checkout.started') !== archived + holding) return `${count('checkout.started')} checkout.started for ${archived + holding} sessions`;
  if (count('checkout.canceled', 'checkout.expired', 'order.placed') !== archived) {
    return `${count('checkout.canceled', 'checkout.expired', 'order.placed')} cancel/expiry/order events for ${archived} archived sessions`;
  }
  const placed = events.filter((e) => e.type === 'order.placed');
  if (doc.status === 'Closed' ? placed.length !== 1 || placed[0].data.orderId !== doc.orderId : placed.length !== 0) {
    return `order.placed ${JSON.stringify(placed.map((e) => e.data.orderId))} for a ${doc.status} cart with order ${doc.orderId ?? '(none)'}`;
  }
  return undefined;
}

/**
 * The event feed: the `events` collection the relay (./event-relay) fills from the carts' outboxes,
 * and its reader. `_id` is the global cursor (1, 2, 3, ... without gaps, in the order the relay
 * appended them), `eventId` is `<cartId>:<seq>` (unique). Cursor N+1 is written only by a relay that
 * has seen N, so a reader asking for `_id > after` in order never skips an event.
 */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS, type CartEventType, type EventPage, type EventView } from '../contract';
import { cartsCollection } from './cart-collections';
import { storeCall } from './unavailable';

export interface EventDoc {
  _id: number;
  eventId: string;
  type: CartEventType;
  cartId: string;
  webstoreId?: string;
  at: Date;
  data: Record<string, unknown>;
}

export function eventsCollection(db: Db): Collection<EventDoc> {
  return db.collection<EventDoc>(COLLECTIONS.events);
}

/**
 * The unique eventId is what makes the relay exactly-once (a second insert of an event fails), so
 * nothing is relayed before it exists. Carts with pending events are found through a sparse index
 * on `outboxPending` (only those carts carry the field), not a collection scan.
 */
export async function ensureEventIndexes(db: Db): Promise<void> {
  await eventsCollection(db).createIndex({ eventId: 1 }, { unique: true, name: 'event_id' });
  await cartsCollection(db).createIndex({ outboxPending: 1 }, { sparse: true, name: 'outbox_pending' });
}

export function eventView(doc: EventDoc): EventView {
  return {
    id: doc.eventId,
    cursor: String(doc._id),
    type: doc.type,
    cartId: doc.cartId,
    ...(doc.webstoreId !== undefined ? { webstoreId: doc.webstoreId } : {}),
    at: new Date(doc.at).toISOString(),
    data: doc.data,
  };
}

/** Reads the feed in cursor order. */
export class EventLog {
  readonly events: Collection<EventDoc>;

  constructor(db: Db) {
    this.events = eventsCollection(db);
  }

  /** Up to `limit` events after cursor `after`, oldest first, and the cursor to continue from. */
  async page(after: number, limit: number): Promise<EventPage> {
    const docs = await storeCall(() =>
      this.events
        .find({ _id: { $gt: after } })
        .sort({ _id: 1 })
        .limit(limit)
        .toArray(),
    );
    return { events: docs.map(eventView), next: String(docs.length > 0 ? docs[docs.length - 1]._id : after) };
  }
}

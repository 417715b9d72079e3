/**
 * The relay: moves the events the cart transitions wrote into their carts' outboxes (in the same
 * write as the transition) into the `events` collection, in order per cart, without loss or
 * duplicates, without transactions (mongo-java-server has none). Per event:
 *
 * 1. insert it with `_id` = the last cursor + 1. A duplicate key on `eventId` means it was relayed
 *    already (another relay, or this one before a crash): nothing more to do. A duplicate on `_id`
 *    means another relay took that cursor: read the last cursor again and retry. A cursor is only
 *    ever written as the successor of one the writer has read, so the feed has no gaps and N+1
 *    is never visible before N.
 * 2. once a cart's events are in, remove them from its outbox: fenced on the cart's `eventSeq` (no
 *    event was recorded since the read) it empties the outbox and clears `outboxPending`; otherwise
 *    it pulls only the seqs it relayed, so an event written meanwhile is never removed.
 *
 * A crash between 1 and 2 leaves the event in the outbox: the next round finds it relayed (step 1's
 * duplicate) and removes it. A cart's events are inserted in seq order and a relay stops at a cart's
 * first failure, so a later event never gets an earlier cursor. Several relays at once are safe.
 *
 * The relay's writes to a cart leave `version` alone: they change no state a transition decides
 * from (only the outbox, by seq), so a transition fenced on the version it read, or a checkout's
 * remembered cart, stays valid, and relaying never makes a checkout's write read again.
 */
import type { Collection, Db } from 'mongodb';
import { cartEventId } from '../contract';
import type { CartDoc, OutboxEvent } from './cart-docs';
import { cartsCollection } from './cart-collections';
import { ensureEventIndexes, eventsCollection, type EventDoc } from './events';

export interface EventRelayOptions {
  /** Carts read per round (bounded batches). */
  cartsPerRound?: number;
  /** Pause after a round that found nothing to relay, in ms. */
  pollMs?: number;
  /** Where failures are reported (one line each). */
  log?: (line: string) => void;
}

const DUPLICATE_KEY = 11000;
const MAX_BACKOFF_MS = 5000;

const isDuplicateKey = (err: unknown) => (err as { code?: unknown }).code === DUPLICATE_KEY;

export class EventRelay {
  private readonly carts: Collection<CartDoc>;
  private readonly events: Collection<EventDoc>;
  private readonly cartsPerRound: number;
  private readonly pollMs: number;
  private readonly log: (line: string) => void;
  private indexes?: Promise<void>;
  /** The cursor this relay will try next; unknown (read it) at start and after another relay took one. */
  private nextCursor?: number;

  constructor(
    private readonly db: Db,
    options: EventRelayOptions = {},
  ) {
    this.carts = cartsCollection(db);
    this.events = eventsCollection(db);
    this.cartsPerRound = options.cartsPerRound ?? 100;
    this.pollMs = options.pollMs ?? 200;
    this.log = options.log ?? (() => undefined);
  }

  /** One round: the events of up to `cartsPerRound` carts with pending events. Returns how many events left outboxes. */
  async relayOnce(): Promise<number> {
    await this.ready();
    const pending = await this.carts
      .find({ outboxPending: true }, { projection: { _id: 1, outbox: 1, eventSeq: 1 } })
      .limit(this.cartsPerRound)
      .toArray();
    let moved = 0;
    for (const cart of pending) moved += await this.relayCart(cart);
    return moved;
  }

  /** A cart's outbox as read: each event appended in seq order, then removed from the outbox. */
  async relayCart(cart: Pick<CartDoc, '_id' | 'outbox' | 'eventSeq'>): Promise<number> {
    const outbox = [...(cart.outbox ?? [])].sort((a, b) => a.seq - b.seq);
    for (const event of outbox) await this.append(event);
    await this.removeRelayed(cart._id, cart.eventSeq ?? 0);
    return outbox.length;
  }

  /** Step 1: the event in the feed at the next cursor, or found there already. */
  async append(event: OutboxEvent): Promise<'inserted' | 'already'> {
    await this.ready();
    const eventId = cartEventId(event.cartId, event.seq);
    for (;;) {
      const cursor = this.nextCursor ?? (await this.lastCursor()) + 1;
      const doc: EventDoc = {
        _id: cursor,
        eventId,
        type: event.type,
        cartId: event.cartId,
        ...(event.webstoreId !== undefined ? { webstoreId: event.webstoreId } : {}),
        at: event.at,
        data: event.data,
      };
      try {
        await this.events.insertOne(doc);
        this.nextCursor = cursor + 1;
        return 'inserted';
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        this.nextCursor = undefined;
        // Which key: the event itself (relayed already), or only the cursor (another relay's): ask.
        if (await this.events.findOne({ eventId }, { projection: { _id: 1 } })) return 'already';
      }
    }
  }

  /**
   * Step 2: the events up to `seqRead` (the cart's eventSeq when its outbox was read: every one of
   * them was in that outbox, or had left it before) leave the outbox. With `eventSeq` still
   * `seqRead`, nothing was recorded since: the outbox is emptied and the cart leaves the pending
   * index in one write. Otherwise only those seqs are pulled, and the cart stays pending for the newer ones.
   */
  async removeRelayed(cartId: string, seqRead: number): Promise<void> {
    const cleared = await this.carts.updateOne({ _id: cartId, eventSeq: seqRead }, { $set: { outbox: [] }, $unset: { outboxPending: '' } });
    if (cleared.matchedCount > 0) return;
    await this.carts.updateOne({ _id: cartId }, { $pull: { outbox: { seq: { $lte: seqRead } } } });
  }

  /**
   * Rounds until `signal` aborts: at once again after a round that moved events, after `pollMs`
   * when there was nothing, backing off (up to 5 s) while MongoDB fails.
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let moved = 0;
      try {
        moved = await this.relayOnce();
        failures = 0;
      } catch (err) {
        failures++;
        this.nextCursor = undefined;
        if (failures === 1 || failures % 50 === 0) this.log(`event relay: ${err instanceof Error ? err.message : String(err)} (failure ${failures}); retrying`);
      }
      if (moved === 0) await pause(failures > 0 ? Math.min(MAX_BACKOFF_MS, this.pollMs * 2 ** failures) : this.pollMs, signal);
    }
  }

  private async lastCursor(): Promise<number> {
    const last = await this.events
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .next();
    return last ? last._id : 0;
  }

  private ready(): Promise<void> {
    this.indexes ??= ensureEventIndexes(this.db).catch((err: unknown) => {
      this.indexes = undefined;
      throw err;
    });
    return this.indexes;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

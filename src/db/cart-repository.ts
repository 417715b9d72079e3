/**
 * The cart store. One document per cart holds its status, items, version, the current checkout
 * session and its most recent archived sessions, so that every transition (lock, step, cancel, place
 * order, item change) is one atomic single-document conditional write: no multi-document transactions.
 *
 * Every write bumps `version` and is fenced on what it read (version, status and the session id
 * holding the cart), so a stale writer, or another service that writes without bumping the version,
 * makes it match nothing. Activities run at least once, so every operation here is idempotent:
 * repeating it after a success changes nothing and answers the same.
 *
 * The cart keeps only its last RECENT_SESSIONS_KEPT archived sessions (a document is read whole by
 * every compare-and-set and may not outgrow 16 MB); every archived session is also kept, one
 * document each, in `checkout_sessions`.
 *
 * A checkout's own transitions (its steps, its cancel) come one after another from the worker that
 * wrote the cart last, so the store remembers each cart in Checkout as it last read or wrote it, and
 * such a transition decides from that cart and writes at once: ONE conditional write, fenced on the
 * version, status, session and the whole checkout session remembered. Only when it matches nothing
 * (another writer came in between) is the cart read, to tell why and decide again.
 */
import type { AnyBulkWriteOperation, Collection, Filter, UpdateFilter } from 'mongodb';
import {
  CartContendedError,
  CheckoutError,
  assertCartId,
  itemChangeProblem,
  type BackgroundStep,
  type CancelInput,
  type CartItem,
  type ItemChange,
  type LockInput,
  type PlaceOrderInput,
  type RecalculateInput,
  type Totals,
} from '../contract';
import type { CartDoc, CheckoutSessionDoc, SessionRecord } from './cart-docs';
import { createdEvent } from './cart-events';
import { sessionsCollection } from './cart-collections';
import { assertWellFormed } from './cart-problems';
import {
  decideCancel,
  decideCancelRefused,
  decideItemChange,
  decideLock,
  decidePlaceOrder,
  decideRecalculation,
  decideStep,
  sessionEnded,
  type CancelDecided,
  type HolderIsLive,
  type ItemsChanged,
  type RecalculationDecided,
  type StepMark,
} from './cart-transitions';
import { droppedBy, fence, outboxWrite, type Decision } from './cart-writes';
import { StorePricing, type BookPrices } from './prices';

export interface CartRepositoryOptions {
  /** Compare-and-set rounds before giving up with the retryable CartContendedError. */
  maxRounds?: number;
  /** Pause before round `round` (1-based), in ms. Default: full jitter, exponential, capped at 500 ms. */
  backoffMs?: (round: number) => number;
  /** Called before each pause (activities heartbeat here, so a long contention is not taken for a lost worker). */
  onContention?: (round: number) => void;
}

const DEFAULT_MAX_ROUNDS = 25;
/** Carts in Checkout remembered per store (a few MB): beyond that the oldest is forgotten, and its next transition reads first. */
const CARTS_REMEMBERED = 5000;
/** Full jitter: a random pause up to an exponential cap, so contending writers spread out instead of colliding again. */
export const casBackoffMs = (round: number): number => Math.random() * Math.min(500, 5 * 2 ** round);

export class CartRepository {
  readonly sessions: Collection<SessionRecord>;
  private readonly pricing: StorePricing;
  private readonly maxRounds: number;
  private readonly backoffMs: (round: number) => number;
  private readonly onContention: (round: number) => void;
  /** Carts in Checkout as this store last read or wrote them, least recently used first. */
  private readonly remembered = new Map<string, CartDoc>();

  constructor(
    readonly carts: Collection<CartDoc>,
    options: CartRepositoryOptions = {},
  ) {
    this.sessions = sessionsCollection(carts.db);
    this.pricing = new StorePricing(carts.db);
    this.maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
    this.backoffMs = options.backoffMs ?? casBackoffMs;
    this.onContention = options.onContention ?? (() => undefined);
  }

  async get(cartId: string): Promise<CartDoc> {
    assertCartId(cartId);
    const doc = await this.carts.findOne({ _id: cartId });
    if (!doc) throw new CheckoutError('NOT_FOUND', `Cart ${cartId} was not found.`, { cartId });
    return doc;
  }

  /** Every archived session of a cart, oldest first, from checkout_sessions. */
  async sessionHistory(cartId: string): Promise<SessionRecord[]> {
    assertCartId(cartId);
    return this.sessions.find({ cartId }).sort({ archivedAt: 1 }).toArray();
  }

  async create(cart: { cartId: string; webstoreId: string; accountId: string; ownerId?: string; items?: CartItem[] }): Promise<CartDoc> {
    assertCartId(cart.cartId);
    const now = new Date();
    const doc: CartDoc = {
      _id: cart.cartId,
      status: 'Active',
      webstoreId: cart.webstoreId,
      accountId: cart.accountId,
      ...(cart.ownerId ? { ownerId: cart.ownerId } : {}),
      items: cart.items ?? [],
      version: 0,
      archivedSessions: [],
      archivedSessionCount: 0,
      createdAt: now,
      updatedAt: now,
    };
    // Its event is in the inserted document itself: a cart never exists without it.
    const created = outboxWrite(doc, [createdEvent(cart.accountId, doc.items ?? [])], now);
    Object.assign(doc, created.$set, { outbox: created.push });
    await this.carts.insertOne(doc);
    return doc;
  }

  /**
   * Active → Checkout with a new session. Idempotent for the same session id. An archived session
   * never locks again: a stalled attempt that resumes after its checkout ended must not re-lock the
   * cart (or supersede a newer checkout).
   */
  async lock(input: LockInput, options: { holderIsLive?: HolderIsLive } = {}): Promise<CartDoc> {
    assertCartId(input.cartId);
    if (await this.archivedRecord(input.sessionId)) throw sessionEnded(input.cartId, input.sessionId);
    return this.compareAndSet(input.cartId, (doc) => decideLock(doc, input, options.holderIsLive));
  }

  /**
   * Marks a background step as processing (`begin`), or finished with its totals (`end`). A session
   * that no longer holds the cart (cancelled, closed, superseded) changes nothing and gets
   * `held: false`. A step already recorded (`recorded: true`) is neither begun nor ended again: a
   * retried activity whose first attempt finished the step must not leave it processing. `items`
   * (Confirm Price's repriced lines) are written with the end, in the same write. A step of an
   * earlier `recalculation` than the session's writes nothing (answered as recorded).
   */
  async markStep(
    cartId: string,
    sessionId: string,
    step: BackgroundStep,
    phase: 'begin' | 'end',
    totals?: Totals,
    items?: CartItem[],
    recalculation?: number,
  ): Promise<StepMark> {
    assertCartId(cartId);
    return this.compareAndSet(cartId, (doc) => decideStep(doc, sessionId, step, phase, totals, items, recalculation), { fromRemembered: true });
  }

  /**
   * cancelCartAsyncOperation: in one atomic write, the background operation becomes Canceled, the cart
   * Active, and the session archived. Closed → INVALID_OPERATION. Nothing running, or a session other
   * than `sessionId` holding the cart → success without a write (never cancel someone else's checkout).
   * A session already archived as Canceled answers `canceled: true` again: a retried cancel whose first
   * attempt did the write gets the same answer. The common case, the cart held by this session as
   * remembered, is that one write and no read.
   */
  async cancel(input: CancelInput): Promise<{ canceled: boolean; doc: CartDoc }> {
    const canceledBefore = async (): Promise<boolean> =>
      input.sessionId !== undefined && (await this.archivedRecord(input.sessionId))?.backgroundOperation.status === 'Canceled';
    let outcome: CancelDecided;
    try {
      outcome = await this.compareAndSet(input.cartId, (doc) => decideCancel(doc, input), { fromRemembered: true });
    } catch (err) {
      if (err instanceof CheckoutError && err.errorCode === 'INVALID_OPERATION') {
        // The cart was closed after this session was cancelled (and it left the cart's recent list).
        if (await canceledBefore()) return { canceled: true, doc: await this.get(input.cartId) };
        // A refusal is a fact other systems learn of: recorded on the Closed cart before it is answered.
        await this.compareAndSet(input.cartId, (doc) => decideCancelRefused(doc, input, err.message));
      }
      throw err;
    }
    if (!outcome.canceled && (await canceledBefore())) return { canceled: true, doc: outcome.doc };
    return { canceled: outcome.canceled, doc: outcome.doc };
  }

  /** Checkout → Closed by the session that holds the lock; the session is archived with the order id. */
  async placeOrder(input: PlaceOrderInput): Promise<CartDoc> {
    return this.compareAndSet(input.cartId, (doc) => decidePlaceOrder(doc, input));
  }

  /**
   * Applies an item change to an Active cart (a fenced write). A cart in Checkout is returned as
   * `locked` untouched: the caller cancels that checkout first. Closed → INVALID_OPERATION.
   * With a `requestId` the change is exactly-once: the id is stored in the same write, and a repeat
   * writes nothing and answers the current cart with `duplicate: true`, whatever happened since.
   */
  async changeItems(cartId: string, change: ItemChange, options: { requestId?: string } = {}): Promise<ItemsChanged> {
    const problem = itemChangeProblem(change);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'change' });
    const { requestId } = options;
    if (requestId !== undefined && (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 512)) {
      throw new CheckoutError('INVALID_INPUT', 'requestId must be a string of 1-512 characters', { field: 'requestId' });
    }
    // The store's pricing is read with the cart, each round: a store that prices from its book prices the changed line.
    return this.compareAndSet(cartId, async (doc) => decideItemChange(doc, change, requestId, await this.bookFor(doc, change)));
  }

  /**
   * An item change applied through the checkout session that holds the cart (checkoutPolicy
   * `recalculate`): one write fenced on the session, the request id stored with it (a repeat writes
   * nothing and answers `applied` again), the session reset so its steps from `fromStep` on run again.
   */
  async recalculate(input: RecalculateInput): Promise<RecalculationDecided> {
    const problem = itemChangeProblem(input.change);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'change' });
    return this.compareAndSet(input.cartId, async (doc) => decideRecalculation(doc, input, await this.bookFor(doc, input.change)), { fromRemembered: true });
  }

  /** The store's price book for the changed line, when the cart's store prices from its book (a remove needs no price). */
  private bookFor(doc: CartDoc, change: ItemChange): Promise<BookPrices | undefined> {
    return change.op === 'remove' ? Promise.resolve(undefined) : this.pricing.bookFor(doc.webstoreId, [change.sku]);
  }

  /**
   * Read, decide, write fenced on what was read. A concurrent writer makes the write match nothing;
   * then we pause (jittered, growing) and read and decide again, so nothing is merged blindly.
   * Contention is transient: when the rounds run out the error is retryable, not a business answer.
   * `fromRemembered`: first decide from the cart as remembered, and act on it only if that decides a
   * write (an answer without a write is never given from memory); no match reads, without a pause.
   */
  private async compareAndSet<R>(
    cartId: string,
    decide: (doc: CartDoc) => Decision<R> | Promise<Decision<R>>,
    options: { fromRemembered?: boolean } = {},
  ): Promise<R> {
    const remembered = options.fromRemembered ? this.remembered.get(cartId) : undefined;
    if (remembered) {
      // A refusal decided from memory is not given: the read below decides it on the cart as it is.
      const decision = await (async () => decide(remembered))().catch(() => undefined);
      if (decision && 'write' in decision) {
        // The cart may be minutes old here, not a round trip: its whole session fences too, so the
        // archived copy the write pushes is exactly the session the cart holds.
        const written = await this.write(remembered, decision, { checkout: remembered.checkout });
        if (written) return written.result;
      }
    }
    for (let round = 0; round < this.maxRounds; round++) {
      if (round > 0) {
        this.onContention(round);
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs(round)));
      }
      const doc = await this.get(cartId);
      assertWellFormed(doc);
      this.remember(doc);
      const decision = await decide(doc);
      if (!('write' in decision)) {
        await this.recordSessions(doc._id, decision.archives ?? []);
        return decision.result;
      }
      const written = await this.write(doc, decision);
      if (written) return written.result;
    }
    throw new CartContendedError(cartId, this.maxRounds);
  }

  /** The decided write, fenced on `doc` (and `extraFence`); undefined when it matched nothing. */
  private async write<R>(
    doc: CartDoc,
    decision: Extract<Decision<R>, { write: unknown }>,
    extraFence: Filter<CartDoc> = {},
  ): Promise<{ result: R } | undefined> {
    const now = new Date();
    const update: UpdateFilter<CartDoc> = {
      ...decision.write,
      $set: { ...(decision.write.$set ?? {}), updatedAt: now },
      $inc: { ...(decision.write.$inc ?? {}), version: 1 },
    };
    if (decision.events && decision.events.length > 0) {
      // The transition's events go into the cart's outbox in this same atomic write.
      const outbox = outboxWrite(doc, decision.events, now);
      update.$set = { ...update.$set, ...outbox.$set };
      update.$push = { ...(update.$push ?? {}), outbox: { $each: outbox.push } } as UpdateFilter<CartDoc>['$push'];
    }
    const written = await this.carts.findOneAndUpdate({ ...fence(doc), ...extraFence }, update, { returnDocument: 'after' });
    if (!written) {
      this.remembered.delete(doc._id);
      return undefined;
    }
    this.remember(written);
    const archives = decision.archives ?? [];
    // Right after the cart write; an activity that dies in between redoes it on its retry.
    await this.recordSessions(doc._id, [...droppedBy(doc, archives.length), ...archives]);
    return { result: decision.result(written) };
  }

  /** Keeps a cart in Checkout for its session's next transition; forgets any other. */
  private remember(doc: CartDoc): void {
    this.remembered.delete(doc._id);
    if (doc.status !== 'Checkout') return;
    this.remembered.set(doc._id, doc);
    if (this.remembered.size > CARTS_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value as string);
  }

  /** Upserts archived sessions into checkout_sessions: one document per session, idempotent. */
  private async recordSessions(cartId: string, sessions: CheckoutSessionDoc[]): Promise<void> {
    if (sessions.length === 0) return;
    const ops: AnyBulkWriteOperation<SessionRecord>[] = sessions.map((s) => ({
      replaceOne: { filter: { _id: s.sessionId }, replacement: { ...s, _id: s.sessionId, cartId }, upsert: true },
    }));
    try {
      await this.sessions.bulkWrite(ops, { ordered: false });
    } catch (err) {
      // Two upserts of one new _id at once: one inserts, the other fails with a duplicate key. Once more settles it.
      if ((err as { code?: number }).code !== 11000) throw err;
      await this.sessions.bulkWrite(ops, { ordered: false });
    }
  }

  private async archivedRecord(sessionId: string): Promise<SessionRecord | null> {
    return this.sessions.findOne({ _id: sessionId });
  }
}

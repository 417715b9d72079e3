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
 */
import type { AnyBulkWriteOperation, Collection, Db, Filter, UpdateFilter } from 'mongodb';
import {
  CART_STATUSES,
  CLOSED_CART_MESSAGE,
  COLLECTIONS,
  CartContendedError,
  CheckoutError,
  assertCartId,
  itemChangeProblem,
  type BackgroundOperationStatus,
  type BackgroundStep,
  type CartItem,
  type CartStatus,
  type CheckoutState,
  type ItemChange,
} from '../contract';

/** Archived sessions kept in the cart document; older ones are only in checkout_sessions. */
export const RECENT_SESSIONS_KEPT = 20;
/** Request ids of applied item changes kept in the cart, to recognise a repeated request. */
export const APPLIED_CHANGES_KEPT = 100;

export interface Totals {
  /** All amounts in cents. */
  subtotal: number;
  shipping?: number;
  tax?: number;
  total?: number;
}

export interface CheckoutSessionDoc {
  sessionId: string;
  workflowId: string;
  runId?: string;
  state: CheckoutState;
  nextState: CheckoutState;
  isProcessing: boolean;
  isError: boolean;
  isArchived: boolean;
  backgroundOperation: { id: string; status: BackgroundOperationStatus };
  requestedBy?: string;
  startedAt: Date;
  totals?: Totals;
  orderId?: string;
  archivedAt?: Date;
  cancelReason?: string;
  canceledBy?: string;
}

/** One archived session in `checkout_sessions`: `_id` is the session id. */
export interface SessionRecord extends CheckoutSessionDoc {
  _id: string;
  cartId: string;
}

export interface AppliedChange {
  requestId: string;
  at: Date;
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
}

/** What callers see of a cart: plain JSON (no Date or driver objects). */
export interface CartView {
  cartId: string;
  status: CartStatus;
  webstoreId?: string;
  accountId?: string;
  items: CartItem[];
  version: number;
  orderId?: string;
  checkout?: SessionView;
  /** The most recent archived sessions, oldest first; the full history is in checkout_sessions. */
  archivedSessions: SessionView[];
  archivedSessionCount: number;
}

export type SessionView = Omit<CheckoutSessionDoc, 'startedAt' | 'archivedAt'> & { startedAt: string; archivedAt?: string };

function sessionView(s: CheckoutSessionDoc): SessionView {
  const { startedAt, archivedAt, ...rest } = s;
  return {
    ...rest,
    startedAt: new Date(startedAt).toISOString(),
    ...(archivedAt ? { archivedAt: new Date(archivedAt).toISOString() } : {}),
  };
}

function archivedCount(doc: CartDoc): number {
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

export function cartsCollection(db: Db): Collection<CartDoc> {
  return db.collection<CartDoc>(COLLECTIONS.carts);
}

export function sessionsCollection(db: Db): Collection<SessionRecord> {
  return db.collection<SessionRecord>(COLLECTIONS.checkoutSessions);
}

export async function ensureCartIndexes(carts: Collection<CartDoc>): Promise<void> {
  await carts.createIndex({ 'checkout.sessionId': 1 }, { name: 'checkout_session' });
  await carts.createIndex({ accountId: 1, webstoreId: 1, status: 1 }, { name: 'account_store_status' });
  await sessionsCollection(carts.db).createIndex({ cartId: 1, archivedAt: 1 }, { name: 'cart_archived' });
}

/**
 * What makes a cart (often written by another service) unusable, or undefined. A missing version
 * is fine (the first write sets it), and so are missing items (none yet).
 */
export function cartProblem(doc: CartDoc): { field: string; message: string } | undefined {
  const raw = doc as unknown as Record<string, unknown>;
  const version = raw.version;
  if (version !== undefined && !(typeof version === 'number' && Number.isInteger(version) && version >= 0)) {
    return { field: 'version', message: `its version must be a non-negative integer, not ${JSON.stringify(version)}` };
  }
  if (raw.status === undefined || raw.status === null) return { field: 'status', message: 'it has no status' };
  if (!(CART_STATUSES as readonly unknown[]).includes(raw.status)) {
    return { field: 'status', message: `its status ${JSON.stringify(raw.status)} is not one of ${CART_STATUSES.join(', ')}` };
  }
  const items = raw.items;
  if (items !== undefined) {
    if (!Array.isArray(items)) return { field: 'items', message: 'its items are not an array' };
    for (const [i, item] of (items as unknown[]).entries()) {
      const it = item as Record<string, unknown> | null;
      if (typeof it !== 'object' || it === null || typeof it.sku !== 'string' || typeof it.quantity !== 'number' || !Number.isFinite(it.quantity)) {
        return { field: `items.${i}`, message: `item ${i} is not { sku: string, quantity: number }` };
      }
    }
  }
  for (const list of ['archivedSessions', 'appliedChanges'] as const) {
    if (raw[list] !== undefined && !Array.isArray(raw[list])) return { field: list, message: `its ${list} are not an array` };
  }
  if (raw.checkout !== undefined && raw.checkout !== null && typeof (raw.checkout as Record<string, unknown>).sessionId !== 'string') {
    return { field: 'checkout.sessionId', message: 'its checkout has no session id' };
  }
  return undefined;
}

function assertWellFormed(doc: CartDoc): void {
  const problem = cartProblem(doc);
  if (problem) {
    throw new CheckoutError('INVALID_OPERATION', `Cart ${doc._id} is malformed: ${problem.message}.`, {
      cartId: doc._id,
      problem: 'MALFORMED_CART',
      field: problem.field,
    });
  }
}

/**
 * The write's condition: exactly the cart we read. The version alone is not enough: another service
 * may change the status (close the cart) without bumping it, so status and session id fence too.
 */
function fence(doc: CartDoc): Filter<CartDoc> {
  return {
    _id: doc._id,
    version: doc.version === undefined ? { $exists: false } : doc.version,
    status: doc.status,
    'checkout.sessionId': doc.checkout ? doc.checkout.sessionId : { $exists: false },
  } as Filter<CartDoc>;
}

/**
 * What a compare-and-set round decided: a write (fenced on the cart it read) or an answer without
 * one. `archives` are sessions this write archives (or an earlier attempt archived): they are
 * upserted into checkout_sessions after the cart write, again on a retry.
 */
type Decision<R> =
  | { write: UpdateFilter<CartDoc>; archives?: CheckoutSessionDoc[]; result: (written: CartDoc) => R }
  | { result: R; archives?: CheckoutSessionDoc[] };

export interface CartRepositoryOptions {
  /** Compare-and-set rounds before giving up with the retryable CartContendedError. */
  maxRounds?: number;
  /** Pause before round `round` (1-based), in ms. Default: full jitter, exponential, capped at 500 ms. */
  backoffMs?: (round: number) => number;
  /** Called before each pause (activities heartbeat here, so a long contention is not taken for a lost worker). */
  onContention?: (round: number) => void;
}

const DEFAULT_MAX_ROUNDS = 25;
/** Full jitter: a random pause up to an exponential cap, so contending writers spread out instead of colliding again. */
export const casBackoffMs = (round: number): number => Math.random() * Math.min(500, 5 * 2 ** round);

/** The `$push` and count of archiving sessions, keeping the cart's list bounded. */
function archiveWrite(doc: CartDoc, sessions: CheckoutSessionDoc[]): { $push: UpdateFilter<CartDoc>['$push']; count: number } {
  return {
    $push: { archivedSessions: { $each: sessions, $slice: -RECENT_SESSIONS_KEPT } } as UpdateFilter<CartDoc>['$push'],
    // The count is set, not $inc'ed: the write is fenced on the version read, so the value is exact,
    // and carts archived before the count existed start from their list's length.
    count: archivedCount(doc) + sessions.length,
  };
}

/** Sessions that fall off the cart's bounded list when `pushed` are added. */
function droppedBy(doc: CartDoc, pushed: number): CheckoutSessionDoc[] {
  const list = doc.archivedSessions ?? [];
  return list.slice(0, Math.max(0, list.length + pushed - RECENT_SESSIONS_KEPT));
}

export class CartRepository {
  readonly sessions: Collection<SessionRecord>;
  private readonly maxRounds: number;
  private readonly backoffMs: (round: number) => number;
  private readonly onContention: (round: number) => void;

  constructor(
    readonly carts: Collection<CartDoc>,
    options: CartRepositoryOptions = {},
  ) {
    this.sessions = sessionsCollection(carts.db);
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

  /**
   * Read, decide, write fenced on what was read. A concurrent writer makes the write match nothing;
   * then we pause (jittered, growing) and read and decide again, so nothing is merged blindly.
   * Contention is transient: when the rounds run out the error is retryable, not a business answer.
   */
  private async compareAndSet<R>(cartId: string, decide: (doc: CartDoc) => Decision<R> | Promise<Decision<R>>): Promise<R> {
    for (let round = 0; round < this.maxRounds; round++) {
      if (round > 0) {
        this.onContention(round);
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs(round)));
      }
      const doc = await this.get(cartId);
      assertWellFormed(doc);
      const decision = await decide(doc);
      if (!('write' in decision)) {
        await this.recordSessions(doc._id, decision.archives ?? []);
        return decision.result;
      }
      const update: UpdateFilter<CartDoc> = {
        ...decision.write,
        $set: { ...(decision.write.$set ?? {}), updatedAt: new Date() },
        $inc: { ...(decision.write.$inc ?? {}), version: 1 },
      };
      const written = await this.carts.findOneAndUpdate(fence(doc), update, { returnDocument: 'after' });
      if (written) {
        const archives = decision.archives ?? [];
        // Right after the cart write; an activity that dies in between redoes it on its retry.
        await this.recordSessions(doc._id, [...droppedBy(doc, archives.length), ...archives]);
        return decision.result(written);
      }
    }
    throw new CartContendedError(cartId, this.maxRounds);
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

  async create(cart: { cartId: string; webstoreId: string; accountId: string; ownerId?: string; items?: CartItem[] }): Promise<CartDoc> {
    assertCartId(cart.cartId);
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
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    await this.carts.insertOne(doc);
    return doc;
  }

  /**
   * Active → Checkout with a new session. Idempotent for the same session id. An archived session
   * never locks again: a stalled attempt that resumes after its checkout ended must not re-lock the
   * cart (or supersede a newer checkout).
   */
  async lock(
    input: { cartId: string; sessionId: string; workflowId: string; runId?: string; requestedBy?: string },
    options: { holderIsLive?: (holder: CheckoutSessionDoc) => Promise<boolean> } = {},
  ): Promise<CartDoc> {
    assertCartId(input.cartId);
    const refuseArchived = (cartId: string) =>
      new CheckoutError('INVALID_OPERATION', `Checkout session ${input.sessionId} has ended; it can't lock the cart again.`, {
        cartId,
        sessionId: input.sessionId,
        archived: true,
      });
    if (await this.archivedRecord(input.sessionId)) throw refuseArchived(input.cartId);
    return this.compareAndSet(input.cartId, async (doc) => {
      if (doc.status === 'Checkout' && doc.checkout?.sessionId === input.sessionId) return { result: doc };
      if ((doc.archivedSessions ?? []).some((s) => s.sessionId === input.sessionId)) throw refuseArchived(doc._id);
      if (doc.status === 'Closed') {
        throw new CheckoutError('INVALID_OPERATION', "A closed cart can't be checked out.", { cartId: doc._id, status: doc.status });
      }
      if (doc.status === 'PendingDelete') {
        throw new CheckoutError('INVALID_OPERATION', "A cart that is being deleted can't be checked out.", { cartId: doc._id, status: doc.status });
      }
      if ((doc.items ?? []).length === 0) {
        throw new CheckoutError('INVALID_OPERATION', "A cart with no items can't be checked out.", { cartId: doc._id, status: doc.status });
      }
      const session: CheckoutSessionDoc = {
        sessionId: input.sessionId,
        workflowId: input.workflowId,
        ...(input.runId ? { runId: input.runId } : {}),
        state: 'Start',
        nextState: 'Inventory',
        isProcessing: false,
        isError: false,
        isArchived: false,
        backgroundOperation: { id: `bgop-${input.sessionId}`, status: 'Running' },
        ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
        startedAt: new Date(),
      };
      if (doc.status === 'Checkout' && doc.checkout) {
        // Only one run of a workflow ID is open at a time. A lock held under our own workflow ID
        // by another run belongs to a run that has closed (terminated, timed out): not live, so take
        // it over. Unless that run is still open: then we are the stale one (an attempt of a closed run).
        const holder = doc.checkout;
        if (holder.workflowId !== input.workflowId || (options.holderIsLive && (await options.holderIsLive(holder)))) {
          throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${doc._id} is locked by another checkout.`, {
            cartId: doc._id,
            sessionId: holder.sessionId,
          });
        }
        const superseded = archived(doc.checkout, 'Canceled', { cancelReason: 'SUPERSEDED', canceledBy: input.workflowId });
        const { $push, count } = archiveWrite(doc, [superseded]);
        return {
          write: { $set: { status: 'Checkout', checkout: session, archivedSessionCount: count }, $push },
          archives: [superseded],
          result: (w) => w,
        };
      }
      if (doc.status !== 'Active' && doc.status !== 'Checkout') {
        throw new CheckoutError('INVALID_OPERATION', `A cart in status ${String(doc.status)} can't be checked out.`, { cartId: doc._id });
      }
      return { write: { $set: { status: 'Checkout', checkout: session } }, result: (w) => w };
    });
  }

  /**
   * Marks a background step as processing (`begin`), or finished with its totals (`end`). A session
   * that no longer holds the cart (cancelled, closed, superseded) changes nothing and gets
   * `held: false`. A step already recorded (`recorded: true`) is neither begun nor ended again: a
   * retried activity whose first attempt finished the step must not leave it processing.
   */
  async markStep(
    cartId: string,
    sessionId: string,
    step: BackgroundStep,
    phase: 'begin' | 'end',
    totals?: Totals,
  ): Promise<{ held: boolean; recorded: boolean; doc: CartDoc }> {
    assertCartId(cartId);
    return this.compareAndSet<{ held: boolean; recorded: boolean; doc: CartDoc }>(cartId, (doc) => {
      const session = doc.checkout;
      if (doc.status !== 'Checkout' || session?.sessionId !== sessionId) return { result: { held: false, recorded: false, doc } };
      if (session.state === step) return { result: { held: true, recorded: true, doc } };
      if (phase === 'begin') {
        if (session.isProcessing && session.nextState === step) return { result: { held: true, recorded: false, doc } };
        return {
          write: { $set: { 'checkout.nextState': step, 'checkout.isProcessing': true, 'checkout.backgroundOperation.status': 'Running' } },
          result: (w) => ({ held: true, recorded: false, doc: w }),
        };
      }
      return {
        write: { $set: { 'checkout.state': step, 'checkout.isProcessing': false, ...(totals ? { 'checkout.totals': totals } : {}) } },
        result: (w) => ({ held: true, recorded: true, doc: w }),
      };
    });
  }

  /**
   * cancelCartAsyncOperation: in one atomic write, the background operation becomes Canceled, the cart
   * Active, and the session archived. Closed → INVALID_OPERATION. Nothing running, or a session other
   * than `sessionId` holding the cart → success without a write (never cancel someone else's checkout).
   * A session already archived as Canceled answers `canceled: true` again: a retried cancel whose first
   * attempt did the write gets the same answer.
   */
  async cancel(input: { cartId: string; sessionId?: string; reason: string; requestedBy?: string }): Promise<{
    canceled: boolean;
    doc: CartDoc;
  }> {
    const canceledBefore = async (): Promise<boolean> =>
      input.sessionId !== undefined && (await this.archivedRecord(input.sessionId))?.backgroundOperation.status === 'Canceled';
    let outcome: { canceled: boolean; doc: CartDoc; recent?: boolean };
    try {
      outcome = await this.compareAndSet<{ canceled: boolean; doc: CartDoc; recent?: boolean }>(input.cartId, (doc) => {
        const done = (doc.archivedSessions ?? []).find((s) => s.sessionId === input.sessionId);
        if (done?.backgroundOperation.status === 'Canceled') return { result: { canceled: true, doc, recent: true }, archives: [done] };
        if (doc.status === 'Closed') {
          throw new CheckoutError('INVALID_OPERATION', CLOSED_CART_MESSAGE, { cartId: doc._id, status: doc.status });
        }
        if (doc.status !== 'Checkout' || !doc.checkout) return { result: { canceled: false, doc } };
        if (input.sessionId !== undefined && doc.checkout.sessionId !== input.sessionId) return { result: { canceled: false, doc } };
        const session = archived(doc.checkout, 'Canceled', {
          cancelReason: input.reason,
          ...(input.requestedBy ? { canceledBy: input.requestedBy } : {}),
        });
        const { $push, count } = archiveWrite(doc, [session]);
        return {
          write: { $set: { status: 'Active', archivedSessionCount: count }, $unset: { checkout: '' }, $push },
          archives: [session],
          result: (w) => ({ canceled: true, doc: w }),
        };
      });
    } catch (err) {
      // The cart was closed after this session was cancelled (and it left the cart's recent list).
      if (err instanceof CheckoutError && err.errorCode === 'INVALID_OPERATION' && (await canceledBefore())) {
        return { canceled: true, doc: await this.get(input.cartId) };
      }
      throw err;
    }
    if (!outcome.canceled && (await canceledBefore())) return { canceled: true, doc: outcome.doc };
    return { canceled: outcome.canceled, doc: outcome.doc };
  }

  /** Checkout → Closed by the session that holds the lock; the session is archived with the order id. */
  async placeOrder(input: { cartId: string; sessionId: string; orderId: string }): Promise<CartDoc> {
    return this.compareAndSet(input.cartId, (doc) => {
      if (doc.status === 'Closed') {
        if (doc.orderId === input.orderId) {
          // Our own earlier attempt succeeded.
          const ours = (doc.archivedSessions ?? []).filter((s) => s.sessionId === input.sessionId);
          return { result: doc, archives: ours };
        }
        throw new CheckoutError('INVALID_OPERATION', 'The cart is already closed.', { cartId: doc._id, status: doc.status });
      }
      if (doc.status !== 'Checkout' || doc.checkout?.sessionId !== input.sessionId) {
        throw new CheckoutError('INVALID_OPERATION', 'Only the checkout that holds the cart can place its order.', {
          cartId: doc._id,
          status: doc.status,
        });
      }
      if ((doc.items ?? []).length === 0) {
        throw new CheckoutError('INVALID_OPERATION', "A cart with no items can't be ordered.", { cartId: doc._id, status: doc.status });
      }
      const session = archived({ ...doc.checkout, state: 'Complete', nextState: 'Complete', orderId: input.orderId }, 'Complete', {});
      const { $push, count } = archiveWrite(doc, [session]);
      return {
        write: { $set: { status: 'Closed', orderId: input.orderId, archivedSessionCount: count }, $unset: { checkout: '' }, $push },
        archives: [session],
        result: (w) => w,
      };
    });
  }

  /**
   * Applies an item change to an Active cart (a fenced write). A cart in Checkout is returned as
   * `locked` untouched: the caller cancels that checkout first. Closed → INVALID_OPERATION.
   * With a `requestId` the change is exactly-once: the id is stored in the same write, and a repeat
   * writes nothing and answers the current cart with `duplicate: true`, whatever happened since.
   */
  async changeItems(
    cartId: string,
    change: ItemChange,
    options: { requestId?: string } = {},
  ): Promise<{ locked: boolean; duplicate: boolean; doc: CartDoc }> {
    const problem = itemChangeProblem(change);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'change' });
    const { requestId } = options;
    if (requestId !== undefined && (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 512)) {
      throw new CheckoutError('INVALID_INPUT', 'requestId must be a string of 1-512 characters', { field: 'requestId' });
    }
    return this.compareAndSet<{ locked: boolean; duplicate: boolean; doc: CartDoc }>(cartId, (doc) => {
      if (requestId !== undefined && (doc.appliedChanges ?? []).some((c) => c.requestId === requestId)) {
        return { result: { locked: false, duplicate: true, doc } };
      }
      if (doc.status === 'Closed' || doc.status === 'PendingDelete') {
        throw new CheckoutError('INVALID_OPERATION', `A ${doc.status === 'Closed' ? 'closed' : 'deleted'} cart can't be changed.`, {
          cartId: doc._id,
          status: doc.status,
        });
      }
      if (doc.status === 'Checkout') return { result: { locked: true, duplicate: false, doc } };
      const items = applyChange(doc.items ?? [], change);
      const write: UpdateFilter<CartDoc> = { $set: { items } };
      if (requestId !== undefined) {
        write.$push = {
          appliedChanges: { $each: [{ requestId, at: new Date() }], $slice: -APPLIED_CHANGES_KEPT },
        } as UpdateFilter<CartDoc>['$push'];
      }
      return { write, result: (w) => ({ locked: false, duplicate: false, doc: w }) };
    });
  }
}

function archived(
  session: CheckoutSessionDoc,
  operationStatus: BackgroundOperationStatus,
  extra: Partial<CheckoutSessionDoc>,
): CheckoutSessionDoc {
  return {
    ...session,
    ...extra,
    isArchived: true,
    isProcessing: false,
    backgroundOperation: { ...session.backgroundOperation, status: operationStatus },
    archivedAt: new Date(),
  };
}

export function applyChange(items: CartItem[], change: ItemChange): CartItem[] {
  const next = items.map((i) => ({ ...i }));
  const existing = next.find((i) => i.sku === change.sku);
  switch (change.op) {
    case 'add':
      if (existing) {
        existing.quantity += change.quantity;
        if (change.unitPrice !== undefined) existing.unitPrice = change.unitPrice;
      } else {
        next.push({ sku: change.sku, quantity: change.quantity, ...(change.unitPrice !== undefined ? { unitPrice: change.unitPrice } : {}) });
      }
      return next;
    case 'set':
      if (change.quantity === 0) return next.filter((i) => i.sku !== change.sku);
      if (existing) existing.quantity = change.quantity;
      else next.push({ sku: change.sku, quantity: change.quantity });
      return next;
    case 'remove':
      return next.filter((i) => i.sku !== change.sku);
  }
}

/** Simple deterministic calculators for the background steps (amounts in cents). */
export const DEFAULT_UNIT_PRICE_CENTS = 1000;
export function computeTotals(step: BackgroundStep, items: CartItem[], previous: Totals | undefined): Totals {
  const subtotal = items.reduce((sum, i) => sum + i.quantity * Math.round((i.unitPrice ?? DEFAULT_UNIT_PRICE_CENTS / 100) * 100), 0);
  const base: Totals = { ...(previous ?? {}), subtotal };
  switch (step) {
    case 'Inventory':
    case 'Confirm Price':
      return base;
    case 'Shipping Cost':
      return { ...base, shipping: items.length === 0 ? 0 : 500 + 50 * items.reduce((n, i) => n + i.quantity, 0) };
    case 'Taxes':
      return { ...base, tax: Math.round(subtotal * 0.08) };
    case 'Checkout Summary':
      return { ...base, total: subtotal + (base.shipping ?? 0) + (base.tax ?? 0) };
  }
}

/**
 * The cart store. One document per cart holds its status, items, version, the current checkout
 * session and the archived sessions, so that every transition (lock, step, cancel, place order,
 * item change) is one atomic single-document conditional write: no multi-document transactions.
 *
 * Every write bumps `version` and is conditioned on what it expects (the version it read, or the
 * status and session id), so a stale or superseded writer changes nothing. Activities run
 * at least once, so every operation here is idempotent: repeating it after a success changes nothing.
 */
import type { Collection, Db, Filter, UpdateFilter } from 'mongodb';
import {
  CLOSED_CART_MESSAGE,
  cartIdProblem,
  itemChangeProblem,
  type BackgroundOperationStatus,
  type BackgroundStep,
  type CartItem,
  type CartStatus,
  type CheckoutState,
  type ItemChange,
} from '../contract';
import { CheckoutError } from '../errors';

export const CARTS_COLLECTION = 'carts';

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

export interface CartDoc {
  _id: string;
  status: CartStatus;
  webstoreId?: string;
  accountId?: string;
  ownerId?: string;
  items?: CartItem[];
  version?: number;
  checkout?: CheckoutSessionDoc | null;
  archivedSessions?: CheckoutSessionDoc[];
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
  archivedSessions: SessionView[];
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
  };
}

export function cartsCollection(db: Db): Collection<CartDoc> {
  return db.collection<CartDoc>(CARTS_COLLECTION);
}

export async function ensureCartIndexes(carts: Collection<CartDoc>): Promise<void> {
  await carts.createIndex({ 'checkout.sessionId': 1 }, { name: 'checkout_session' });
  await carts.createIndex({ accountId: 1, webstoreId: 1, status: 1 }, { name: 'account_store_status' });
}

export function assertCartId(cartId: unknown): asserts cartId is string {
  const problem = cartIdProblem(cartId);
  if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'cartId' });
}

const MAX_CAS_ATTEMPTS = 25;

/** The filter that matches exactly the version we read (a cart written by another service may have none). */
function versionFilter(doc: CartDoc): Filter<CartDoc> {
  return doc.version === undefined ? { _id: doc._id, version: { $exists: false } } : { _id: doc._id, version: doc.version };
}

type Decision<R> = { write: UpdateFilter<CartDoc>; result: (written: CartDoc) => R } | { result: R };

export class CartRepository {
  constructor(readonly carts: Collection<CartDoc>) {}

  async get(cartId: string): Promise<CartDoc> {
    assertCartId(cartId);
    const doc = await this.carts.findOne({ _id: cartId });
    if (!doc) throw new CheckoutError('NOT_FOUND', `Cart ${cartId} was not found.`, { cartId });
    return doc;
  }

  /**
   * Read, decide, write conditioned on the version read. A concurrent writer makes the write match
   * nothing; then we read again and decide again, so nothing is merged blindly.
   */
  private async compareAndSet<R>(cartId: string, decide: (doc: CartDoc) => Decision<R>): Promise<R> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.get(cartId);
      const decision = decide(doc);
      if (!('write' in decision)) return decision.result;
      const update: UpdateFilter<CartDoc> = {
        ...decision.write,
        $set: { ...(decision.write.$set ?? {}), updatedAt: new Date() },
        $inc: { ...(decision.write.$inc ?? {}), version: 1 },
      };
      const written = await this.carts.findOneAndUpdate(versionFilter(doc), update, { returnDocument: 'after' });
      if (written) return decision.result(written);
    }
    throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${cartId} is being changed by others; try again.`, { cartId });
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
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    await this.carts.insertOne(doc);
    return doc;
  }

  /** Active → Checkout with a new session. Idempotent for the same session id. */
  async lock(input: { cartId: string; sessionId: string; workflowId: string; runId?: string; requestedBy?: string }): Promise<CartDoc> {
    return this.compareAndSet(input.cartId, (doc) => {
      if (doc.status === 'Checkout' && doc.checkout?.sessionId === input.sessionId) return { result: doc };
      if (doc.status === 'Closed') {
        throw new CheckoutError('INVALID_OPERATION', "A closed cart can't be checked out.", { cartId: doc._id, status: doc.status });
      }
      if (doc.status === 'PendingDelete') {
        throw new CheckoutError('INVALID_OPERATION', "A cart that is being deleted can't be checked out.", { cartId: doc._id, status: doc.status });
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
        // by another run belongs to a run that has closed (terminated, timed out): not live, so take it over.
        if (doc.checkout.workflowId !== input.workflowId) {
          throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${doc._id} is locked by another checkout.`, {
            cartId: doc._id,
            sessionId: doc.checkout.sessionId,
          });
        }
        const superseded = archived(doc.checkout, 'Canceled', { cancelReason: 'SUPERSEDED', canceledBy: input.workflowId });
        return { write: { $set: { status: 'Checkout', checkout: session }, $push: { archivedSessions: superseded } }, result: (w) => w };
      }
      if (doc.status !== 'Active' && doc.status !== 'Checkout') {
        throw new CheckoutError('INVALID_OPERATION', `A cart in status ${String(doc.status)} can't be checked out.`, { cartId: doc._id });
      }
      return { write: { $set: { status: 'Checkout', checkout: session } }, result: (w) => w };
    });
  }

  /**
   * Marks a background step as processing, or finished with `patch`. A session that no longer holds
   * the cart (cancelled, closed, superseded) changes nothing and gets `held: false`.
   */
  async markStep(
    cartId: string,
    sessionId: string,
    step: BackgroundStep,
    phase: 'begin' | 'end',
    totals?: Totals,
  ): Promise<{ held: boolean; doc?: CartDoc }> {
    assertCartId(cartId);
    const set: Record<string, unknown> =
      phase === 'begin'
        ? { 'checkout.nextState': step, 'checkout.isProcessing': true, 'checkout.backgroundOperation.status': 'Running' }
        : { 'checkout.state': step, 'checkout.isProcessing': false, ...(totals ? { 'checkout.totals': totals } : {}) };
    const filter: Filter<CartDoc> = { _id: cartId, status: 'Checkout', 'checkout.sessionId': sessionId };
    if (phase === 'end') filter['checkout.state'] = { $ne: step };
    const doc = await this.carts.findOneAndUpdate(
      filter,
      { $set: { ...set, updatedAt: new Date() }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    );
    if (doc) return { held: true, doc };
    // Nothing matched: either the step was already recorded (a retried activity) or the session is gone.
    const current = await this.get(cartId);
    const held = current.status === 'Checkout' && current.checkout?.sessionId === sessionId;
    return { held, doc: current };
  }

  /**
   * cancelCartAsyncOperation: in one atomic write, the background operation becomes Canceled, the cart
   * Active, and the session archived. Closed → INVALID_OPERATION. Nothing running, or a session other
   * than `sessionId` holding the cart → success without a write (never cancel someone else's checkout).
   */
  async cancel(input: { cartId: string; sessionId?: string; reason: string; requestedBy?: string }): Promise<{
    canceled: boolean;
    doc: CartDoc;
  }> {
    return this.compareAndSet<{ canceled: boolean; doc: CartDoc }>(input.cartId, (doc) => {
      if (doc.status === 'Closed') {
        throw new CheckoutError('INVALID_OPERATION', CLOSED_CART_MESSAGE, { cartId: doc._id, status: doc.status });
      }
      if (doc.status !== 'Checkout' || !doc.checkout) return { result: { canceled: false, doc } };
      if (input.sessionId !== undefined && doc.checkout.sessionId !== input.sessionId) return { result: { canceled: false, doc } };
      const session = archived(doc.checkout, 'Canceled', {
        cancelReason: input.reason,
        ...(input.requestedBy ? { canceledBy: input.requestedBy } : {}),
      });
      return {
        write: { $set: { status: 'Active' }, $unset: { checkout: '' }, $push: { archivedSessions: session } },
        result: (w) => ({ canceled: true, doc: w }),
      };
    });
  }

  /** Checkout → Closed by the session that holds the lock; the session is archived with the order id. */
  async placeOrder(input: { cartId: string; sessionId: string; orderId: string }): Promise<CartDoc> {
    return this.compareAndSet(input.cartId, (doc) => {
      if (doc.status === 'Closed') {
        if (doc.orderId === input.orderId) return { result: doc }; // our own earlier attempt succeeded
        throw new CheckoutError('INVALID_OPERATION', 'The cart is already closed.', { cartId: doc._id, status: doc.status });
      }
      if (doc.status !== 'Checkout' || doc.checkout?.sessionId !== input.sessionId) {
        throw new CheckoutError('INVALID_OPERATION', 'Only the checkout that holds the cart can place its order.', {
          cartId: doc._id,
          status: doc.status,
        });
      }
      const session = archived({ ...doc.checkout, state: 'Complete', nextState: 'Complete', orderId: input.orderId }, 'Complete', {});
      return {
        write: { $set: { status: 'Closed', orderId: input.orderId }, $unset: { checkout: '' }, $push: { archivedSessions: session } },
        result: (w) => w,
      };
    });
  }

  /**
   * Applies an item change to an Active cart (a versioned write). A cart in Checkout is returned as
   * `locked` untouched: the caller cancels that checkout first. Closed → INVALID_OPERATION.
   */
  async changeItems(cartId: string, change: ItemChange): Promise<{ locked: boolean; doc: CartDoc }> {
    const problem = itemChangeProblem(change);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'change' });
    return this.compareAndSet<{ locked: boolean; doc: CartDoc }>(cartId, (doc) => {
      if (doc.status === 'Closed' || doc.status === 'PendingDelete') {
        throw new CheckoutError('INVALID_OPERATION', `A ${doc.status === 'Closed' ? 'closed' : 'deleted'} cart can't be changed.`, {
          cartId: doc._id,
          status: doc.status,
        });
      }
      if (doc.status === 'Checkout') return { result: { locked: true, doc } };
      const items = applyChange(doc.items ?? [], change);
      return { write: { $set: { items } }, result: (w) => ({ locked: false, doc: w }) };
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

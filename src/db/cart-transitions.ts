/**
 * The cart's transitions, each decided from the cart as it was read: a fenced write with its answer,
 * an answer without a write (the transition already happened: activities run at least once, so a
 * repeat answers the same), or a CheckoutError. No I/O here except asking whether a lock holder is
 * still live; CartRepository reads, decides and writes.
 */
import type { UpdateFilter } from 'mongodb';
import {
  BACKGROUND_STEPS,
  CLOSED_CART_MESSAGE,
  CheckoutError,
  type BackgroundStep,
  type CancelInput,
  type CartItem,
  type ItemChange,
  type LockInput,
  type PlaceOrderInput,
  type RecalculateInput,
  type Totals,
} from '../contract';
import { APPLIED_CHANGES_KEPT, type CartDoc, type CheckoutSessionDoc } from './cart-docs';
import { archiveWrite, archived, type Decision } from './cart-writes';
import { cancelRefusedEvent, canceledEvent, itemsChangedEvent, orderPlacedEvent, recalculatedEvent, startedEvent } from './cart-events';
import { applyChange } from './items';
import { bookPricedItems, type BookPrices } from './prices';

/** Whether the run that holds a lock under our own workflow ID is still open. */
export type HolderIsLive = (holder: CheckoutSessionDoc) => Promise<boolean>;

export interface StepMark {
  held: boolean;
  recorded: boolean;
  doc: CartDoc;
}

export interface CancelDecided {
  canceled: boolean;
  doc: CartDoc;
  /** Answered from the cart's recent list: an earlier attempt cancelled this session. */
  recent?: boolean;
}

/** An archived session never locks again. */
export function sessionEnded(cartId: string, sessionId: string): CheckoutError {
  return new CheckoutError('INVALID_OPERATION', `Checkout session ${sessionId} has ended; it can't lock the cart again.`, {
    cartId,
    sessionId,
    archived: true,
  });
}

/** Closed, being deleted or empty: no checkout can lock it. */
function refuseLock(doc: CartDoc): void {
  if (doc.status === 'Closed') {
    throw new CheckoutError('INVALID_OPERATION', "A closed cart can't be checked out.", { cartId: doc._id, status: doc.status });
  }
  if (doc.status === 'PendingDelete') {
    throw new CheckoutError('INVALID_OPERATION', "A cart that is being deleted can't be checked out.", { cartId: doc._id, status: doc.status });
  }
  if ((doc.items ?? []).length === 0) {
    throw new CheckoutError('INVALID_OPERATION', "A cart with no items can't be checked out.", { cartId: doc._id, status: doc.status });
  }
}

function newSession(input: LockInput): CheckoutSessionDoc {
  return {
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
}

/** Takes over a lock held under our own workflow ID by a run that has closed; any other holder is a conflict. */
async function supersede(doc: CartDoc, holder: CheckoutSessionDoc, session: CheckoutSessionDoc, holderIsLive?: HolderIsLive): Promise<Decision<CartDoc>> {
  // Only one run of a workflow ID is open at a time. A lock held under our own workflow ID
  // by another run belongs to a run that has closed (terminated, timed out): not live, so take
  // it over. Unless that run is still open: then we are the stale one (an attempt of a closed run).
  if (holder.workflowId !== session.workflowId || (holderIsLive && (await holderIsLive(holder)))) {
    throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${doc._id} is locked by another checkout.`, {
      cartId: doc._id,
      sessionId: holder.sessionId,
    });
  }
  const superseded = archived(holder, 'Canceled', { cancelReason: 'SUPERSEDED', canceledBy: session.workflowId });
  const { $push, count } = archiveWrite(doc, [superseded]);
  return {
    write: { $set: { status: 'Checkout', checkout: session, archivedSessionCount: count }, $push },
    archives: [superseded],
    events: [canceledEvent(superseded.sessionId, superseded.cancelReason ?? '', superseded.canceledBy), startedEvent(session)],
    result: (w) => w,
  };
}

/** Active → Checkout with a new session; the same session again answers the cart as it is. */
export async function decideLock(doc: CartDoc, input: LockInput, holderIsLive?: HolderIsLive): Promise<Decision<CartDoc>> {
  if (doc.status === 'Checkout' && doc.checkout?.sessionId === input.sessionId) return { result: doc };
  if ((doc.archivedSessions ?? []).some((s) => s.sessionId === input.sessionId)) throw sessionEnded(doc._id, input.sessionId);
  refuseLock(doc);
  const session = newSession(input);
  if (doc.status === 'Checkout' && doc.checkout) return supersede(doc, doc.checkout, session, holderIsLive);
  if (doc.status !== 'Active' && doc.status !== 'Checkout') {
    throw new CheckoutError('INVALID_OPERATION', `A cart in status ${String(doc.status)} can't be checked out.`, { cartId: doc._id });
  }
  return { write: { $set: { status: 'Checkout', checkout: session } }, events: [startedEvent(session)], result: (w) => w };
}

/**
 * A step begun (processing) or ended (with its totals, and for Confirm Price the repriced items) by
 * the session that holds the cart. The items can be written here: a cart in Checkout changes only
 * through the session that holds it (an item change cancels it first, or goes through it as a
 * recalculation), and the write is fenced on it. A step of an earlier recalculation than the
 * session's (`recalculation`, absent = 0) writes nothing: the checkout interrupted it and runs the
 * step again on the changed items, and that attempt may still be running on a worker.
 */
export function decideStep(
  doc: CartDoc,
  sessionId: string,
  step: BackgroundStep,
  phase: 'begin' | 'end',
  totals?: Totals,
  items?: CartItem[],
  recalculation = 0,
): Decision<StepMark> {
  const session = doc.checkout;
  if (doc.status !== 'Checkout' || session?.sessionId !== sessionId) return { result: { held: false, recorded: false, doc } };
  if ((session.recalculations ?? 0) !== recalculation) return { result: { held: true, recorded: true, doc } };
  if (session.state === step) return { result: { held: true, recorded: true, doc } };
  if (phase === 'begin') {
    if (session.isProcessing && session.nextState === step) return { result: { held: true, recorded: false, doc } };
    return {
      write: { $set: { 'checkout.nextState': step, 'checkout.isProcessing': true, 'checkout.backgroundOperation.status': 'Running' } },
      result: (w) => ({ held: true, recorded: false, doc: w }),
    };
  }
  return {
    write: { $set: { 'checkout.state': step, 'checkout.isProcessing': false, ...(totals ? { 'checkout.totals': totals } : {}), ...(items ? { items } : {}) } },
    result: (w) => ({ held: true, recorded: true, doc: w }),
  };
}

/** cancelCartAsyncOperation: operation Canceled, cart Active, session archived, in one write. */
export function decideCancel(doc: CartDoc, input: CancelInput): Decision<CancelDecided> {
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
    events: [canceledEvent(session.sessionId, input.reason, input.requestedBy)],
    result: (w) => ({ canceled: true, doc: w }),
  };
}

/** Checkout → Closed by the session that holds the lock, the session archived with the order id. */
export function decidePlaceOrder(doc: CartDoc, input: PlaceOrderInput): Decision<CartDoc> {
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
    events: [orderPlacedEvent(input.sessionId, input.orderId, doc.checkout.totals)],
    result: (w) => w,
  };
}

export interface ItemsChanged {
  locked: boolean;
  duplicate: boolean;
  doc: CartDoc;
}

/**
 * An item change on an Active cart, its request id stored in the same write; a cart in Checkout is
 * answered `locked`. `book`: the store prices from its book (./prices), which prices the changed line.
 */
export function decideItemChange(doc: CartDoc, change: ItemChange, requestId: string | undefined, book?: BookPrices): Decision<ItemsChanged> {
  if (requestId !== undefined && (doc.appliedChanges ?? []).some((c) => c.requestId === requestId)) {
    return { result: { locked: false, duplicate: true, doc } };
  }
  if (doc.status === 'Closed' || doc.status === 'PendingDelete') {
    throw new CheckoutError('INVALID_OPERATION', `A ${doc.status === 'Closed' ? 'closed' : 'deleted'} cart can't be changed.`, {
      cartId: doc._id,
      status: doc.status,
    });
  }
  // Priced before the lock is looked at: a SKU the book has no price for is refused without cancelling a checkout.
  const changed = applyChange(doc.items ?? [], change);
  const items = book ? bookPricedItems(doc._id, changed, change.sku, book) : changed;
  if (doc.status === 'Checkout') return { result: { locked: true, duplicate: false, doc } };
  const write: UpdateFilter<CartDoc> = { $set: { items } };
  if (requestId !== undefined) {
    write.$push = {
      appliedChanges: { $each: [{ requestId, at: new Date() }], $slice: -APPLIED_CHANGES_KEPT },
    } as UpdateFilter<CartDoc>['$push'];
  }
  return { write, events: [itemsChangedEvent(change, requestId)], result: (w) => ({ locked: false, duplicate: false, doc: w }) };
}

/** Refusals remembered on a Closed cart, per session, so a retried refusal records its event once. */
const CANCEL_REFUSALS_KEPT = 20;

/**
 * A cancel refused on a Closed cart (INVALID_OPERATION) records `checkout.cancel_refused` with a
 * write on that cart; a session whose refusal is already recorded writes nothing again (activities
 * run at least once). A cancel without a session is one request, recorded each time.
 */
export function decideCancelRefused(doc: CartDoc, input: CancelInput, message: string): Decision<void> {
  if (doc.status !== 'Closed') return { result: undefined };
  if (input.sessionId !== undefined && (doc.cancelRefusals ?? []).includes(input.sessionId)) return { result: undefined };
  const write: UpdateFilter<CartDoc> =
    input.sessionId === undefined
      ? {}
      : { $push: { cancelRefusals: { $each: [input.sessionId], $slice: -CANCEL_REFUSALS_KEPT } } as UpdateFilter<CartDoc>['$push'] };
  return { write, events: [cancelRefusedEvent(input, message)], result: () => undefined };
}

export interface RecalculationDecided {
  held: boolean;
  applied: boolean;
  emptiesCart?: true;
  doc: CartDoc;
}

/** The state a session is reset to so that `fromStep` runs next: the step before it, never later than where it was. */
function resetTo(current: string, fromStep: BackgroundStep): { state: 'Start' | BackgroundStep; nextState: BackgroundStep } {
  const order = ['Start', ...BACKGROUND_STEPS] as const;
  const wanted = order.indexOf(fromStep) - 1;
  const at = order.indexOf(current as (typeof order)[number]);
  const index = at >= 0 && at < wanted ? at : wanted;
  return { state: order[index], nextState: BACKGROUND_STEPS[index] };
}

/**
 * An item change applied through the checkout that holds the cart (the store's checkoutPolicy
 * `recalculate`), in one write fenced on the session: the items changed, the request id stored
 * (exactly once, like decideItemChange), and the session reset so that the steps from `fromStep` on
 * run again (a new recalculation number fences off the steps of the previous one; totals cleared
 * until they are computed again). The cart stays in Checkout. A session that no longer holds the
 * cart, or a change that would empty it, writes nothing: the caller cancels the checkout instead.
 */
export function decideRecalculation(doc: CartDoc, input: RecalculateInput, book?: BookPrices): Decision<RecalculationDecided> {
  const earlier = (doc.appliedChanges ?? []).find((c) => c.requestId === input.requestId);
  // Our own earlier attempt wrote it (its completion was lost): the same answer, nothing written twice.
  if (earlier) return { result: { held: true, applied: earlier.sessionId === input.sessionId && earlier.recalculation === input.recalculation, doc } };
  const session = doc.checkout;
  if (doc.status !== 'Checkout' || !session || session.sessionId !== input.sessionId) return { result: { held: false, applied: false, doc } };
  const changed = applyChange(doc.items ?? [], input.change);
  if (changed.length === 0) return { result: { held: true, applied: false, emptiesCart: true, doc } };
  // A store that prices from its book prices the changed line here too (Confirm Price reprices every line again).
  const items = book ? bookPricedItems(doc._id, changed, input.change.sku, book) : changed;
  const { state, nextState } = resetTo(session.state, input.fromStep);
  const applied = { requestId: input.requestId, at: new Date(), sessionId: input.sessionId, recalculation: input.recalculation };
  return {
    write: {
      $set: {
        items,
        'checkout.state': state,
        'checkout.nextState': nextState,
        'checkout.isProcessing': false,
        'checkout.isError': false,
        'checkout.backgroundOperation.status': 'Running',
        'checkout.recalculations': input.recalculation,
      },
      $unset: { 'checkout.totals': '' },
      $push: { appliedChanges: { $each: [applied], $slice: -APPLIED_CHANGES_KEPT } } as UpdateFilter<CartDoc>['$push'],
    },
    events: [itemsChangedEvent(input.change, input.requestId), recalculatedEvent(input.sessionId, { change: input.change, requestId: input.requestId })],
    result: (w) => ({ held: true, applied: true, doc: w }),
  };
}

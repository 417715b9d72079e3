/**
 * What operators read in the Temporal Web UI and `temporal workflow describe`: the one-line
 * summaries of the checkout, its activities and its lease timer, and its current details. Pure
 * functions of plain values, imported by workflow code and by clients alike. Summaries are user
 * metadata on commands: the server stores them, replay does not compare them.
 */
import type { BackgroundStep, CancelCheckoutRequest, CheckoutInput, CheckoutView, ItemChange } from '../src/contract';

/** The static summary a client sets when it starts a checkout (`staticSummary` of the start options). */
export function checkoutSummary(input: Pick<CheckoutInput, 'cartId' | 'requestedBy'>): string {
  return `checkout of cart ${input.cartId}${input.requestedBy ? `, started by ${input.requestedBy}` : ''}`;
}

export function lockSummary(cartId: string): string {
  return `lock cart ${cartId}`;
}

/**
 * A summary is set when the command is scheduled, before its answer is known: each step's outcome
 * ("Taxes via http: 777") is therefore named by the summary of the command that follows it (`after`),
 * the next step or the lease timer, besides its activity's result and the current details.
 */
export function stepSummary(step: BackgroundStep, cartId: string, after?: string, recalculation?: number): string {
  return `step ${step} for cart ${cartId}${recalculation ? ` (recalculation ${recalculation})` : ''}${afterText(after)}`;
}

/** The activity a recalculateCheckout Update runs: which change, by whom, and from which step the checkout runs again. */
export function recalculateSummary(
  cartId: string,
  change: ItemChange,
  requestedBy: string | undefined,
  recalculation: number,
  fromStep: BackgroundStep,
): string {
  return `recalculation ${recalculation} of cart ${cartId}: ${itemChangeText(change, requestedBy)}; steps from ${fromStep} run again`;
}

/** One item change in words: "add 2 × SKU-1, by buyer-7". */
export function itemChangeText(change: { op?: string; sku?: string; quantity?: number }, requestedBy?: string): string {
  const what =
    change.op === 'add' ? `add ${change.quantity} × ${change.sku}` : change.op === 'set' ? `set ${change.sku} to ${change.quantity}` : `remove ${change.sku}`;
  return `${what}${requestedBy ? `, by ${requestedBy}` : ''}`;
}

export function cancelSummary(req: CancelCheckoutRequest): string {
  return `cancel checkout: reason ${req.reason}${req.requestedBy ? `, by ${req.requestedBy}` : ''}`;
}

export function placeOrderSummary(orderId: string, cartId: string): string {
  return `place order ${orderId} for cart ${cartId}`;
}

export function leaseSummary(cartId: string, leaseMs: number, after?: string): string {
  return `lease: hold cart ${cartId} for ${duration(leaseMs)}, until the order or a cancel${afterText(after)}`;
}

function afterText(after: string | undefined): string {
  return after ? `, after ${after}` : '';
}

export function cartItemsSummary(req: { cartId: string; change?: { op?: string; sku?: string; quantity?: number } }): string {
  return `${itemChangeText(req.change ?? {})} on cart ${req.cartId} (a running checkout is cancelled first, or recalculated under the store's policy)`;
}

/** Extra facts for the current details, learned while the checkout runs. */
export interface DetailsContext {
  webstoreId?: string;
  accountId?: string;
  requestedBy?: string;
  leaseMs?: number;
  /** Set when the checkout ends in a business failure. */
  failure?: { type: string; message: string };
  /** Signals whose argument could not be decoded (the view lists the last ones). */
  rejectedSignalCount?: number;
  /** The outcome of each completed step, in order ("Taxes via http: 777"). */
  steps?: string[];
  /** Item changes applied through the checkout (checkoutPolicy `recalculate`), and the last one in words. */
  recalculations?: number;
  lastChange?: string;
}

/**
 * The current details (Markdown) the UI shows for the checkout; rewritten at every change of state.
 * Short lines joined by hard line breaks: the UI's details pane is only a few lines high.
 */
export function checkoutDetails(view: CheckoutView, ctx: DetailsContext): string {
  const waiting = view.phase === 'READY' && !view.cancelRequested && ctx.leaseMs !== undefined;
  const lines = [`**${view.state}** · ${view.phase}${waiting ? ` (waiting for the order, lease ${duration(ctx.leaseMs!)})` : ''}`];
  lines.push(
    [
      `cart ${view.cartId}`,
      ctx.webstoreId && `store ${ctx.webstoreId}`,
      ctx.accountId && `account ${ctx.accountId}`,
      ctx.requestedBy && `started by ${ctx.requestedBy}`,
    ]
      .filter(Boolean)
      .join(' · '),
  );
  if (view.cancelRequested) {
    const c = view.cancelRequested;
    lines.push(`**cancel requested**: reason ${c.reason}${c.requestedBy ? `, by ${c.requestedBy}` : ''}`);
  }
  if (ctx.recalculations) lines.push(`**recalculated** ${ctx.recalculations}× (last: ${ctx.lastChange})`);
  if (ctx.steps?.length) lines.push(`**steps** ${ctx.steps.join(' · ')}`);
  if (view.orderId) lines.push(`**order** ${view.orderId}`);
  if (view.outcome) lines.push(`**outcome** ${view.outcome}`);
  if (ctx.failure) lines.push(`**failed** ${ctx.failure.type}: ${ctx.failure.message}`);
  const lastRejected = view.rejectedSignals?.at(-1);
  if (ctx.rejectedSignalCount && lastRejected) {
    lines.push(`**rejected signals** ${ctx.rejectedSignalCount} undecodable (last: ${lastRejected.signal}, ${lastRejected.encoding}: ${lastRejected.problem})`);
  }
  return lines.join('  \n');
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

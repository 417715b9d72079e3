/**
 * After a scenario: wait for quiescence, then check the issue's invariants from MongoDB (the cart
 * documents) and Temporal (descriptions, queries), against the ledger. Each violation names its carts.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { checkoutWorkflowId } from '../src/contract';
import type { CartDoc, CheckoutSessionDoc } from '../src/db';
import { getCheckoutStateQuery } from '../src/contract/messages';
import { KNOWN_CODES, allowedQuantities, type Ledger, type Op } from './ledger';
import { eventViolations } from './events-invariant';
import { say, sleep } from './log';
import type { FaultStack } from './stack';

export const INVARIANTS = {
  cancelLanded: 'every acknowledged cancel landed',
  checkoutHeld: 'no cart in Checkout without a running checkout holding its session',
  itemsOnce: 'every acknowledged item change present exactly once',
  closedStays: 'no Closed cart reopened',
  orderComplete: 'no order without all its steps',
  notStuck: 'no workflow stuck',
  errorsCoded: 'every error a caller saw had a code',
  eventsOnce: 'every transition has its event in the feed once, in order',
} as const;
export type InvariantName = keyof typeof INVARIANTS;

export interface Violation {
  invariant: InvariantName;
  cartIds: string[];
  detail: string;
}

interface RunningWorkflow {
  workflowId: string;
  runId: string;
  type: string;
  cartId: string | undefined;
  phase?: string;
}

/** Running workflows of the carts, with the phase of running checkouts (a query: needs a live worker). */
async function runningWorkflows(stack: FaultStack, carts: Set<string>): Promise<RunningWorkflow[]> {
  const out: RunningWorkflow[] = [];
  for await (const wf of stack.client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
    const cartAttr = wf.searchAttributes?.CartId;
    const cartId = Array.isArray(cartAttr) ? String(cartAttr[0]) : undefined;
    if (cartId === undefined || !carts.has(cartId)) continue;
    out.push({ workflowId: wf.workflowId, runId: wf.runId, type: wf.type, cartId });
  }
  for (const wf of out) {
    if (wf.type !== 'checkoutWorkflow') continue;
    try {
      const view = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).query(getCheckoutStateQuery);
      wf.phase = view.phase;
    } catch {
      wf.phase = 'unanswered';
    }
  }
  return out;
}

/** Quiet: no item change running, and every running checkout waits for its order (READY). */
function busy(running: RunningWorkflow[]): RunningWorkflow[] {
  return running.filter((w) => !(w.type === 'checkoutWorkflow' && w.phase === 'READY'));
}

export interface Quiescence {
  /** ms until quiet, or undefined when not quiet by the deadline. */
  quietAfterMs: number | undefined;
  stillBusy: RunningWorkflow[];
}

export async function quiesce(stack: FaultStack, ledger: Ledger, timeoutMs: number): Promise<Quiescence> {
  const carts = new Set(ledger.carts());
  const t0 = Date.now();
  let lastSaid = t0;
  let stillBusy: RunningWorkflow[] = [];
  // Visibility is written asynchronously: quiet must be seen twice in a row.
  let quietSeen = 0;
  while (Date.now() - t0 < timeoutMs) {
    try {
      stillBusy = busy(await runningWorkflows(stack, carts));
    } catch (err) {
      stillBusy = [{ workflowId: '(Temporal unreachable)', runId: '', type: String((err as Error).message), cartId: undefined }];
    }
    if (stillBusy.length === 0) {
      if (++quietSeen >= 2) return { quietAfterMs: Date.now() - t0, stillBusy };
    } else quietSeen = 0;
    if (Date.now() - lastSaid > 15000) {
      lastSaid = Date.now();
      say(`  waiting for quiescence: ${stillBusy.length} workflows busy (${Math.round((Date.now() - t0) / 1000)}s)`);
    }
    await sleep(500);
  }
  return { quietAfterMs: undefined, stillBusy };
}

async function runStartTime(stack: FaultStack, workflowId: string, runId: string | undefined): Promise<number | undefined> {
  try {
    const d = await stack.client.workflow.getHandle(workflowId, runId).describe();
    return d.startTime.getTime();
  } catch {
    return undefined;
  }
}

export async function checkInvariants(stack: FaultStack, ledger: Ledger, q: Quiescence): Promise<Violation[]> {
  const violations: Violation[] = [];
  const add = (invariant: InvariantName, cartIds: string[], detail: string) => violations.push({ invariant, cartIds, detail });
  const cartIds = ledger.carts();
  const docs = new Map<string, CartDoc>();
  for (const d of await stack.carts.find({ _id: { $in: cartIds } }).toArray()) docs.set(d._id, d);

  for (const w of q.stillBusy) {
    add('notStuck', w.cartId ? [w.cartId] : [], `${w.type} ${w.workflowId} still ${w.phase ?? 'running'} after the quiescence deadline`);
  }

  for (const cartId of cartIds) {
    const doc = docs.get(cartId);
    const ops = ledger.forCart(cartId);
    if (!doc) {
      if (ops.some((o) => o.outcome === 'applied')) add('itemsOnce', [cartId], 'the cart is gone from MongoDB although requests on it were acknowledged');
      continue;
    }

    // A cart in Checkout: the current run of its checkout workflow is running and is the session holder.
    let holderStart: number | undefined;
    if (doc.status === 'Checkout') {
      const session = doc.checkout;
      const workflowId = session?.workflowId || checkoutWorkflowId(cartId);
      const runId = session?.runId ?? session?.sessionId;
      let holds = false;
      try {
        const d = await stack.client.workflow.getHandle(workflowId).describe();
        holds = d.status.name === 'RUNNING' && d.runId === runId;
        holderStart = d.startTime.getTime();
        if (holds) {
          const view = await stack.client.workflow.getHandle(workflowId).query(getCheckoutStateQuery);
          if (view.phase !== 'READY') add('notStuck', [cartId], `checkout ${runId} holds the cart in phase ${view.phase}`);
        }
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      if (!session || !holds) {
        add('checkoutHeld', [cartId], `cart in Checkout (session ${session?.sessionId ?? 'none'}) but its checkout run ${runId ?? '?'} is not the running one`);
      }
      if (holderStart === undefined && runId) holderStart = await runStartTime(stack, workflowId, runId);
    }

    // Acknowledged cancels: no checkout that began before the cancel was sent may still hold the cart.
    if (doc.status === 'Checkout') {
      const landedBefore = ops.filter((o) => o.kind === 'cancel' && o.outcome === 'applied' && holderStart !== undefined && holderStart < o.sentAt);
      if (landedBefore.length > 0) {
        add(
          'cancelLanded',
          [cartId],
          `${landedBefore.length} acknowledged cancel(s) (ops ${landedBefore.map((o) => `#${o.id} ${o.via}`).join(', ')}) but the checkout started before them still holds the cart`,
        );
      }
    }

    // Item changes: per SKU, the final quantity is one the acknowledged changes allow.
    const bySku = new Map<string, Op[]>();
    for (const op of ops) if (op.sku) bySku.set(op.sku, [...(bySku.get(op.sku) ?? []), op]);
    for (const [sku, skuOps] of bySku) {
      const allowed = allowedQuantities(skuOps, doc.status === 'Closed');
      const actual = (doc.items ?? []).filter((i) => i.sku === sku).reduce((n, i) => n + i.quantity, 0);
      const lines = (doc.items ?? []).filter((i) => i.sku === sku).length;
      if (!allowed.has(actual) || lines > 1) {
        add(
          'itemsOnce',
          [cartId],
          `${sku}: quantity ${actual}${lines > 1 ? ` in ${lines} lines` : ''}, the acknowledged changes allow ${[...allowed].join(' or ')} (ops ${skuOps.map((o) => `#${o.id} ${o.kind}${o.quantity ?? ''} ${o.outcome}${o.key ? ' keyed' : ''}`).join(', ')})`,
        );
      }
    }

    // Closed stays Closed, with the acknowledged order and nothing after it.
    const orders = ops.filter((o) => o.kind === 'order' && o.outcome === 'applied');
    const orderIds = new Set(orders.map((o) => o.orderId).filter(Boolean));
    if (orderIds.size > 1) add('closedStays', [cartId], `two different orders acknowledged: ${[...orderIds].join(', ')}`);
    if (ledger.seenClosed.has(cartId) || orders.length > 0) {
      if (doc.status !== 'Closed') add('closedStays', [cartId], `seen Closed (or an order acknowledged) but now ${doc.status}`);
      else if (orders.length > 0 && !orderIds.has(doc.orderId))
        add('closedStays', [cartId], `acknowledged order ${[...orderIds].join(', ')} but the cart holds order ${doc.orderId}`);
    }
    if (doc.status === 'Closed') {
      const sessions: CheckoutSessionDoc[] = doc.archivedSessions ?? [];
      // The cart keeps its recent archived sessions; every one is also in checkout_sessions (if the store has it).
      const orderSession =
        sessions.find((s) => s.orderId && s.orderId === doc.orderId) ??
        ((await stack.carts.db.collection<CheckoutSessionDoc>('checkout_sessions').findOne({ cartId, orderId: doc.orderId })) as CheckoutSessionDoc | null) ??
        undefined;
      if (!orderSession) add('orderComplete', [cartId], `Closed with order ${doc.orderId ?? '(none)'} but no archived session carries it`);
      else {
        const t = orderSession.totals;
        if (!t || typeof t.tax !== 'number' || typeof t.total !== 'number') {
          add('orderComplete', [cartId], `order ${doc.orderId}: archived session has totals ${JSON.stringify(t ?? null)} (no tax and total)`);
        }
        const closedAt = orderSession.archivedAt ? new Date(orderSession.archivedAt).getTime() : undefined;
        const later = sessions.filter((s) => s !== orderSession && closedAt !== undefined && new Date(s.startedAt).getTime() > closedAt);
        if (later.length > 0 || doc.checkout) add('closedStays', [cartId], `a checkout session began after the order ${doc.orderId}`);
      }
    }

    // What callers saw: an error always carries a code of the domain.
    for (const op of ops) {
      for (const a of op.answers) {
        if (a.status !== undefined && a.status >= 400 && !(a.code && KNOWN_CODES.has(a.code))) {
          add('errorsCoded', [cartId], `op #${op.id} ${op.kind} (${op.via}): HTTP ${a.status} with code ${a.code ?? '(none)'}`);
        } else if (a.error && !a.apiDown) {
          add('errorsCoded', [cartId], `op #${op.id} ${op.kind} (${op.via}): ${a.error}`);
        }
      }
    }
  }
  // Cart events (issue 12): faults/events-invariant.ts.
  for (const v of await eventViolations(stack.carts, cartIds)) add('eventsOnce', v.cartIds, v.detail);
  return violations;
}

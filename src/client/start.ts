/**
 * Starting a checkout: ask the running one first (describe and query), and use update-with-start
 * only when none holds the cart, so repeated starts do not spend the run's Updates. A run that is
 * ending (a cancel or an order under way) is never handed back: the start waits for it to close.
 */
import { WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { CHECKOUT_WORKFLOW_TYPE, CheckoutError, assertCartId, checkoutWorkflowId, type CheckoutInput, type CheckoutView } from '../contract';
import { getCheckoutStateQuery, waitForLockUpdate } from '../contract/messages';
import type { checkoutWorkflow } from '../../workflows';
import { checkoutSummary } from '../../workflows/summaries';
import { asCheckoutError, transientTemporalError } from './temporal-errors';
import type { StartCheckoutOptions, StartedCheckout, TemporalTarget } from './types';

/** How often a start retries when the checkout it finds is ending (its cancel or order runs). */
const MAX_START_ATTEMPTS = 4;
/** How long a start waits for an ending checkout to close before it asks the caller to retry. */
const ENDING_WAIT_MS = 30_000;
/** How long a start waits for the running checkout to answer its query before it falls back to update-with-start. */
const QUERY_DEADLINE_MS = 5_000;

/** The checkout holds the cart and will keep it until an order, a cancel or its lease. */
function holdsCart(view: CheckoutView): boolean {
  return (view.phase === 'PROCESSING' || view.phase === 'READY') && !view.cancelRequested;
}

/** The checkout is giving the cart up (a cancel or an order is under way, or it has ended). */
function isEnding(view: CheckoutView): boolean {
  return view.cancelRequested !== undefined || view.phase === 'CANCELING' || view.phase === 'PLACING_ORDER' || view.phase === 'DONE';
}

export async function startCheckout(target: TemporalTarget, cartId: string, options: StartCheckoutOptions): Promise<StartedCheckout> {
  assertCartId(cartId);
  const workflowId = checkoutWorkflowId(cartId);
  try {
    for (let attempt = 0; attempt < MAX_START_ATTEMPTS; attempt++) {
      // A run that already holds the cart is answered from a query: an Update per start would count
      // against Temporal's per-run limits (10 in flight, 2,000 in total) and exhaust them.
      const running = await runningView(target, workflowId);
      if (running && holdsCart(running)) return started(workflowId, cartId, running, undefined);
      if (running && isEnding(running)) {
        await waitForClose(target, workflowId, running.sessionId);
        continue;
      }
      const requestId = randomUUID();
      const view = await startOrJoin(target, cartId, options, requestId);
      if (isEnding(view)) {
        // Joined a run whose cancel (or order) came before us: it will not hold the cart for this caller.
        await waitForClose(target, workflowId, view.sessionId);
        continue;
      }
      return started(workflowId, cartId, view, requestId);
    }
  } catch (err) {
    throw asCheckoutError(err);
  }
  throw new CheckoutError('CHECKOUT_CONFLICT', `The checkout of cart ${cartId} kept ending while this start joined it; try again.`, { cartId });
}

function started(workflowId: string, cartId: string, view: CheckoutView, requestId: string | undefined): StartedCheckout {
  // The session id is the run's first execution run id (the workflow does not continue-as-new).
  return { checkoutId: workflowId, runId: view.sessionId, cartId, started: requestId !== undefined && view.requestId === requestId, view };
}

/** The running checkout's view, or undefined when none runs or it cannot answer a query now. */
async function runningView({ client }: TemporalTarget, workflowId: string): Promise<CheckoutView | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return undefined;
    // Bounded: with no worker polling, a query waits for one; update-with-start below waits as well, and knows how.
    return await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(getCheckoutStateQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (transientTemporalError(err)) throw err;
    return undefined;
  }
}

/** Update-with-start: a new run, or the running one (USE_EXISTING), answering once it holds the lock. */
async function startOrJoin(target: TemporalTarget, cartId: string, options: StartCheckoutOptions, requestId: string): Promise<CheckoutView> {
  const leaseMs = options.leaseMs ?? target.leaseMs;
  const input: CheckoutInput = {
    cartId,
    requestId,
    ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
    ...(leaseMs ? { leaseMs } : {}),
  };
  const startOp = new WithStartWorkflowOperation<typeof checkoutWorkflow>(CHECKOUT_WORKFLOW_TYPE, {
    workflowId: checkoutWorkflowId(cartId),
    taskQueue: target.taskQueue,
    args: [input],
    // A second start for the same cart joins the running checkout instead of failing.
    workflowIdConflictPolicy: 'USE_EXISTING',
    searchAttributes: { CartId: [cartId] },
    staticSummary: checkoutSummary(input),
  });
  return target.client.workflow.executeUpdateWithStart(waitForLockUpdate, { startWorkflowOperation: startOp });
}

/** Waits (bounded) for a run to close, whatever its outcome. */
async function waitForClose({ client }: TemporalTarget, workflowId: string, runId: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ENDING_WAIT_MS);
  });
  try {
    const closed = client.workflow
      .getHandle(workflowId, runId)
      .result()
      .then(
        () => 'closed' as const,
        () => 'closed' as const,
      );
    if ((await Promise.race([closed, timedOut])) === 'timeout') {
      throw new CheckoutError('UNAVAILABLE', 'The previous checkout of this cart is still ending; retry shortly.', { retryable: true });
    }
  } finally {
    clearTimeout(timer);
  }
}

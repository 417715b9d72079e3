/**
 * SIGKILL of a worker process in one phase of a checkout (or of an item change), with a second worker
 * alive (it must take over) or with none until a restart. The phase is detected, never guessed from
 * time: the cart document (steps), the workflow's pending activities (with MongoDB frozen for a
 * moment, so that a short activity is reliably in flight), or its history (the worker holding it).
 */
import { randomUUID } from 'node:crypto';
import { BACKGROUND_STEPS, CHECKOUT_STATES, checkoutWorkflowId, type BackgroundStep } from '../../src/contract';
import { getCheckoutStateQuery } from '../../src/contract/messages';
import { say, waitFor } from '../log';
import {
  ScenarioRun,
  activityHolder,
  ensureWorkers,
  resumed,
  victims,
  workflowTaskHolder,
  type FaultRecord,
  type Options,
  type ScenarioResult,
} from '../scenario';
import type { FaultStack, WorkerProc } from '../stack';

export type Phase = 'locking' | BackgroundStep | 'READY' | 'after cancel signal' | 'place order' | 'item change';
export const PHASES: Phase[] = ['locking', ...BACKGROUND_STEPS, 'READY', 'after cancel signal', 'place order', 'item change'];
export type Mode = 'second' | 'restart';

/** Steps last this long in these scenarios, so that a kill lands inside one. */
const STEP_DELAY_MS = 3000;
/** How long a scenario waits for the interrupted work to be done (activity timeouts may be long). */
const RECOVERY_DEADLINE_MS = 180000;

export function scenarioName(phase: Phase, mode: Mode): string {
  return `worker-kill/${phase.replace(/ /g, '-').toLowerCase()}/${mode === 'second' ? 'second-worker' : 'restart'}`;
}

export async function workerKill(stack: FaultStack, phase: Phase, mode: Mode, options: Options): Promise<ScenarioResult> {
  const run = new ScenarioRun(
    stack,
    scenarioName(phase, mode),
    `SIGKILL of the worker ${phase === 'item change' ? 'running an item change' : `in phase ${phase}`}, ${mode === 'second' ? 'a second worker alive' : 'no worker until a restart'}`,
    options,
  );
  say(`${run.name}: ${run.description}`);
  let error: unknown;
  try {
    await ensureWorkers(stack, mode === 'second' ? 2 : 1);
    await inPhase(run, phase, mode);
  } catch (err) {
    error = err;
    say(`  ${run.name} could not run to its end: ${(err as Error).message}`);
  } finally {
    stack.thawMongo();
    if (stack.liveWorkers().length === 0) await stack.startWorker();
  }
  return run.finish(120000, error);
}

async function kill(
  run: ScenarioRun,
  mode: Mode,
  identity: string | undefined,
  phase: Phase,
): Promise<{ killAt: number; fault: FaultRecord; restart: () => Promise<number> }> {
  const targets: WorkerProc[] = victims(run.stack, mode, identity);
  const killAt = Date.now();
  await Promise.all(targets.map((w) => run.stack.killWorker(w)));
  const fault = run.fault('SIGKILL', targets.map((w) => w.name).join('+') || '(no worker)', killAt, { phase });
  // With a second worker, it is live at once; otherwise the restarted worker is live once it polls.
  const restart = async () => (mode === 'second' ? killAt : (await run.stack.startWorker()).readyAt);
  return { killAt, fault, restart };
}

async function cartDoc(run: ScenarioRun, cartId: string) {
  return (await run.stack.carts.findOne({ _id: cartId })) ?? undefined;
}

/** Waits until the cart's checkout waits for its order (all steps done). */
async function untilReady(run: ScenarioRun, cartId: string, timeoutMs: number): Promise<number | undefined> {
  return waitFor(async () => {
    const view = await run.stack.client.workflow.getHandle(checkoutWorkflowId(cartId)).query(getCheckoutStateQuery);
    return view.phase === 'READY' ? Date.now() : undefined;
  }, timeoutMs);
}

async function inPhase(run: ScenarioRun, phase: Phase, mode: Mode): Promise<void> {
  const { stack, traffic } = run;
  const cartId = await traffic.newCart();
  const handle = stack.client.workflow.getHandle(checkoutWorkflowId(cartId));
  const stepDelayMs = (BACKGROUND_STEPS as readonly string[]).includes(phase) || phase === 'locking' ? STEP_DELAY_MS : undefined;
  const startCheckout = () => traffic.libraryOp({ client: 'service', cartId, kind: 'start', via: 'client' }, () => stack.startCheckout(cartId, stepDelayMs));

  if (phase === 'locking' || phase === 'place order' || phase === 'item change') {
    // A short activity: MongoDB is frozen so that it is still in flight when its worker dies.
    let pending: Promise<unknown>;
    let activity: string;
    let workflow = handle;
    let done: () => Promise<boolean>;
    if (phase === 'locking') {
      stack.freezeMongo();
      pending = startCheckout();
      activity = 'lockCartForCheckout';
      done = async () => ['PROCESSING', 'READY'].includes((await handle.query(getCheckoutStateQuery)).phase);
    } else if (phase === 'place order') {
      await startCheckout();
      if ((await untilReady(run, cartId, 60000)) === undefined) throw new Error('the checkout did not reach READY');
      stack.freezeMongo();
      pending = traffic.libraryOp({ client: 'service', cartId, kind: 'order', via: 'update' }, () => stack.checkout.placeOrder(cartId, 'fault-suite'));
      activity = 'placeOrder';
      done = async () => (await cartDoc(run, cartId))?.status === 'Closed';
    } else {
      const sku = `item-${randomUUID().slice(0, 8)}`;
      stack.freezeMongo();
      pending = traffic.libraryOp({ client: 'service', cartId, kind: 'add', via: 'client', sku, quantity: 3 }, () =>
        stack.checkout.addItem(cartId, sku, 3, { requestedBy: 'fault-suite' }),
      );
      activity = 'changeCartItems';
      const id = await waitFor(async () => {
        for await (const wf of stack.client.workflow.list({ query: `CartId="${cartId}" AND WorkflowType="cartItemsWorkflow" AND ExecutionStatus="Running"` }))
          return wf.workflowId;
        return undefined;
      }, 20000);
      if (!id) throw new Error('the item change workflow did not show up');
      workflow = stack.client.workflow.getHandle(id);
      done = async () => ((await cartDoc(run, cartId))?.items ?? []).some((i) => i.sku === sku);
    }
    const holder = await activityHolder(stack, workflow, activity, 20000);
    if (!holder) throw new Error(`no worker picked up ${activity}`);
    const k = await kill(run, mode, holder.identity, phase);
    stack.thawMongo();
    const liveAt = await k.restart();
    run.recovered(k.fault, k.killAt, liveAt, await resumed(workflow, activity, done, RECOVERY_DEADLINE_MS));
    await waitFor(async () => ((await done()) ? true : undefined), RECOVERY_DEADLINE_MS, 250);
    await pending;
    if (phase === 'locking') await finishWithOrder(run, cartId);
    return;
  }

  await startCheckout();
  if ((BACKGROUND_STEPS as readonly string[]).includes(phase)) {
    const step = phase as BackgroundStep;
    const inStep = await waitFor(
      async () => {
        const doc = await cartDoc(run, cartId);
        return doc?.checkout?.nextState === step && doc.checkout.isProcessing ? true : undefined;
      },
      60000,
      50,
    );
    if (!inStep) throw new Error(`the checkout never ran step ${step}`);
    const holder = await activityHolder(stack, handle, 'runCheckoutStep', 10000);
    const k = await kill(run, mode, holder?.identity, phase);
    const liveAt = await k.restart();
    const target = CHECKOUT_STATES.indexOf(step);
    const stepDone = async () => {
      const state = (await cartDoc(run, cartId))?.checkout?.state;
      return state !== undefined && state !== 'Error' && CHECKOUT_STATES.indexOf(state) >= target;
    };
    run.recovered(k.fault, k.killAt, liveAt, await resumed(handle, 'runCheckoutStep', stepDone, RECOVERY_DEADLINE_MS));
    await finishWithOrder(run, cartId);
    return;
  }

  if ((await untilReady(run, cartId, 60000)) === undefined) throw new Error('the checkout did not reach READY');
  const identity = await workflowTaskHolder(handle);
  if (phase === 'READY') {
    const k = await kill(run, mode, identity, phase);
    // The order is asked for while the worker that had the workflow is dead.
    const order = traffic.order('buyer', cartId, { retryForMs: 60000 });
    const liveAt = await k.restart();
    const doneAt = await waitFor(async () => ((await cartDoc(run, cartId))?.status === 'Closed' ? Date.now() : undefined), RECOVERY_DEADLINE_MS, 250);
    run.recovered(k.fault, k.killAt, liveAt, doneAt);
    await order;
    return;
  }
  // after cancel signal: the signal is accepted, then the worker that would run it dies.
  await traffic.cancelLibrary('service', cartId, 'signal');
  const k = await kill(run, mode, identity, phase);
  const liveAt = await k.restart();
  const doneAt = await waitFor(async () => ((await cartDoc(run, cartId))?.status === 'Active' ? Date.now() : undefined), RECOVERY_DEADLINE_MS, 250);
  run.recovered(k.fault, k.killAt, liveAt, doneAt);
}

/** After recovery the checkout goes on to its order: the order must carry every step's totals. */
async function finishWithOrder(run: ScenarioRun, cartId: string): Promise<void> {
  if ((await untilReady(run, cartId, 120000)) === undefined) return;
  await run.traffic.order('buyer', cartId, { retryForMs: 60000 });
}

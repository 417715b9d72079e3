/**
 * Failover between worker processes: worker A is SIGKILLed while it holds checkouts in every phase
 * (locked and waiting for the order, in the middle of a slowed step, right after a cancel signal), and
 * worker B, alive beside it, finishes every one of them. The time from the kill until the last one
 * finished is printed, not asserted (it is what the profile's engine makes of the timeouts: sticky
 * queue, workflow task, activity heartbeat).
 *
 * Runs on both stack profiles (`npm test`, `STACK=server npm test`). The workers are the fault suite's
 * worker processes (test/harness/worker-processes.ts), in a namespace of this file's own.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Activities } from '../activities';
import { CheckoutClient } from '../src/client';
import { temporalSettings } from '../src/config';
import { CANCEL_ACTIVITY_TYPE, checkoutWorkflowId } from '../src/contract';
import { dataConverter } from '../src/data-converter';
import { cartsCollection, connectMongo, type CartDoc, type MongoConnection } from '../src/db';
import { setStepDelay } from '../stack/step-delay';
import { eventually, insertForeignCart, newCartId } from './harness/env';
import { eventsWith, runsOf } from './harness/history';
import { WorkerProcesses, ensureNamespace, isIdentityOf, type TestWorkerProcess } from './harness/worker-processes';

const NAMESPACE = 'b2b-checkout-test-failover';
/** How long each step of the checkouts held in a step takes on worker A: far longer than the test, ended by the kill. */
const HOLD_MS = 5 * 60_000;
const PER_PHASE = 4;
const STEP_ACTIVITY: keyof Activities = 'runCheckoutStep';
const ORDER_ACTIVITY: keyof Activities = 'placeOrder';
const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/** Where a checkout is when worker A dies, and what is asked of it: its cart must end as the request demands. */
type Phase = 'locked' | 'in a step' | 'after a cancel signal';
interface Checkout {
  cartId: string;
  phase: Phase;
  request: 'order' | 'cancel';
  handle: WorkflowHandle;
}

let mongo: MongoConnection;
let connection: Connection;
let client: Client;
let checkout: CheckoutClient;
let logDir: string;
let workers: WorkerProcesses;
const cartIds: string[] = [];

beforeAll(async () => {
  if (!process.env.MONGODB_URI || !process.env.TEMPORAL_ADDRESS) throw new Error('the jest global setup did not provide the servers');
  // A database of its own: these worker processes run the event relay, which would empty the outboxes of
  // carts that other files compare whole.
  const mongoDb = `b2b_checkout_test_failover_${randomUUID().slice(0, 8)}`;
  mongo = await connectMongo(process.env.MONGODB_URI, mongoDb);
  connection = await Connection.connect(temporalSettings().connectionOptions);
  await ensureNamespace(connection, NAMESPACE);
  client = new Client({ connection, namespace: NAMESPACE, dataConverter });
  checkout = new CheckoutClient({ client, carts: cartsCollection(mongo.db) });
  logDir = mkdtempSync(path.join(os.tmpdir(), 'b2b-failover-'));
  workers = new WorkerProcesses(NAMESPACE, mongoDb, logDir);
});

afterAll(async () => {
  await workers?.stop();
  // A failed run leaves nothing running in the namespace for the next run's workers.
  for (const cartId of cartIds) {
    await client?.workflow
      .getHandle(checkoutWorkflowId(cartId))
      .terminate('failover test over')
      .catch(() => undefined);
    await setStepDelay(mongo.db, cartId, undefined).catch(() => undefined);
  }
  await connection?.close();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

function checkouts(phase: Phase, request: (i: number) => Checkout['request']): Checkout[] {
  return Array.from({ length: PER_PHASE }, (_, i) => {
    const cartId = newCartId(`failover-${phase.replace(/ /g, '-')}`);
    cartIds.push(cartId);
    return { cartId, phase, request: request(i), handle: client.workflow.getHandle(checkoutWorkflowId(cartId)) };
  });
}

/** The step running right now on a worker (state STARTED), or undefined. */
async function runningStep(c: Checkout) {
  const { raw } = await c.handle.describe();
  return raw.pendingActivities?.find((a) => a.activityType?.name === STEP_ACTIVITY && a.state === STARTED);
}

/** Brings every checkout to its phase on A, the only worker so far: locked and READY, or held in its first step. */
async function bringToPhases(all: Checkout[], a: TestWorkerProcess): Promise<void> {
  const held = all.filter((c) => c.phase !== 'locked');
  for (const c of all) {
    await insertForeignCart(cartsCollection(mongo.db), c.cartId);
    if (c.phase !== 'locked') await setStepDelay(mongo.db, c.cartId, HOLD_MS);
  }
  await Promise.all(all.map((c) => checkout.startCheckout(c.cartId)));
  for (const c of all.filter((x) => x.phase === 'locked')) {
    await eventually(`${c.cartId} waiting for its order`, async () => ((await checkout.getCheckout(c.cartId))?.phase === 'READY' ? true : undefined), 60000);
  }
  for (const c of held) {
    const step = await eventually(`${c.cartId} in its first step`, () => runningStep(c), 60000);
    expect(isIdentityOf(step.lastWorkerIdentity, a)).toBe(true);
  }
}

test('a worker SIGKILLed while it holds locked checkouts, running steps and fresh cancels: the other worker finishes every one', async () => {
  const all = [
    ...checkouts('locked', (i) => (i % 2 ? 'cancel' : 'order')),
    ...checkouts('in a step', () => 'order'),
    ...checkouts('after a cancel signal', () => 'cancel'),
  ];
  const a = await workers.start('worker-a');
  await bringToPhases(all, a);

  // B polls before A dies, as a second replica does. A is frozen first: from then on nothing it
  // holds can finish or move to B before the kill, and a signal's workflow task may be handed to A
  // (its sticky queue) and is lost with it.
  const b = await workers.start('worker-b');
  workers.freeze(a);
  for (const c of all.filter((x) => x.phase !== 'locked')) {
    const step = await runningStep(c);
    expect({ cartId: c.cartId, onA: isIdentityOf(step?.lastWorkerIdentity, a), attempt: step?.attempt }).toEqual({ cartId: c.cartId, onA: true, attempt: 1 });
  }
  const signaled = all.filter((c) => c.phase === 'after a cancel signal');
  await Promise.all(signaled.map((c) => checkout.cancelCheckout(c.cartId, { wait: false, requestedBy: 'failover-test' })));
  // The steps B runs again take no time.
  for (const c of all) await setStepDelay(mongo.db, c.cartId, undefined);
  await workers.kill(a);
  const killedAt = Date.now();

  const done = await Promise.all(
    all.map(async (c) => {
      const answer = await ask(c);
      const result = await checkout.checkoutResult(c.cartId);
      return { c, answer, result, seconds: (Date.now() - killedAt) / 1000 };
    }),
  );
  report(done, a, b);

  for (const { c, answer, result } of done) {
    const cart = (await cartsCollection(mongo.db).findOne({ _id: c.cartId })) as CartDoc;
    if (c.request === 'order') {
      expect({ cartId: c.cartId, outcome: result.outcome, status: cart.status, orderId: cart.orderId, locked: cart.checkout ?? undefined }).toEqual({
        cartId: c.cartId,
        outcome: 'ORDER_PLACED',
        status: 'Closed',
        orderId: result.orderId,
        locked: undefined,
      });
      expect(answer).toEqual({ orderId: result.orderId });
    } else {
      expect({ cartId: c.cartId, outcome: result.outcome, status: cart.status, locked: cart.checkout ?? undefined }).toEqual({
        cartId: c.cartId,
        outcome: 'CANCELED',
        status: 'Active',
        locked: undefined,
      });
      expect(cart.archivedSessions?.at(-1)?.backgroundOperation.status).toBe('Canceled');
    }
    await expectFinishedBy(c, a, b);
  }
}, 600_000);

/** What is asked of a checkout once A is dead (the signaled ones were asked before). */
async function ask(c: Checkout): Promise<unknown> {
  if (c.phase === 'after a cancel signal') return undefined;
  return c.request === 'order' ? checkout.placeOrder(c.cartId, 'failover-test') : checkout.cancelCheckout(c.cartId, { requestedBy: 'failover-test' });
}

/** The history: closed, every workflow task done by A or B, the last ones and the request's activity by B. */
async function expectFinishedBy(c: Checkout, a: TestWorkerProcess, b: TestWorkerProcess): Promise<void> {
  const { status } = await c.handle.describe();
  expect({ cartId: c.cartId, status: status.name }).toEqual({ cartId: c.cartId, status: 'COMPLETED' });
  const history = await c.handle.fetchHistory();
  const tasks = eventsWith(history, 'workflowTaskCompletedEventAttributes').map((e) => e.workflowTaskCompletedEventAttributes?.identity);
  const byAOrB = tasks.every((id) => isIdentityOf(id, a) || isIdentityOf(id, b));
  expect({ cartId: c.cartId, tasks, byAOrB, lastByB: isIdentityOf(tasks.at(-1), b) }).toMatchObject({ byAOrB: true, lastByB: true });

  const final = runsOf(history, c.request === 'order' ? ORDER_ACTIVITY : CANCEL_ACTIVITY_TYPE);
  const identity = final[0]?.started?.activityTaskStartedEventAttributes?.identity;
  expect({ cartId: c.cartId, runs: final.length, completed: final[0]?.completed !== undefined, identity, byB: isIdentityOf(identity, b) }).toMatchObject({
    runs: 1,
    completed: true,
    byB: true,
  });

  if (c.phase === 'locked') return;
  // The step A was running never completed on A: B ran it again (a later attempt), or, after a
  // cancel, the cancel stopped it first (which of the two comes first is the engine's timing).
  const [firstStep] = runsOf(history, STEP_ACTIVITY);
  const started = firstStep.started?.activityTaskStartedEventAttributes;
  const rerunOnB = firstStep.completed !== undefined && isIdentityOf(started?.identity, b) && (started?.attempt ?? 0) > 1;
  const stopped = firstStep.cancelRequested && firstStep.completed === undefined;
  const seen = c.phase === 'in a step' ? rerunOnB : rerunOnB || stopped;
  expect({ cartId: c.cartId, phase: c.phase, rerunOnB, stopped, asExpected: seen }).toMatchObject({ asExpected: true });
}

/** The failover time, per phase and in all: printed for the reader, never asserted. */
function report(done: { c: Checkout; seconds: number }[], a: TestWorkerProcess, b: TestWorkerProcess): void {
  const last = (xs: typeof done) => Math.max(...xs.map((x) => x.seconds)).toFixed(1);
  const phases = [...new Set(done.map((x) => x.c.phase))].map((p) => `${p} ${last(done.filter((x) => x.c.phase === p))} s`);
  console.log(
    `failover on the ${process.env.B2B_TEST_TEMPORAL ?? 'given'} profile: worker A (pid ${a.pid}) SIGKILLed holding ${done.length} checkouts; ` +
      `worker B (pid ${b.pid}) finished the last one ${last(done)} s after the kill (last per phase: ${phases.join(', ')})`,
  );
}

/**
 * Faults of the servers: the Temporal dev server killed mid-checkout and restarted on its database
 * file; the MongoDB server stopped with requests in flight and restarted on its data; and the whole
 * stack (servers, worker, API: what `npm start` runs) killed at once and started again.
 */
import { randomUUID } from 'node:crypto';
import { checkoutWorkflowId } from '../../src/contract';
import { getCheckoutStateQuery } from '../../src/contract/messages';
import { say, sleep, waitFor } from '../log';
import { ScenarioRun, ensureWorkers, type Options, type ScenarioResult } from '../scenario';
import type { FaultStack } from '../stack';

async function phaseOf(run: ScenarioRun, cartId: string): Promise<string | undefined> {
  try {
    return (await run.stack.client.workflow.getHandle(checkoutWorkflowId(cartId)).query(getCheckoutStateQuery)).phase;
  } catch {
    return undefined;
  }
}

/** Runs a scenario's body; a body that throws is reported as the scenario's error, and the invariants are checked all the same. */
export async function guarded(run: ScenarioRun, body: () => Promise<void>): Promise<ScenarioResult> {
  say(`${run.name}: ${run.description}`);
  let error: unknown;
  try {
    await body();
  } catch (err) {
    error = err;
    say(`  ${run.name} could not run to its end: ${(err as Error).message}`);
  }
  return run.finish(120000, error);
}

/** SIGKILL of the Temporal server while checkouts run their steps; restart on the same SQLite file. */
export function temporalKill(stack: FaultStack, options: Options): Promise<ScenarioResult> {
  const run = new ScenarioRun(
    stack,
    'temporal-kill',
    'SIGKILL of the Temporal dev server mid-checkout, restarted on the same database file after 5 s',
    options,
  );
  return guarded(run, async () => {
    await ensureWorkers(stack, 2);
    const carts: string[] = [];
    for (let i = 0; i < (options.quick ? 3 : 6); i++) carts.push(await run.traffic.newCart());
    await Promise.all(
      carts.map((cartId) => run.traffic.libraryOp({ client: 'service', cartId, kind: 'start', via: 'client' }, () => stack.startCheckout(cartId, 1500))),
    );
    const inSteps = await waitFor(
      async () => ((await stack.carts.countDocuments({ _id: { $in: carts }, 'checkout.isProcessing': true })) > 0 ? true : undefined),
      30000,
      50,
    );
    if (!inSteps) throw new Error('no checkout was running a step');
    const killAt = await stack.killTemporal();
    const fault = run.fault('SIGKILL', 'temporal dev server', killAt, { phase: 'checkouts in their steps' });
    // Callers meanwhile: a cancel and an order, which must answer with a code (503 UNAVAILABLE).
    const during = [run.traffic.cancelHttp('buyer', carts[0], true, { retryForMs: 60000 }), run.traffic.order('buyer', carts[1], { retryForMs: 60000 })];
    await sleep(5000);
    await stack.startTemporal();
    const liveAt = Date.now();
    const doneAt = await waitFor(
      async () => {
        for (const cartId of carts.slice(1)) {
          const doc = await stack.carts.findOne({ _id: cartId });
          if (doc?.status === 'Closed') continue;
          if ((await phaseOf(run, cartId)) !== 'READY') return undefined;
        }
        return Date.now();
      },
      180000,
      250,
    );
    run.recovered(fault, killAt, liveAt, doneAt);
    await Promise.all(during);
    for (const cartId of carts.slice(2)) await run.traffic.order('buyer', cartId, { retryForMs: 60000 });
  });
}

/** The MongoDB server stopped for `outageMs` with cancels, item changes and orders in flight. */
export function mongoOutage(stack: FaultStack, options: Options, outageMs = 15000): Promise<ScenarioResult> {
  const run = new ScenarioRun(
    stack,
    'mongo-outage',
    `MongoDB stopped for ${outageMs / 1000} s with cancels, item changes and orders in flight, then restarted on its data`,
    options,
  );
  return guarded(run, async () => {
    await ensureWorkers(stack, 2);
    const n = options.quick ? 4 : 8;
    const carts: string[] = [];
    for (let i = 0; i < n; i++) carts.push(await run.traffic.newCart());
    // Half the carts in checkout, waiting for the order.
    for (const cartId of carts.slice(0, n / 2)) await run.traffic.start('buyer', cartId, { retryForMs: 30000 });
    const stopAt = await stack.stopMongo('stop');
    const fault = run.fault('stop', 'mongodb server', stopAt, { phase: `${n} carts, ${n / 2} in checkout` });
    const inFlight: Promise<unknown>[] = [];
    carts.forEach((cartId, i) => {
      const client = `client-${i}`;
      const key = () => `${client}-${randomUUID()}`;
      inFlight.push(run.traffic.changeItem(client, cartId, 'add', `${client}-a`, 2, { key: key(), retryForMs: 60000 }));
      if (i % 2 === 0) inFlight.push(run.traffic.cancelHttp(client, cartId, i % 4 === 0, { retryForMs: 60000 }));
      else inFlight.push(run.traffic.order(client, cartId, { retryForMs: 60000 }));
      inFlight.push(run.traffic.cancelLibrary(client, cartId, 'update', { retryForMs: 60000 }));
    });
    await sleep(outageMs);
    await stack.startMongo();
    const liveAt = Date.now();
    await Promise.all(inFlight);
    run.recovered(fault, stopAt, liveAt, Date.now());
    say(`  answers while MongoDB was down: ${JSON.stringify(answersBetween(run, stopAt, liveAt))}`);
  });
}

function answersBetween(run: ScenarioRun, from: number, to: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (const op of run.ledger.ops) {
    for (const a of op.answers) {
      if (a.at < from || a.at > to) continue;
      const k = a.code ? `${a.status ?? ''} ${a.code}`.trim() : a.error ? 'no answer' : String(a.status);
      seen[k] = (seen[k] ?? 0) + 1;
    }
  }
  return seen;
}

/**
 * `npm start` killed with SIGKILL (every process at once, servers included) and started again on the
 * same files: every write acknowledged before the kill must still be there.
 */
export function stackKill(stack: FaultStack, options: Options): Promise<ScenarioResult> {
  const run = new ScenarioRun(
    stack,
    'stack-kill',
    'every process of the stack (Temporal, MongoDB, worker, API) SIGKILLed at once under load, then started again on the same files',
    options,
  );
  return guarded(run, async () => {
    await ensureWorkers(stack, 1);
    const carts: string[] = [];
    for (let i = 0; i < 4; i++) carts.push(await run.traffic.newCart());
    let stop = false;
    let acked = 0;
    // Two buyers keep writing; the kill comes once a number of writes were acknowledged.
    const buyers = carts.map(async (cartId, b) => {
      for (let i = 0; !stop && i < 200; i++) {
        const op = await run.traffic.changeItem(`buyer-${b}`, cartId, 'add', `buyer-${b}-${i}`, 1 + (i % 3), { key: `buyer-${b}-${i}-${randomUUID()}` });
        if (op.outcome === 'applied') acked++;
        if (b === 0 && i === 3) await run.traffic.start(`buyer-${b}`, cartId);
        if (b === 1 && i === 3) {
          await run.traffic.start(`buyer-${b}`, cartId);
          await waitFor(async () => ((await phaseOf(run, cartId)) === 'READY' ? true : undefined), 30000);
          await run.traffic.order(`buyer-${b}`, cartId);
          return;
        }
      }
    });
    await waitFor(async () => (acked >= 12 ? true : undefined), 120000);
    const killAt = await stack.killAll();
    const fault = run.fault('SIGKILL', 'whole stack', killAt, { phase: `${acked} item changes acknowledged` });
    stop = true;
    await stack.restartAll(1);
    const liveAt = Date.now();
    await Promise.all(buyers);
    // Working again: a new checkout on a cart that was written before the kill runs to its order.
    const probe = carts[2];
    await run.traffic.start('probe', probe, { retryForMs: 60000 });
    const ready = await waitFor(async () => ((await phaseOf(run, probe)) === 'READY' ? Date.now() : undefined), 120000);
    run.recovered(fault, killAt, liveAt, ready);
    await run.traffic.order('probe', probe, { retryForMs: 60000 });
  });
}

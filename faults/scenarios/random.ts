/**
 * A seeded random interleaving: clients drive every kind of request at shared carts (start, cancel by
 * signal, by Update and by HTTP, add/change/remove items, place orders, duplicate requests with and
 * without an Idempotency-Key) while faults hit at random moments: a worker killed (another alive and
 * a replacement started), the Temporal server killed and restarted, MongoDB stopped and restarted.
 * Each client owns its SKUs and runs one request at a time, so the ledger knows what each SKU's
 * quantity must be; carts are shared, so checkouts, cancels, orders and item changes race.
 */
import { say, sleep, prng } from '../log';
import { ScenarioRun, ensureWorkers, type FaultRecord, type Options, type ScenarioResult } from '../scenario';
import type { FaultStack } from '../stack';

type FaultKind = 'worker' | 'temporal' | 'mongo';

export async function randomRun(stack: FaultStack, options: Options): Promise<ScenarioResult> {
  const { seed, operations, clients, carts: cartCount } = options;
  const run = new ScenarioRun(
    stack,
    'random',
    `seed ${seed}: ${operations} operations from ${clients} clients on ${cartCount} carts, faults at random moments`,
    options,
  );
  say(`${run.name}: ${run.description}`);
  const rng = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  let error: unknown;
  const liveMarks: Array<{ fault: FaultRecord; killAt: number; liveAt: number }> = [];
  try {
    await ensureWorkers(stack, 2);
    const carts: string[] = [];
    for (let i = 0; i < cartCount; i++) carts.push(await run.traffic.newCart());
    say(`  ${cartCount} carts ready`);

    let started = 0;
    let finished = false;
    const faultCount = options.quick ? 2 : Math.max(6, Math.round(operations / 150));
    const kinds: FaultKind[] = options.quick
      ? ['worker', 'mongo']
      : Array.from({ length: faultCount }, (_, i) => (['worker', 'mongo', 'worker', 'temporal'] as const)[i % 4]);
    // The moments (in operations started) at which faults hit, drawn from the seed.
    const moments = kinds.map((_, i) => Math.floor(((i + 0.2 + rng() * 0.6) / kinds.length) * operations * 0.9));

    const injector = (async () => {
      for (let i = 0; i < kinds.length; i++) {
        while (!finished && started < moments[i]) await sleep(50);
        if (finished) return;
        const kind = kinds[i];
        if (kind === 'worker') {
          const victim = pick(stack.liveWorkers());
          const killAt = await stack.killWorker(victim);
          const fault = run.fault('SIGKILL', victim.name, killAt, { phase: `random, after ${started} operations` });
          liveMarks.push({ fault, killAt, liveAt: killAt });
          await stack.startWorker();
        } else if (kind === 'temporal') {
          const killAt = await stack.killTemporal();
          const fault = run.fault('SIGKILL', 'temporal dev server', killAt, { phase: `random, after ${started} operations` });
          await sleep(3000);
          await stack.startTemporal();
          liveMarks.push({ fault, killAt, liveAt: Date.now() });
        } else {
          const stopAt = await stack.stopMongo('stop');
          const fault = run.fault('stop', 'mongodb server', stopAt, { phase: `random, after ${started} operations` });
          await sleep(5000);
          await stack.startMongo();
          liveMarks.push({ fault, killAt: stopAt, liveAt: Date.now() });
        }
        say(`  fault ${i + 1}/${kinds.length}: ${kind} after ${started} operations`);
      }
    })();

    const progress = setInterval(() => say(`  ${started}/${operations} operations started`), 15000);
    const clientLoops = Array.from({ length: clients }, async (_, c) => {
      const me = `c${c}`;
      // Each client its own sequence of choices, whatever the timing of the others.
      const rng = prng(seed * 1000 + c + 1);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
      const mySkus = new Map<string, string[]>();
      let skuSeq = 0;
      let lastStarted: string | undefined;
      while (started < operations) {
        started++;
        const cartId = pick(carts);
        const skus = mySkus.get(cartId) ?? [];
        mySkus.set(cartId, skus);
        const r = rng();
        const key = () => `${me}-${started}-${Math.floor(rng() * 1e9)}`;
        const t = run.traffic;
        if (r < 0.12) {
          // Through the API: a checkout at full speed.
          await stack.slowSteps(cartId, undefined);
          await t.start(me, cartId, { retryForMs: 30000 });
          lastStarted = cartId;
        } else if (r < 0.18) {
          const stepDelayMs = pick([200, 500, 1000]);
          await t.libraryOp({ client: me, cartId, kind: 'start', via: 'client' }, () => stack.startCheckout(cartId, stepDelayMs));
          lastStarted = cartId;
        } else if (r < 0.25) {
          await t.cancelLibrary(me, cartId, 'signal', { retryForMs: 30000 });
        } else if (r < 0.32) {
          await t.cancelLibrary(me, cartId, 'update', { retryForMs: 30000 });
        } else if (r < 0.39) {
          await t.cancelHttp(me, cartId, rng() < 0.7, { retryForMs: 30000 });
        } else if (r < 0.55) {
          const sku = `${me}-${++skuSeq}`;
          const keyed = rng() < 0.5;
          const op = await t.changeItem(me, cartId, 'add', sku, 1 + Math.floor(rng() * 5), keyed ? { key: key(), retryForMs: 30000 } : {});
          if (op.outcome !== 'refused') skus.push(sku);
        } else if (r < 0.62 && skus.length > 0) {
          await t.changeItem(me, cartId, 'set', pick(skus), 1 + Math.floor(rng() * 5), rng() < 0.5 ? { key: key(), retryForMs: 30000 } : {});
        } else if (r < 0.66 && skus.length > 0) {
          await t.changeItem(me, cartId, 'remove', pick(skus), 0, rng() < 0.5 ? { key: key(), retryForMs: 30000 } : {});
        } else if (r < 0.74) {
          // The same request twice at once: with one key (one effect) or without (two requests, two effects).
          const sku = `${me}-${++skuSeq}`;
          const quantity = 1 + Math.floor(rng() * 5);
          const opts = rng() < 0.6 ? { key: key(), retryForMs: 30000 } : {};
          const first = t.changeItem(me, cartId, 'add', sku, quantity, opts);
          // The ledger entry is made before the first await of the request.
          const firstId = run.ledger.ops[run.ledger.ops.length - 1].id;
          await sleep(Math.floor(rng() * 30));
          const second = t.changeItem(me, cartId, 'add', sku, quantity, { ...opts, repeatOf: firstId });
          await Promise.all([first, second]);
          skus.push(sku);
          started++;
        } else if (r < 0.8) {
          await t.order(me, lastStarted ?? cartId, { retryForMs: 30000 });
        } else if (r < 0.84) {
          await t.httpOp({ client: me, cartId, kind: 'read' }, 'GET', `/carts/${cartId}`, undefined, { retryable: false });
        } else {
          await t.start(me, cartId, { retryForMs: 30000 });
          lastStarted = cartId;
        }
      }
    });
    await Promise.all(clientLoops);
    finished = true;
    clearInterval(progress);
    await injector;
    await ensureWorkers(stack, 2);
  } catch (err) {
    error = err;
    say(`  ${run.name} could not run to its end: ${(err as Error).message}`);
  }
  // Recovery after each fault: until the first request sent after it was acknowledged.
  for (const m of liveMarks) {
    const first = run.ledger.ops.filter((o) => o.sentAt >= m.liveAt && o.outcome === 'applied' && o.doneAt).sort((a, b) => a.doneAt! - b.doneAt!)[0];
    run.recovered(m.fault, m.killAt, m.liveAt, first?.doneAt);
  }
  return run.finish(180000, error);
}

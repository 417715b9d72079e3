/** Carts and checkouts the phases set up: inserted carts, started checkouts, bounded concurrency. */
import type { Collection } from 'mongodb';
import { performance } from 'node:perf_hooks';
import type { CheckoutClient } from '../src/client';
import { checkoutWorkflowId } from '../src/contract';
import type { CartDoc } from '../src/db';
import { getCheckoutStateQuery } from '../src/contract/messages';
import { ticker, type AbortFlag } from './log';
import { ACCOUNT, STORE } from './stack';

/** A cart document as another service writes it, tagged with the phase that made it. */
export type BenchCart = CartDoc & { benchBatch: string };

/**
 * Runs `fn` over `items` with at most `concurrency` calls at a time. Stops starting new calls once the
 * run is aborted; the first failure is rethrown after the calls in flight have settled.
 */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>, abort?: AbortFlag): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && failure === undefined && !abort?.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  if (failure !== undefined) throw failure;
  abort?.check();
  return results;
}

export function cartIds(runId: string, batch: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `bench-${runId}-${batch}-${i}`);
}

export async function insertCarts(carts: Collection<CartDoc>, ids: string[], batch: string): Promise<void> {
  const docs: BenchCart[] = ids.map((id) => ({
    _id: id,
    status: 'Active',
    webstoreId: STORE,
    accountId: ACCOUNT,
    items: [{ sku: 'SKU-1', quantity: 2 }],
    version: 0,
    benchBatch: batch,
  }));
  for (let i = 0; i < docs.length; i += 1000) await carts.insertMany(docs.slice(i, i + 1000), { ordered: false });
}

export interface Started {
  runIds: Map<string, string>;
  /** Checkouts started per second (each returns once it holds the lock). */
  perSecond: number;
  seconds: number;
}

/** Starts a checkout on every cart (update-with-start: returns once locked), `concurrency` at a time. */
export async function startCheckouts(checkout: CheckoutClient, ids: string[], concurrency: number, label: string, abort: AbortFlag): Promise<Started> {
  const runIds = new Map<string, string>();
  const t0 = performance.now();
  const stop = ticker(label, () => `${runIds.size}/${ids.length} checkouts locked`);
  try {
    await pool(
      ids,
      concurrency,
      async (id) => {
        const started = await checkout.startCheckout(id);
        if (!started.started) throw new Error(`cart ${id}: a checkout was already running`);
        runIds.set(id, started.runId);
      },
      abort,
    );
  } finally {
    stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { runIds, perSecond: ids.length / seconds, seconds };
}

/**
 * Waits until every checkout of the batch has finished its background steps and waits for the order
 * (cart in Checkout, state Checkout Summary, nothing processing), so what follows measures a cancel
 * alone. Polls a count (every 20 ms plus 1 ms per checkout, at most 250 ms); gives up at the deadline.
 */
export async function waitReady(carts: Collection<CartDoc>, batch: string, n: number, label: string, abort: AbortFlag, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const filter = { benchBatch: batch, status: 'Checkout', 'checkout.state': 'Checkout Summary', 'checkout.isProcessing': false } as const;
  let ready = 0;
  const stop = ticker(label, () => `${ready}/${n} checkouts through their background steps`);
  try {
    while (Date.now() < deadline) {
      abort.check();
      ready = await carts.countDocuments(filter as never);
      if (ready >= n) return;
      await new Promise((r) => setTimeout(r, Math.min(250, 20 + n)));
    }
  } finally {
    stop();
  }
  throw new Error(`${label}: only ${ready}/${n} checkouts finished their steps within ${timeoutMs / 1000} s`);
}

/**
 * Waits until each checkout's workflow itself says it waits for the order (query: phase READY), so no
 * workflow task of the setup is still pending when the measurement starts. Bounded per checkout.
 */
export async function waitWorkflowsReady(checkout: CheckoutClient, ids: string[], abort: AbortFlag): Promise<void> {
  await pool(
    ids,
    20,
    async (id) => {
      const handle = checkout.client.workflow.getHandle(checkoutWorkflowId(id));
      for (let attempt = 0; attempt < 200; attempt++) {
        abort.check();
        if ((await handle.query(getCheckoutStateQuery)).phase === 'READY') return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`checkout of ${id} did not reach READY`);
    },
    abort,
  );
}

/** Carts of the batch still locked (status Checkout). */
export function countLocked(carts: Collection<CartDoc>, batch: string): Promise<number> {
  return carts.countDocuments({ benchBatch: batch, status: 'Checkout' } as never);
}

/** Waits (bounded) until no workflow of the task queue runs, so the next measurement starts quiet. */
export async function waitQuiet(checkout: CheckoutClient, taskQueue: string, abort: AbortFlag, timeoutMs = 120000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let open = 0;
  while (Date.now() < deadline) {
    abort.check();
    open = (await checkout.client.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Running"`)).count;
    if (open === 0) return 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return open;
}

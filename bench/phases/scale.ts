/**
 * 3. Scale: `n` checkouts holding their carts at once (started with bounded concurrency, all through
 * their background steps), the memory of the worker's process, then every one cancelled (Update, 100
 * in flight): time until all carts are Active, each cancel's latency, and how many stay locked.
 *
 * The worker runs in this process, so its memory is this process's (process.memoryUsage()): it includes
 * the load generator and the HTTP API too, which are small next to the worker's workflow cache.
 */
import { performance } from 'node:perf_hooks';
import { cartIds, countLocked, insertCarts, pool, startCheckouts, waitQuiet, waitReady } from '../carts';
import { Readings, type Ctx, type SdkWindow } from '../context';
import { say, ticker } from '../log';
import { metricSum, rssMbOf, scrapeMetrics, type CpuShare } from '../probes';
import { round, summarize, type Summary } from '../stats';

export interface ScaleResult {
  open: number;
  /** This process (worker + API + load generator), after a GC when --expose-gc is on, with n checkouts held. */
  rssMb: number;
  heapMb: number;
  /** The same before the checkouts were started: the growth is what n open checkouts cost. */
  baselineRssMb: number;
  baselineHeapMb: number;
  temporalServerRssMb?: number;
  mongoServerRssMb?: number;
  /** Workflows in the worker's cache (SDK metric) once all were held. */
  stickyCacheSize?: number;
  startPerSecond: number;
  startSeconds: number;
  cancelAllSeconds: number;
  cancelPerSecond: number;
  /** Each cancel (Update, answered once the cart is Active). */
  cancelMs: Summary;
  p99Ms: number;
  leftLocked: number;
  errors: number;
  firstError?: string;
  startCpu?: CpuShare;
  cancelCpu?: CpuShare;
  cancelSdk?: SdkWindow;
}

const CANCEL_CONCURRENCY = 100;
const START_CONCURRENCY = 50;

function memory(): { rssMb: number; heapMb: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMb: Math.round(m.rss / 1048576), heapMb: Math.round(m.heapUsed / 1048576) };
}

export async function measureScale(ctx: Ctx, n: number): Promise<ScaleResult> {
  const { stack, abort } = ctx;
  const batch = `scale-${n}`;
  const ids = cartIds(ctx.runId, batch, n);
  const baseline = memory();
  await insertCarts(stack.carts, ids, batch);

  const startReadings = new Readings(ctx);
  let stop = await startReadings.start();
  const started = await startCheckouts(stack.checkout, ids, START_CONCURRENCY, `scale ${n}: starting`, abort);
  say(`scale ${n}: ${n} checkouts locked in ${started.seconds.toFixed(1)} s (${started.perSecond.toFixed(1)}/s)`);
  await waitReady(stack.carts, batch, n, `scale ${n}: background steps`, abort, 120000 + n * 100);
  await stop();

  const held = memory();
  const temporalRss = stack.pids.temporal ? rssMbOf(stack.pids.temporal) : undefined;
  const mongoRss = stack.pids.mongo ? rssMbOf(stack.pids.mongo) : undefined;
  const metrics = await scrapeMetrics(stack.metricsUrl).catch(() => []);
  const cacheSize = metricSum(metrics, 'temporal_sticky_cache_size', { task_queue: stack.taskQueue }) || metricSum(metrics, 'temporal_sticky_cache_size');
  say(`scale ${n}: all held; this process RSS ${held.rssMb} MB, heap ${held.heapMb} MB (before: ${baseline.rssMb} / ${baseline.heapMb} MB)`);

  const cancelReadings = new Readings(ctx);
  stop = await cancelReadings.start();
  const latencies: number[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  const stopTicker = ticker(`scale ${n}: cancelling`, () => `${latencies.length + errors.length}/${n} answered`);
  try {
    await pool(
      ids,
      CANCEL_CONCURRENCY,
      async (id) => {
        const a = performance.now();
        try {
          const outcome = await stack.checkout.cancelCheckout(id, { wait: true, reason: 'BENCH' });
          if (!outcome.canceled) throw new Error(`cart ${id}: nothing canceled`);
          latencies.push(performance.now() - a);
        } catch (err) {
          errors.push((err as Error).message);
        }
      },
      abort,
    );
  } finally {
    stopTicker();
  }
  // Every Update answered after its cart was written Active; confirm in MongoDB, waiting (bounded) for stragglers.
  let leftLocked = await countLocked(stack.carts, batch);
  for (let i = 0; leftLocked > 0 && i < 120; i++) {
    await new Promise((r) => setTimeout(r, 250));
    leftLocked = await countLocked(stack.carts, batch);
  }
  const cancelAllSeconds = (performance.now() - t0) / 1000;
  await stop();
  const cancelMs = summarize(latencies);
  await pool(
    ids,
    50,
    (id) =>
      stack.checkout.checkoutResult(id, started.runIds.get(id)).then(
        () => undefined,
        () => undefined,
      ),
    abort,
  );
  await waitQuiet(stack.checkout, stack.taskQueue, abort, 300000);
  const startCpu = startReadings.cpuShare();
  const cancelCpu = cancelReadings.cpuShare();
  return {
    open: n,
    rssMb: held.rssMb,
    heapMb: held.heapMb,
    baselineRssMb: baseline.rssMb,
    baselineHeapMb: baseline.heapMb,
    ...(temporalRss !== undefined ? { temporalServerRssMb: temporalRss } : {}),
    ...(mongoRss !== undefined ? { mongoServerRssMb: mongoRss } : {}),
    ...(cacheSize ? { stickyCacheSize: cacheSize } : {}),
    startPerSecond: round(started.perSecond, 1),
    startSeconds: round(started.seconds, 1),
    cancelAllSeconds: round(cancelAllSeconds, 2),
    cancelPerSecond: round(n / cancelAllSeconds, 1),
    cancelMs,
    p99Ms: cancelMs.p99,
    leftLocked,
    errors: errors.length,
    ...(errors[0] ? { firstError: errors[0] } : {}),
    ...(startCpu ? { startCpu } : {}),
    ...(cancelCpu ? { cancelCpu } : {}),
    cancelSdk: cancelReadings.sdk(),
  };
}

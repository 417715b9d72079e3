/**
 * 1. Cancel → unlocked, and 5. the floors, at 1, 10, 100 in flight.
 *
 * Each round sets up `inFlight` checkouts that hold their carts and wait for the order (background
 * steps finished), then sends all cancels at once and waits for each cart to be seen Active in MongoDB
 * (CartWatcher). The floors are measured the same way in the same run: the cancel write through the
 * driver on carts locked directly (no workflow), and a bare Temporal round trip (signal or Update to a
 * bench workflow that runs a no-op activity).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CartRepository } from '../../src/db';
import { cartIds, insertCarts, pool, startCheckouts, waitQuiet, waitReady, waitWorkflowsReady } from '../carts';
import { Readings, type Ctx, type SdkWindow } from '../context';
import { pingSignal, pingUpdate, progressQuery, stopSignal, type benchFloorWorkflow } from '../floor-workflow';
import { cancelTimeline, summarizeTimelines, type CancelTimeline, type TimelineSummary } from '../history';
import { say } from '../log';
import type { CpuMs, CpuShare } from '../probes';
import { ACCOUNT } from '../stack';
import { round, summarize, type Summary } from '../stats';
import { isActive } from '../watcher';

export type CancelMethod = 'signal' | 'update' | 'http';
export type FloorKind = 'mongoCancel' | 'mongoCancelRead' | 'mongoWrite' | 'temporalSignal' | 'temporalSignalPolled' | 'temporalUpdate';

export interface Cell {
  /** Send → the read that saw the cart Active (or the no-op activity ran, for the Temporal floors). */
  latency: Summary;
  /** Send → the call's own answer (Update answered, HTTP response, driver write acknowledged). */
  reply?: Summary;
  /** Width of the bracket around the moment the cart became Active (CartWatcher), per sample. */
  resolution?: Summary;
  errors: number;
  firstError?: string;
  cpu?: CpuShare;
  /** CPU time one operation cost each process (ms): the CPU shares over the measured windows / samples. */
  /** CPU time per operation (ms): the bench process (worker, API, load), Temporal, its PostgreSQL (server profile), MongoDB. */
  cpuMsPerOp?: CpuMs;
  sdk?: SdkWindow;
  /** From the workflow histories of a sample of the cancels (server timestamps). */
  timeline?: TimelineSummary;
  rounds: number;
}

interface Sample {
  latency: number;
  reply?: number;
  resolution?: number;
}

function cell(samples: Sample[], errors: string[], readings: Readings, rounds: number, timelines: CancelTimeline[] = []): Cell {
  const replies = samples.filter((s) => s.reply !== undefined).map((s) => s.reply!);
  const resolutions = samples.filter((s) => s.resolution !== undefined).map((s) => s.resolution!);
  const cpu = readings.cpuShare();
  const timeline = summarizeTimelines(timelines);
  const perOp = (p: number | undefined) =>
    p === undefined || !cpu || samples.length === 0 ? undefined : round(((p / 100) * cpu.seconds * 1000) / samples.length, 2);
  return {
    latency: summarize(samples.map((s) => s.latency)),
    ...(replies.length ? { reply: summarize(replies) } : {}),
    ...(resolutions.length ? { resolution: summarize(resolutions) } : {}),
    errors: errors.length,
    ...(errors[0] ? { firstError: errors[0] } : {}),
    ...(cpu ? { cpu } : {}),
    ...(cpu && samples.length && cpu.seconds >= 0.5
      ? {
          cpuMsPerOp: {
            benchProcess: perOp(cpu.benchProcessPct)!,
            ...(cpu.temporalServerPct !== undefined ? { temporalServer: perOp(cpu.temporalServerPct) } : {}),
            ...(cpu.temporalDbPct !== undefined ? { temporalDb: perOp(cpu.temporalDbPct) } : {}),
            ...(cpu.mongoServerPct !== undefined ? { mongoServer: perOp(cpu.mongoServerPct) } : {}),
          },
        }
      : {}),
    sdk: readings.sdk(),
    ...(timeline ? { timeline } : {}),
    rounds,
  };
}

/** Cancels per round and rounds per in-flight count. */
export function roundsFor(inFlight: number, quick: boolean): number {
  if (quick) return inFlight === 1 ? 4 : 1;
  if (inFlight === 1) return 60;
  if (inFlight <= 10) return 20;
  return 4;
}

/** How many cancels per cell get their history read for the timeline. */
const TIMELINE_SAMPLES = 20;

export async function measureCancel(ctx: Ctx, method: CancelMethod, inFlight: number): Promise<Cell> {
  const { stack, abort } = ctx;
  const rounds = roundsFor(inFlight, ctx.quick);
  const readings = new Readings(ctx);
  const samples: Sample[] = [];
  const errors: string[] = [];
  const timelines: CancelTimeline[] = [];
  for (let round = 0; round < rounds; round++) {
    abort.check();
    const batch = `cancel-${method}-${inFlight}-${round}`;
    const ids = cartIds(ctx.runId, batch, inFlight);
    await insertCarts(stack.carts, ids, batch);
    const started = await startCheckouts(stack.checkout, ids, Math.min(inFlight, 20), batch, abort);
    await waitReady(stack.carts, batch, inFlight, batch, abort, 60000 + inFlight * 200);
    await waitWorkflowsReady(stack.checkout, ids, abort);

    const stop = await readings.start();
    const sends = ids.map((cartId) => {
      const sentAt = performance.now();
      const seen = ctx.watcher.watch(cartId, isActive, sentAt);
      const replied = sendCancel(ctx, method, cartId).then(() => performance.now());
      return { cartId, sentAt, seen, replied };
    });
    const results = await Promise.allSettled(sends.map(async (s) => ({ obs: await s.seen, repliedAt: await s.replied })));
    await stop();
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        errors.push(String((r.reason as Error)?.message ?? r.reason));
        return;
      }
      const s = sends[i];
      samples.push({
        latency: r.value.obs.seenAt - s.sentAt,
        ...(method !== 'signal' ? { reply: r.value.repliedAt - s.sentAt } : {}),
        resolution: r.value.obs.resolutionMs,
      });
    });
    // Every checkout of the round ends (its cancel ran) before the next round starts.
    await pool(ids, 50, (id) => stack.checkout.checkoutResult(id, started.runIds.get(id)).catch(() => undefined), abort);
    if (timelines.length < TIMELINE_SAMPLES) {
      for (const [i, r] of results.entries()) {
        if (r.status !== 'fulfilled' || timelines.length >= TIMELINE_SAMPLES) continue;
        const s = sends[i];
        const t = await cancelTimeline(stack.client, s.cartId, started.runIds.get(s.cartId), epoch(s.sentAt), epoch(r.value.obs.seenAt)).catch(() => undefined);
        if (t) timelines.push(t);
      }
    }
  }
  await waitQuiet(stack.checkout, stack.taskQueue, abort);
  return cell(samples, errors, readings, rounds, timelines);
}

function epoch(perfNow: number): number {
  return performance.timeOrigin + perfNow;
}

async function sendCancel(ctx: Ctx, method: CancelMethod, cartId: string): Promise<void> {
  const { stack } = ctx;
  if (method === 'signal') {
    await stack.checkout.cancelCheckout(cartId, { wait: false, reason: 'BENCH' });
    return;
  }
  if (method === 'update') {
    const outcome = await stack.checkout.cancelCheckout(cartId, { wait: true, reason: 'BENCH' });
    if (!outcome.canceled) throw new Error(`cart ${cartId}: the Update answered that nothing was canceled`);
    return;
  }
  const res = await fetch(`${stack.api.url}/carts/${cartId}/checkouts/active?reason=BENCH`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${stack.api.serviceToken}`, 'x-effective-account-id': ACCOUNT },
  });
  const body = (await res.json()) as { canceled?: boolean };
  if (res.status !== 200 || body.canceled !== true) throw new Error(`cart ${cartId}: DELETE answered ${res.status} ${JSON.stringify(body)}`);
}

// ---- the floors

export async function measureFloor(ctx: Ctx, kind: FloorKind, inFlight: number): Promise<Cell> {
  return kind === 'mongoCancel' || kind === 'mongoCancelRead' || kind === 'mongoWrite' ? mongoFloor(ctx, kind, inFlight) : temporalFloor(ctx, kind, inFlight);
}

/**
 * The cancel's write alone, through the driver, on carts locked directly (no workflow):
 * mongoCancel is CartRepository.cancel by the store that locked the cart (it remembers it: the one
 * conditional write the activity makes in the common case), mongoCancelRead the same by a store that
 * has not seen the cart (it reads, then writes: what every cancel did before), mongoWrite one
 * conditional findOneAndUpdate. Observed by the same CartWatcher as the cancels.
 */
async function mongoFloor(ctx: Ctx, kind: 'mongoCancel' | 'mongoCancelRead' | 'mongoWrite', inFlight: number): Promise<Cell> {
  const { stack, abort } = ctx;
  const repo = new CartRepository(stack.carts);
  const rounds = roundsFor(inFlight, ctx.quick);
  const readings = new Readings(ctx);
  const samples: Sample[] = [];
  const errors: string[] = [];
  for (let round = 0; round < rounds; round++) {
    abort.check();
    const batch = `floor-${kind}-${inFlight}-${round}`;
    const ids = cartIds(ctx.runId, batch, inFlight);
    await insertCarts(stack.carts, ids, batch);
    const session = (id: string) => `floor-session-${id}`;
    await pool(ids, 20, (id) => repo.lock({ cartId: id, sessionId: session(id), workflowId: `floor-${id}` }), abort);
    const stop = await readings.start();
    const sends = ids.map((cartId) => {
      const sentAt = performance.now();
      const seen = ctx.watcher.watch(cartId, isActive, sentAt);
      const by = kind === 'mongoCancelRead' ? new CartRepository(stack.carts) : repo;
      const write =
        kind === 'mongoWrite'
          ? singleWriteCancel(repo, cartId, session(cartId))
          : by.cancel({ cartId, sessionId: session(cartId), reason: 'BENCH' }).then((r) => {
              if (!r.canceled) throw new Error(`cart ${cartId}: nothing canceled`);
            });
      return { sentAt, seen, replied: write.then(() => performance.now()) };
    });
    const results = await Promise.allSettled(sends.map(async (s) => ({ obs: await s.seen, repliedAt: await s.replied })));
    await stop();
    results.forEach((r, i) => {
      if (r.status === 'rejected') errors.push(String((r.reason as Error)?.message ?? r.reason));
      else samples.push({ latency: r.value.obs.seenAt - sends[i].sentAt, reply: r.value.repliedAt - sends[i].sentAt, resolution: r.value.obs.resolutionMs });
    });
  }
  return cell(samples, errors, readings, rounds);
}

/**
 * The least a cancel can write: one conditional findOneAndUpdate (matched on the cart, its status and
 * the session) that makes the cart Active and marks the session archived and its operation Canceled in
 * place. One round trip, no read before it.
 */
async function singleWriteCancel(repo: CartRepository, cartId: string, sessionId: string): Promise<void> {
  const written = await repo.carts.findOneAndUpdate(
    { _id: cartId, status: 'Checkout', 'checkout.sessionId': sessionId },
    {
      $set: { status: 'Active', 'checkout.isArchived': true, 'checkout.backgroundOperation.status': 'Canceled', updatedAt: new Date() },
      $inc: { version: 1 },
    },
    { returnDocument: 'after', projection: { _id: 1 } },
  );
  if (!written) throw new Error(`cart ${cartId}: the conditional write matched nothing`);
}

/**
 * The bare Temporal round trip: `inFlight` bench workflows wait; each round pings them all at once.
 * Latency: send → the no-op activity runs (seen in-process, exact), by signal or by Update; the
 * Update's reply (answered after its activity completed) is the reply figure.
 */
async function temporalFloor(ctx: Ctx, kind: 'temporalSignal' | 'temporalSignalPolled' | 'temporalUpdate', inFlight: number): Promise<Cell> {
  const { stack, abort } = ctx;
  const rounds = roundsFor(inFlight, ctx.quick);
  const readings = new Readings(ctx);
  const samples: Sample[] = [];
  const errors: string[] = [];
  const warmup = ctx.quick ? (inFlight === 1 ? 3 : 1) : inFlight === 1 ? 10 : 2;
  const handles: Array<WorkflowHandle<typeof benchFloorWorkflow>> = await pool(
    Array.from({ length: inFlight }, (_, i) => i),
    20,
    (i) =>
      stack.client.workflow.start<typeof benchFloorWorkflow>('benchFloorWorkflow', {
        workflowId: `bench-floor-${ctx.runId}-${kind}-${inFlight}-${i}-${randomUUID().slice(0, 8)}`,
        taskQueue: stack.floorTaskQueue,
        args: [{ maxPings: warmup + rounds }],
      }),
    abort,
  );
  try {
    // Started and waiting: one cheap query each answers once the first workflow task has run.
    await pool(handles, 20, (h) => h.query<string>('__stack_trace').then(() => undefined), abort);
    // Unmeasured rounds first: the dev server paces its task loading (history.transferProcessorMaxPollRPS,
    // 20/s with a burst of 20), so a first round after idling is faster than the steady state every
    // cancel round sees (its setup has just used the burst). The floor is taken in that steady state.
    for (let round = 0; round < warmup + rounds; round++) {
      abort.check();
      const measured = round >= warmup;
      const stop = measured ? await readings.start() : async () => undefined;
      // temporalSignalPolled: the same, while the CartWatcher polls as during a cancel (its cost).
      const endBusy = kind === 'temporalSignalPolled' ? ctx.watcher.keepBusy() : () => undefined;
      const sends = handles.map((h) => {
        const sentAt = performance.now();
        // Both kinds: until the no-op activity runs. The Update also: until it is answered.
        const ran = stack.hooks.expect(h.workflowId, round, 60000);
        const done: Promise<{ ranAt: number; repliedAt?: number }> =
          kind !== 'temporalUpdate'
            ? h.signal(pingSignal, { seq: round }).then(async () => ({ ranAt: await ran }))
            : h.executeUpdate(pingUpdate, { args: [{ seq: round }] }).then(async () => {
                const repliedAt = performance.now();
                return { ranAt: await ran, repliedAt };
              });
        return { sentAt, done };
      });
      const results = await Promise.allSettled(sends.map((s) => s.done));
      endBusy();
      await stop();
      if (kind !== 'temporalUpdate') {
        // The next ping goes to an idle workflow: this round's activity completed and its task ran.
        await pool(handles, 20, async (h) => {
          for (let attempt = 0; attempt < 400 && (await h.query(progressQuery)) < round + 1; attempt++) await new Promise((r) => setTimeout(r, 5));
        });
      }
      if (!measured) continue;
      results.forEach((r, i) => {
        if (r.status === 'rejected') errors.push(String((r.reason as Error)?.message ?? r.reason));
        else {
          const { ranAt, repliedAt } = r.value;
          samples.push({ latency: ranAt - sends[i].sentAt, ...(repliedAt !== undefined ? { reply: repliedAt - sends[i].sentAt } : {}) });
        }
      });
    }
  } finally {
    await pool(handles, 20, (h) => h.signal(stopSignal).catch(() => undefined));
    await pool(handles, 20, (h) =>
      h.result().then(
        () => undefined,
        () => undefined,
      ),
    );
  }
  if (errors.length) say(`floor ${kind} at ${inFlight}: ${errors.length} errors, first: ${errors[0]}`);
  return cell(samples, errors, readings, rounds);
}

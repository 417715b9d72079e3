/** The table printed at the end, the ratios to the floor, and the issue's targets with whether met. */
import type { CancelMethod, FloorKind } from './phases/cancel';
import type { Measurements, Pct, Results } from './run';
import { cpuMsTotal, type CpuMs } from './probes';
import { fmt, fmtRatio, ratio } from './stats';

/** The issue's target for the cancel: cancel → Active within this many times the Temporal floor of the same message. */
export const CANCEL_VS_TEMPORAL_TARGET = 1.15;

type Floors = Partial<Record<FloorKind, Pct>>;

/** The floor that fits a figure: the MongoDB write, and the Temporal round trip of the same kind. */
function floorsAt(results: Measurements, inFlight: string): Floors {
  return results.floorByInFlightMs[inFlight] ?? results.floorByInFlightMs['1'] ?? {};
}

export interface RatioPair {
  p50: number | undefined;
  p99: number | undefined;
}

function vs(value: Pct | { p50: number; p99: number } | undefined, floor: Pct | undefined): RatioPair {
  return { p50: ratio(value?.p50, floor?.p50), p99: ratio(value?.p99, floor?.p99) };
}

/** Every figure as a ratio to the floors (same in-flight count where there is one). */
export function computeRatios(results: Measurements): Record<string, unknown> {
  const cancel: Record<string, Record<string, { vsMongoCancel: RatioPair; vsTemporal: RatioPair; replyVsTemporalUpdateReply?: RatioPair }>> = {};
  for (const [n, byMethod] of Object.entries(results.cancelLatencyMs)) {
    const floors = floorsAt(results, n);
    for (const [method, p] of Object.entries(byMethod) as Array<[CancelMethod, Pct]>) {
      const reply = results.details.cancel[n]?.[method]?.reply;
      const updateReply = results.details.floor[n]?.temporalUpdate?.reply ?? results.details.floor['1']?.temporalUpdate?.reply;
      (cancel[n] ??= {})[method] = {
        vsMongoCancel: vs(p, floors.mongoCancel),
        // The Temporal floor of the same message: signal → activity runs, or Update → activity runs.
        vsTemporal: vs(p, method === 'signal' ? floors.temporalSignal : floors.temporalUpdate),
        ...(reply && updateReply ? { replyVsTemporalUpdateReply: vs(reply, updateReply) } : {}),
      };
    }
  }
  const one = floorsAt(results, '1');
  const lifecycle: Record<string, { p50VsFloorLifecycle?: number; perSecondVsFloorLifecycle?: number }> = {};
  for (const [c, r] of Object.entries(results.details.lifecycle)) {
    lifecycle[c] = {
      p50VsFloorLifecycle: ratio(r.lifecycleMs.p50, results.details.floorLifecycle[c]?.lifecycleMs.p50),
      perSecondVsFloorLifecycle: ratio(r.perSecond, results.floorLifecyclesPerSecond[c]),
    };
  }
  const scale: Record<string, RatioPair> = {};
  const hundredReply = results.details.floor[String(Math.max(...Object.keys(results.floorByInFlightMs).map(Number), 1))]?.temporalUpdate?.reply;
  for (const [n, r] of Object.entries(results.scale)) scale[n] = vs(r.cancelMs, hundredReply as Pct | undefined);
  const oneReply = results.details.floor['1']?.temporalUpdate?.reply as Pct | undefined;
  const addToCart = results.addToCartMs
    ? { vsMongoCancel: vs(results.addToCartMs, one.mongoCancel), vsTemporalUpdateReply: vs(results.addToCartMs, oneReply) }
    : undefined;
  return { cancel, lifecycle, scaleCancelVsTemporalUpdateAtMaxInFlight: scale, ...(addToCart ? { addToCart } : {}) };
}

export function targets(results: Measurements): Measurements['targets'] {
  results.ratios = computeRatios(results);
  const out: Results['targets'] = [];
  const at100 = results.cancelLatencyMs['100'];
  for (const method of ['signal', 'update', 'http'] as const) {
    const p = at100?.[method];
    if (!p) continue;
    out.push({ target: `cancel (${method}) p50 <= 15 ms at 100 in flight`, measured: `${fmt(p.p50)} ms`, met: p.p50 <= 15 });
    out.push({ target: `cancel (${method}) p99 <= 50 ms at 100 in flight`, measured: `${fmt(p.p99)} ms`, met: p.p99 <= 50 });
  }
  const cancelRatios = (results.ratios.cancel ?? {}) as Record<string, Record<string, { vsTemporal: RatioPair }>>;
  for (const [n, byMethod] of Object.entries(cancelRatios)) {
    for (const [method, r] of Object.entries(byMethod)) {
      if (r.vsTemporal.p50 === undefined) continue;
      out.push({
        target: `cancel (${method}) p50 <= ${CANCEL_VS_TEMPORAL_TARGET}x the Temporal floor (${method === 'signal' ? 'signal' : 'Update'} → no-op activity) at ${n} in flight`,
        measured: `${fmtRatio(r.vsTemporal.p50)}`,
        met: r.vsTemporal.p50 <= CANCEL_VS_TEMPORAL_TARGET,
      });
    }
  }
  const best = Math.max(...Object.values(results.lifecyclesPerSecond), 0);
  if (Object.keys(results.lifecyclesPerSecond).length) {
    out.push({
      target: '>= 100 lifecycles/s',
      measured: `${fmt(best)}/s (best of ${Object.keys(results.lifecyclesPerSecond).join(', ')} clients)`,
      met: best >= 100,
    });
  }
  const big = results.scale['10000'];
  if (big) {
    out.push({ target: '10,000 open checkouts: worker RSS <= 1.5 GB', measured: `${big.rssMb} MB`, met: big.rssMb <= 1536 });
    out.push({ target: '10,000 open checkouts: none left locked', measured: `${big.leftLocked} left locked`, met: big.leftLocked === 0 && big.errors === 0 });
  }
  return out;
}

function row(cells: Array<string | number>, widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

export function printReport(run: Results): void {
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line();
  line(`b2b-checkout benchmark ${run.runId} (${run.mode}${run.label ? `, ${run.label}` : ''})${run.aborted ? ' — ABORTED, partial' : ''}`);
  line(`machine: ${run.machine.cores} cores (${run.machine.cpuModel}), ${run.machine.memoryMb} MB; load at start ${run.machine.loadAverageAtStart.join(' ')}`);
  if (run.title) line(`pass 1: ${run.title}`);
  printMeasurements(run, line);
  const passes = Object.entries(run.passes ?? {});
  for (const [i, [name, m]] of passes.entries()) {
    line();
    line('='.repeat(100));
    line(`pass ${i + 2} (${name}): ${m.title ?? ''}`);
    printMeasurements(m, line);
  }
  if (passes.length) printSideBySide([[run.config.stacks[0], run], ...passes.map(([name, m]) => [name, m] as [string, Measurements])], line);
  if (run.compare) {
    line();
    line('='.repeat(100));
    line(`--compare pass: the same phases on a fresh stack, dev server with ${run.compare.devServerConfig.join(', ')}`);
    printMeasurements(run.compare, line);
    printBeforeAfter(run, run.compare, line);
  }
  if (run.error) line(`ERROR: ${run.error.split('\n')[0]}`);
  line();
  process.stdout.write(out.join('\n') + '\n');
}

function printBeforeAfter(before: Measurements, after: Measurements, line: (s?: string) => void): void {
  line();
  line('Before → after (p50 / p99 ms; lifecycles per second)');
  const w = [30, 22, 22, 8];
  line(row(['figure', 'before', 'after', 'p50 x'], w));
  const pair = (p?: { p50: number; p99: number }) => (p ? `${fmt(p.p50)} / ${fmt(p.p99)}` : '-');
  for (const [n, byKind] of Object.entries(after.floorByInFlightMs)) {
    for (const kind of ['temporalSignal', 'temporalUpdate'] as const) {
      const a = byKind[kind];
      const b = before.floorByInFlightMs[n]?.[kind];
      if (a || b) line(row([`floor ${kind} @${n}`, pair(b), pair(a), fmtRatio(ratio(b?.p50, a?.p50))], w));
    }
  }
  for (const [n, byMethod] of Object.entries(after.cancelLatencyMs)) {
    for (const [method, a] of Object.entries(byMethod)) {
      const b = before.cancelLatencyMs[n]?.[method as CancelMethod];
      line(row([`cancel ${method} @${n}`, pair(b), pair(a), fmtRatio(ratio(b?.p50, a?.p50))], w));
    }
  }
  for (const [c, a] of Object.entries(after.lifecyclesPerSecond)) {
    const b = before.lifecyclesPerSecond[c];
    line(row([`lifecycles/s, ${c} clients`, fmt(b), fmt(a), fmtRatio(ratio(a, b))], w));
  }
  if (before.addToCartMs && after.addToCartMs)
    line(row(['add to cart @1', pair(before.addToCartMs), pair(after.addToCartMs), fmtRatio(ratio(before.addToCartMs.p50, after.addToCartMs.p50))], w));
}

const cpuMs = (ms: CpuMs | undefined) =>
  ms
    ? `${fmt(cpuMsTotal(ms))} (${fmt(ms.benchProcess)}/${fmt(ms.temporalServer)}${ms.temporalDb !== undefined ? `+${fmt(ms.temporalDb)}` : ''}/${fmt(ms.mongoServer)})`
    : '-';

/** The passes of one run beside each other: floors, cancels and their ratios, lifecycles and their CPU. */
function printSideBySide(passes: Array<[string, Measurements]>, line: (s?: string) => void): void {
  line();
  line('Side by side (p50 / p99 ms; × = ratio to the Temporal floor of the same message at the same in-flight count, p50 / p99;');
  line('CPU ms per lifecycle: all (worker process / Temporal[+PostgreSQL] / MongoDB))');
  const w = [34, ...passes.map(() => 30)];
  line(row(['figure', ...passes.map(([name]) => name)], w));
  const pair = (p?: { p50: number; p99: number }) => (p ? `${fmt(p.p50)} / ${fmt(p.p99)}` : '-');
  const ns = [...new Set(passes.flatMap(([, m]) => [...Object.keys(m.floorByInFlightMs), ...Object.keys(m.cancelLatencyMs)]))].sort((a, b) => +a - +b);
  for (const n of ns) {
    for (const kind of ['mongoCancel', 'mongoCancelRead', 'temporalSignal', 'temporalUpdate'] as const) {
      if (passes.some(([, m]) => m.floorByInFlightMs[n]?.[kind]))
        line(row([`floor ${kind} @${n}`, ...passes.map(([, m]) => pair(m.floorByInFlightMs[n]?.[kind]))], w));
    }
    for (const method of ['signal', 'update', 'http'] as const) {
      if (!passes.some(([, m]) => m.cancelLatencyMs[n]?.[method])) continue;
      line(row([`cancel ${method} @${n}`, ...passes.map(([, m]) => pair(m.cancelLatencyMs[n]?.[method]))], w));
      const r = (m: Measurements) => (m.ratios.cancel as Record<string, Record<string, { vsTemporal: RatioPair }>> | undefined)?.[n]?.[method]?.vsTemporal;
      line(row([`  × Temporal floor`, ...passes.map(([, m]) => (r(m) ? `${fmtRatio(r(m)!.p50)} / ${fmtRatio(r(m)!.p99)}` : '-'))], w));
      line(row([`  CPU ms per cancel`, ...passes.map(([, m]) => cpuMs(m.details.cancel[n]?.[method]?.cpuMsPerOp))], w));
    }
  }
  const clients = [...new Set(passes.flatMap(([, m]) => Object.keys(m.lifecyclesPerSecond)))].sort((a, b) => +a - +b);
  for (const c of clients) {
    line(row([`lifecycles/s, ${c} clients (floor)`, ...passes.map(([, m]) => `${fmt(m.lifecyclesPerSecond[c])} (${fmt(m.floorLifecyclesPerSecond[c])})`)], w));
    line(row([`  CPU ms per lifecycle`, ...passes.map(([, m]) => cpuMs(m.details.lifecycle[c]?.cpuMsPerLifecycle))], w));
    line(row([`  floor: CPU ms per lifecycle`, ...passes.map(([, m]) => cpuMs(m.details.floorLifecycle[c]?.cpuMsPerLifecycle))], w));
  }
}

function printMeasurements(results: Measurements, line: (s?: string) => void): void {
  if (results.versions) {
    const v = results.versions;
    line(`versions: node ${v.node}, Temporal SDK ${v.temporalSdk}, Temporal: ${v.temporalServer}, MongoDB: ${v.mongoServer}`);
  }
  const w = [34, 8, 8, 8, 8, 8, 26, 16, 12, 11];
  const floorN = Object.keys(results.floorByInFlightMs);
  if (floorN.length) {
    line();
    line('Floors (ms): the bare MongoDB write until seen Active; the bare Temporal round trip');
    line(row(['floor', 'inflight', 'p50', 'p95', 'p99', 'max', 'cpu ms/op all (b/t/m)', '', 'reply p50', 'resol. p50'], w));
    for (const n of floorN) {
      for (const [kind, p] of Object.entries(results.floorByInFlightMs[n])) {
        const d = results.details.floor[n]?.[kind as FloorKind];
        const ms = d?.cpuMsPerOp;
        line(row([kind, n, fmt(p.p50), fmt(p.p95), fmt(p.p99), fmt(p.max), cpuMs(ms), '', fmt(d?.reply?.p50), fmt(d?.resolution?.p50)], w));
      }
    }
  }
  const cancelN = Object.keys(results.cancelLatencyMs);
  if (cancelN.length) {
    line();
    line('Cancel → cart Active in MongoDB (ms), and as a ratio to the floors at the same in-flight count (p50/p99)');
    line(row(['method', 'inflight', 'p50', 'p95', 'p99', 'max', 'vs MongoDB', 'vs Temporal', 'reply p50', 'resol. p50', 'cpu ms/op all (b/t/m)'], [...w, 28]));
    const ratios = (results.ratios.cancel ?? {}) as Record<
      string,
      Record<string, { vsMongoCancel: { p50?: number; p99?: number }; vsTemporal: { p50?: number; p99?: number } }>
    >;
    for (const n of cancelN) {
      for (const [method, p] of Object.entries(results.cancelLatencyMs[n])) {
        const d = results.details.cancel[n]?.[method as CancelMethod];
        const r = ratios[n]?.[method];
        line(
          row(
            [
              method + (d?.errors ? ` (${d.errors} err)` : ''),
              n,
              fmt(p.p50),
              fmt(p.p95),
              fmt(p.p99),
              fmt(p.max),
              pair(r?.vsMongoCancel),
              pair(r?.vsTemporal),
              fmt(d?.reply?.p50),
              fmt(d?.resolution?.p50),
              cpuMs(d?.cpuMsPerOp),
            ],
            [...w, 28],
          ),
        );
      }
    }
    line();
    line("Where a cancel's time goes (medians, ms, from workflow histories; n = sampled cancels)");
    const tw = [22, 8, 9, 9, 9, 9, 9, 9, 5];
    line(row(['method', 'inflight', 'send→WFT', 'WFT s→s', 'WFT run', 'act s→s', 'act run', 'act→seen', 'n'], tw));
    for (const n of cancelN) {
      for (const method of Object.keys(results.cancelLatencyMs[n])) {
        const t = results.details.cancel[n]?.[method as CancelMethod]?.timeline;
        if (!t) continue;
        line(
          row(
            [
              method,
              n,
              fmt(t.sendToTaskScheduled.p50),
              fmt(t.workflowTaskScheduleToStart.p50),
              fmt(t.workflowTaskStartToComplete.p50),
              fmt(t.activityScheduleToStart.p50),
              fmt(t.activityStartToComplete.p50),
              fmt(t.activityStartToObserved.p50),
              t.sendToTaskScheduled.n,
            ],
            tw,
          ),
        );
      }
    }
  }
  const add = Object.entries(results.details.addToCart);
  if (add.length) {
    line();
    line('Add to cart during checkout → item in the cart (ms)');
    line(row(['method', 'inflight', 'p50', 'p95', 'p99', 'max', 'vs MongoDB', 'vs T.Upd reply', 'reply p50', 'resol. p50'], w));
    const floors = floorsAt(results, '1');
    for (const [method, byN] of add) {
      for (const [n, r] of Object.entries(byN)) {
        const f = floorsAt(results, n);
        const updateReply = (results.details.floor[n]?.temporalUpdate?.reply ?? results.details.floor['1']?.temporalUpdate?.reply) as Pct | undefined;
        line(
          row(
            [
              method + (r.errors ? ` (${r.errors} err)` : ''),
              n,
              fmt(r.latency.p50),
              fmt(r.latency.p95),
              fmt(r.latency.p99),
              fmt(r.latency.max),
              pair(vs2(r.latency, f.mongoCancel ?? floors.mongoCancel)),
              pair(vs2(r.latency, updateReply)),
              fmt(r.reply.p50),
              fmt(r.resolution.p50),
            ],
            w,
          ),
        );
      }
    }
  }
  const life = Object.entries(results.details.lifecycle);
  const floorLife = Object.entries(results.details.floorLifecycle);
  if (life.length || floorLife.length) {
    line();
    line('Lifecycles: create cart → start checkout (locked) → cancel (wait) → Active, closed loop; floor: the same calls on the bench workflow');
    const lw = [14, 10, 11, 9, 9, 9, 9, 10, 26, 28, 7];
    line(
      row(
        [
          'clients',
          'per second',
          'lifecycles',
          'p50 ms',
          'p99 ms',
          'start p50',
          'cancel p50',
          'vs floor',
          'cpu bench/tmp/mongo/other %',
          'cpu ms/lc all (b/t/m)',
          'locked',
        ],
        lw,
      ),
    );
    const ratios = (results.ratios.lifecycle ?? {}) as Record<string, { perSecondVsFloorLifecycle?: number }>;
    const rows = [...life.map(([c, r]) => [c, r, false] as const), ...floorLife.map(([c, r]) => [c, r, true] as const)];
    for (const [c, r, isFloor] of rows) {
      const ms = r.cpuMsPerLifecycle;
      line(
        row(
          [
            `${isFloor ? 'floor ' : ''}${c}${r.errors ? '*' : ''}`,
            fmt(r.perSecond),
            r.lifecycles,
            fmt(r.lifecycleMs.p50),
            fmt(r.lifecycleMs.p99),
            fmt(r.startMs.p50),
            fmt(r.cancelMs.p50),
            isFloor ? '' : fmtRatio(ratios[c]?.perSecondVsFloorLifecycle),
            cpu(r.cpu),
            cpuMs(ms),
            r.leftLocked,
          ],
          lw,
        ),
      );
    }
  }
  const scale = Object.entries(results.scale);
  if (scale.length) {
    line();
    line('Scale: open checkouts held at once (memory of this process: worker + API + load), then all cancelled (Update, 100 in flight)');
    const sw = [8, 8, 8, 10, 9, 11, 10, 9, 12, 7];
    line(row(['open', 'RSS MB', 'heap MB', 'start/s', 'cancel s', 'cancel p50', 'p99 ms', 'p99 vs T.Upd', 'server RSS MB', 'locked'], sw));
    const ratios = (results.ratios.scaleCancelVsTemporalUpdateAtMaxInFlight ?? {}) as Record<string, { p99?: number }>;
    for (const [n, r] of scale) {
      line(
        row(
          [
            n,
            r.rssMb,
            r.heapMb,
            fmt(r.startPerSecond),
            fmt(r.cancelAllSeconds, 2),
            fmt(r.cancelMs.p50),
            fmt(r.p99Ms),
            fmtRatio(ratios[n]?.p99),
            `${r.temporalServerRssMb ?? '-'}/${r.mongoServerRssMb ?? '-'}`,
            r.leftLocked,
          ],
          sw,
        ),
      );
    }
  }
  if (results.targets.length) {
    line();
    line('Targets (issues 6 and 11, this machine, this pass)');
    for (const t of results.targets) line(`  ${t.met ? 'MET    ' : 'NOT MET'}  ${t.target}: ${t.measured}`);
  }
  const disturbed = interference(results);
  if (disturbed.length) {
    line();
    line(`Interference: other processes on the machine used more than 20% of a core during: ${disturbed.join(', ')}`);
  }
  if (results.details.watcher) {
    const wt = results.details.watcher;
    line();
    line(`Unlock observation: one MongoDB read at a time for all carts awaited, ${wt.gapMs} ms apart; ${wt.reads} reads, mean ${wt.meanReadMs} ms each.`);
  }
}

function vs2(value: { p50: number; p99: number }, floor: Pct | undefined): { p50?: number; p99?: number } {
  return { p50: ratio(value.p50, floor?.p50), p99: ratio(value.p99, floor?.p99) };
}

function pair(r: { p50?: number; p99?: number } | undefined): string {
  return r ? `${fmtRatio(r.p50)}/${fmtRatio(r.p99)}` : '-';
}

function cpu(
  c: { benchProcessPct: number; temporalServerPct?: number; temporalDbPct?: number; mongoServerPct?: number; otherPct?: number; seconds: number } | undefined,
): string {
  // /proc counts in 10 ms ticks: a window of less than half a second says nothing.
  if (!c || c.seconds < 0.5) return '-';
  const t = c.temporalDbPct !== undefined ? `${c.temporalServerPct ?? '-'}+${c.temporalDbPct}` : `${c.temporalServerPct ?? '-'}`;
  return `${c.benchProcessPct}/${t}/${c.mongoServerPct ?? '-'}/${c.otherPct ?? '-'}`;
}

/** The measurements during which other processes (not this run's) took more than a fifth of a core. */
export function interference(m: Measurements): string[] {
  const out: string[] = [];
  const check = (label: string, c: { otherPct?: number; seconds: number } | undefined) => {
    if (c && c.seconds >= 0.5 && (c.otherPct ?? 0) > 20) out.push(`${label} (${c.otherPct}%)`);
  };
  for (const [n, byKind] of Object.entries(m.details.floor)) for (const [k, c] of Object.entries(byKind)) check(`floor ${k} @${n}`, c?.cpu);
  for (const [n, byMethod] of Object.entries(m.details.cancel)) for (const [k, c] of Object.entries(byMethod)) check(`cancel ${k} @${n}`, c?.cpu);
  for (const [method, byN] of Object.entries(m.details.addToCart)) for (const [n, c] of Object.entries(byN)) check(`add ${method} @${n}`, c.cpu);
  for (const [c, l] of Object.entries(m.details.lifecycle)) check(`lifecycles ${c}`, l.cpu);
  for (const [c, l] of Object.entries(m.details.floorLifecycle)) check(`floor lifecycles ${c}`, l.cpu);
  for (const [n, s] of Object.entries(m.scale)) {
    check(`scale ${n} start`, s.startCpu);
    check(`scale ${n} cancel`, s.cancelCpu);
  }
  return out;
}

/**
 * What the machine does during a phase: CPU time of the benchmark's own process (worker, API and
 * load generator together), of the Temporal dev server and of mongo-java-server, and of everything
 * else on the machine (other engineers' test runs: interference). Read from /proc (Linux only; empty
 * elsewhere). Plus the Temporal SDK's own worker metrics, scraped from its Prometheus endpoint.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { childrenOf } from '../stack/proc';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readProcTicks(pid: number, withEndedChildren = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]); // utime + stime
    return withEndedChildren ? own + Number(fields[13]) + Number(fields[14]) : own; // + cutime + cstime
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks of a process and everything under it: the live descendants' own time, plus what its
 * ended children left in its cutime/cstime (PostgreSQL forks a backend per connection).
 */
function readTreeTicks(pid: number): number | undefined {
  const own = readProcTicks(pid, true);
  if (own === undefined) return undefined;
  let sum = own;
  const stack = childrenOf(pid);
  while (stack.length) {
    const child = stack.pop()!;
    sum += readProcTicks(child) ?? 0;
    stack.push(...childrenOf(child));
  }
  return sum;
}

/** Busy and total ticks of the whole machine. */
function readMachineTicks(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.reduce((s, v) => s + v, 0);
    const idle = cpu[3] + (cpu[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export function rssMbOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export interface CpuShare {
  /** Percent of ONE core, averaged over the window (200 = both cores of a 2-core machine). */
  benchProcessPct: number;
  temporalServerPct?: number;
  /** The server profile: Temporal Server's PostgreSQL (postmaster and its backends). */
  temporalDbPct?: number;
  mongoServerPct?: number;
  /** Everything else on the machine: other processes (interference). */
  otherPct?: number;
  /** Whole machine busy, percent of all cores. */
  machineBusyPct?: number;
  seconds: number;
}

/** CPU time per operation, ms, per process (the server profile adds Temporal's PostgreSQL). */
export interface CpuMs {
  benchProcess: number;
  temporalServer?: number;
  temporalDb?: number;
  mongoServer?: number;
}

/** Worker (the bench process) + servers: what one operation costs the machine. */
export function cpuMsTotal(ms: CpuMs): number {
  return ms.benchProcess + (ms.temporalServer ?? 0) + (ms.temporalDb ?? 0) + (ms.mongoServer ?? 0);
}

export interface CpuWindow {
  stop(): CpuShare;
}

/** Starts measuring CPU time; stop() returns the shares over the window. */
export function cpuWindow(pids: { temporal?: number; temporalDb?: number; mongo?: number }): CpuWindow {
  const t0 = process.hrtime.bigint();
  const self0 = process.cpuUsage();
  const tmp0 = pids.temporal ? readProcTicks(pids.temporal) : undefined;
  const db0 = pids.temporalDb ? readTreeTicks(pids.temporalDb) : undefined;
  const mongo0 = pids.mongo ? readProcTicks(pids.mongo) : undefined;
  const m0 = readMachineTicks();
  return {
    stop() {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const self = process.cpuUsage(self0);
      const selfSec = (self.user + self.system) / 1e6;
      const pct = (sec: number) => Math.round((100 * sec) / Math.max(seconds, 1e-9));
      const delta = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? (b - a) / TICKS_PER_SECOND : undefined);
      const tmpSec = delta(tmp0, pids.temporal ? readProcTicks(pids.temporal) : undefined);
      const dbSec = delta(db0, pids.temporalDb ? readTreeTicks(pids.temporalDb) : undefined);
      const mongoSec = delta(mongo0, pids.mongo ? readProcTicks(pids.mongo) : undefined);
      const m1 = readMachineTicks();
      let otherPct: number | undefined;
      let machineBusyPct: number | undefined;
      if (m0 && m1) {
        const busySec = (m1.busy - m0.busy) / TICKS_PER_SECOND;
        const totalSec = (m1.total - m0.total) / TICKS_PER_SECOND;
        machineBusyPct = totalSec > 0 ? Math.round((100 * (m1.busy - m0.busy)) / (m1.total - m0.total)) : undefined;
        otherPct = Math.max(0, pct(busySec - selfSec - (tmpSec ?? 0) - (dbSec ?? 0) - (mongoSec ?? 0)));
      }
      return {
        benchProcessPct: pct(selfSec),
        ...(tmpSec !== undefined ? { temporalServerPct: pct(tmpSec) } : {}),
        ...(dbSec !== undefined ? { temporalDbPct: pct(dbSec) } : {}),
        ...(mongoSec !== undefined ? { mongoServerPct: pct(mongoSec) } : {}),
        ...(otherPct !== undefined ? { otherPct } : {}),
        ...(machineBusyPct !== undefined ? { machineBusyPct } : {}),
        // Unrounded: windows of a few ms add up over a cell.
        seconds,
      };
    },
  };
}

export function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

// ---- SDK worker metrics (Prometheus text from the SDK runtime)

export type MetricSample = { name: string; labels: Record<string, string>; value: number };

export async function scrapeMetrics(url: string): Promise<MetricSample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

/** Sum of a metric's samples whose labels include `match`. */
export function metricSum(samples: MetricSample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** Mean of a histogram between two scrapes (sum delta / count delta), for the series matching `match`. */
export function histogramMean(before: MetricSample[], after: MetricSample[], base: string, match: Record<string, string> = {}) {
  const count = metricSum(after, `${base}_count`, match) - metricSum(before, `${base}_count`, match);
  const sum = metricSum(after, `${base}_sum`, match) - metricSum(before, `${base}_sum`, match);
  return count > 0 ? { count, meanMs: Math.round((sum / count) * 100) / 100 } : { count: 0 };
}

/** What every phase gets, and the per-window machine and SDK readings each measurement carries. */
import type { AbortFlag } from './log';
import { cpuWindow, histogramMean, scrapeMetrics, type CpuShare, type MetricSample } from './probes';
import type { BenchStack } from './stack';
import type { CartWatcher } from './watcher';

export interface Ctx {
  stack: BenchStack;
  watcher: CartWatcher;
  runId: string;
  abort: AbortFlag;
  quick: boolean;
}

/** Means over a window of the SDK's worker metrics for the checkout task queue (from its Prometheus endpoint). */
export interface SdkWindow {
  workflowTaskScheduleToStartMs?: number;
  workflowTaskExecutionMs?: number;
  activityScheduleToStartMs?: number;
  activityExecutionMs?: number;
  workflowTasks: number;
  activityTasks: number;
  stickyCacheForcedEvictions?: number;
}

/** Measures CPU shares and the SDK's worker metrics between start and stop; windows add up. */
export class Readings {
  private cpu: CpuShare[] = [];
  private sdkSum: Record<string, { count: number; sum: number }> = {};
  private evictions = 0;

  constructor(
    private readonly ctx: Ctx,
    /** The task queue whose SDK metrics count (default: the checkout worker's). */
    private readonly taskQueue = ctx.stack.taskQueue,
  ) {}

  async start(): Promise<() => Promise<void>> {
    const cpu = cpuWindow(this.ctx.stack.pids);
    const before = await this.scrape();
    return async () => {
      this.cpu.push(cpu.stop());
      const after = await this.scrape();
      if (!before || !after) return;
      const tq = { task_queue: this.taskQueue };
      for (const [key, base] of Object.entries(SDK_HISTOGRAMS)) {
        const m = histogramMean(before, after, base, tq);
        const acc = (this.sdkSum[key] ??= { count: 0, sum: 0 });
        if (m.count > 0 && m.meanMs !== undefined) {
          acc.count += m.count;
          acc.sum += m.meanMs * m.count;
        }
      }
      this.evictions += counter(after, 'temporal_sticky_cache_total_forced_eviction') - counter(before, 'temporal_sticky_cache_total_forced_eviction');
    };
  }

  private async scrape(): Promise<MetricSample[] | undefined> {
    try {
      return await scrapeMetrics(this.ctx.stack.metricsUrl);
    } catch {
      return undefined;
    }
  }

  cpuShare(): CpuShare | undefined {
    if (this.cpu.length === 0) return undefined;
    const seconds = this.cpu.reduce((s, c) => s + c.seconds, 0);
    const avg = (k: keyof CpuShare) => {
      const parts = this.cpu.filter((c) => c[k] !== undefined);
      if (parts.length === 0) return undefined;
      return Math.round(parts.reduce((s, c) => s + (c[k] as number) * c.seconds, 0) / Math.max(seconds, 1e-9));
    };
    const out: CpuShare = { benchProcessPct: avg('benchProcessPct') ?? 0, seconds: Math.round(seconds * 100) / 100 };
    for (const k of ['temporalServerPct', 'temporalDbPct', 'mongoServerPct', 'otherPct', 'machineBusyPct'] as const) {
      const v = avg(k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  sdk(): SdkWindow {
    const mean = (k: string) => {
      const a = this.sdkSum[k];
      return a && a.count > 0 ? Math.round((a.sum / a.count) * 100) / 100 : undefined;
    };
    const out: SdkWindow = {
      workflowTasks: this.sdkSum.workflowTaskScheduleToStartMs?.count ?? 0,
      activityTasks: this.sdkSum.activityScheduleToStartMs?.count ?? 0,
    };
    for (const k of Object.keys(SDK_HISTOGRAMS) as Array<keyof typeof SDK_HISTOGRAMS>) {
      const v = mean(k);
      if (v !== undefined) out[k] = v;
    }
    if (this.evictions > 0) out.stickyCacheForcedEvictions = this.evictions;
    return out;
  }
}

const SDK_HISTOGRAMS = {
  workflowTaskScheduleToStartMs: 'temporal_workflow_task_schedule_to_start_latency',
  workflowTaskExecutionMs: 'temporal_workflow_task_execution_latency',
  activityScheduleToStartMs: 'temporal_activity_schedule_to_start_latency',
  activityExecutionMs: 'temporal_activity_execution_latency',
} as const;

function counter(samples: MetricSample[], name: string): number {
  return samples.filter((s) => s.name === name || s.name === `${name}_total`).reduce((sum, s) => sum + s.value, 0);
}

/**
 * The no-op activity of the Temporal floor. The worker runs in the benchmark's own process, so the
 * activity can tell the benchmark the moment it runs (same clock, no polling): that moment is the end
 * of the round trip signal → workflow task → activity task.
 */
import { performance } from 'node:perf_hooks';

export interface NoopInput {
  workflowId: string;
  seq: number;
}

type Waiter = (at: number) => void;

/** Who waits for which ping, keyed `${workflowId}#${seq}`. */
export class NoopHooks {
  private readonly waiters = new Map<string, Waiter>();

  /** Resolves with the performance.now() at which the activity ran, or rejects after timeoutMs. */
  expect(workflowId: string, seq: number, timeoutMs: number): Promise<number> {
    const key = `${workflowId}#${seq}`;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`no-op activity ${key} did not run within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  ran(input: NoopInput): void {
    const at = performance.now();
    const key = `${input.workflowId}#${input.seq}`;
    const waiter = this.waiters.get(key);
    this.waiters.delete(key);
    waiter?.(at);
  }
}

export function createFloorActivities(hooks: NoopHooks) {
  return {
    async benchNoop(input: NoopInput): Promise<number> {
      hooks.ran(input);
      return input.seq;
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;

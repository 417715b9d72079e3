/**
 * The bench-only workflow of the Temporal floor: the bare round trip of a cancel without the cancel.
 * A signal (or an Update) makes it run one no-op activity, with the same activity options as
 * cancelCartAsyncOperation. Workflow code: deterministic, no I/O; imports activities as types only.
 */
import { allHandlersFinished, condition, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { FloorActivities } from './floor-activities';

export interface PingRequest {
  seq: number;
}

/** A ping: run the no-op activity once. */
export const pingSignal = defineSignal<[PingRequest]>('benchPing');
/** The same through an Update, answered once the no-op activity has completed. */
export const pingUpdate = defineUpdate<number, [PingRequest]>('benchPingAndWait');
export const stopSignal = defineSignal('benchStop');
/** How many signalled pings have completed (their no-op activity done, the workflow waiting again). */
export const progressQuery = defineQuery<number>('benchProgress');

const { benchNoop } = proxyActivities<FloorActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

export interface FloorWorkflowInput {
  /** Bounds the run: it ends after this many signalled pings (or on benchStop). */
  maxPings: number;
}

export async function benchFloorWorkflow(input: FloorWorkflowInput): Promise<number> {
  const { workflowId } = workflowInfo();
  const queue: number[] = [];
  let stopped = false;
  // Registered before the first await, so a signal that arrives with the first task is not lost.
  setHandler(pingSignal, ({ seq }) => void queue.push(seq));
  setHandler(pingUpdate, async ({ seq }) => benchNoop({ workflowId, seq }));
  setHandler(stopSignal, () => void (stopped = true));
  let done = 0;
  setHandler(progressQuery, () => done);
  while (done < input.maxPings && !stopped) {
    // Bounded: the benchmark stops it (benchStop); a run left behind by a dead benchmark ends by itself.
    if (!(await condition(() => queue.length > 0 || stopped, '10m')) || stopped) break;
    await benchNoop({ workflowId, seq: queue.shift()! });
    done++;
  }
  await condition(allHandlersFinished);
  return done;
}

/** Answers once the lifecycle floor's first no-op activity ran (the "lock"); used with update-with-start. */
export const lockUpdate = defineUpdate<number>('benchLock');
/** Answers once the lifecycle floor's second no-op activity ran (the "cancel"); the run then ends. */
export const cancelUpdate = defineUpdate<number>('benchCancel');

/**
 * The floor of a checkout lifecycle: the same client calls (update-with-start answered after one
 * activity, then an Update answered after a second activity) with no-op activities and nothing else.
 */
export async function benchLifecycleWorkflow(): Promise<void> {
  const { workflowId } = workflowInfo();
  let locked = false;
  let cancelRequested = false;
  let canceled = false;
  setHandler(lockUpdate, async () => {
    await condition(() => locked);
    return 0;
  });
  setHandler(cancelUpdate, async () => {
    cancelRequested = true;
    await condition(() => canceled);
    return 1;
  });
  await benchNoop({ workflowId, seq: 0 });
  locked = true;
  // Bounded: the benchmark always cancels; a run left behind ends by itself.
  if (await condition(() => cancelRequested, '10m')) {
    await benchNoop({ workflowId, seq: 1 });
  }
  canceled = true;
  await condition(allHandlersFinished);
}

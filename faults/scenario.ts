/** What every scenario shares: its context, what it records of each fault, and its result. */
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { checkInvariants, quiesce, type Violation } from './invariants';
import { Ledger, type Op } from './ledger';
import { say, waitFor } from './log';
import type { FaultStack, WorkerProc } from './stack';
import { Traffic } from './traffic';

/** Every phase recovers within this long of a live worker being there (the issue's target). */
export const RECOVERY_TARGET_MS = 15000;

export interface FaultRecord {
  kind: string;
  target: string;
  /** What was running when the fault hit (phase, activity). */
  phase?: string;
  /** ms from the scenario's start. */
  at: number;
  /** ms from the fault until a live worker (or the restarted server) was there. */
  liveAfterMs?: number;
  /**
   * ms from a live worker (or server) being there until the interrupted work ran again (a retry of the
   * activity started) or was done; undefined: not within the deadline.
   */
  recoveredMs?: number;
  targetMs?: number;
  met?: boolean;
  note?: string;
}

export interface ScenarioResult {
  name: string;
  description: string;
  durationMs: number;
  faults: FaultRecord[];
  ledger: ReturnType<Ledger['summary']>;
  carts: number;
  quietAfterMs: number | undefined;
  violations: Violation[];
  /** The ledger entries of the carts named by violations (at most 30 carts): what was asked and answered. */
  evidence: Record<
    string,
    Array<
      Pick<Op, 'id' | 'client' | 'kind' | 'via' | 'key' | 'sku' | 'quantity' | 'repeatOf' | 'outcome' | 'answers' | 'orderId'> & {
        sentAt: string;
        doneAt?: string;
      }
    >
  >;
  /** A scenario that could not run to its end (the stack failed under it): why. */
  error?: string;
}

export interface Options {
  quick: boolean;
  seed: number;
  operations: number;
  clients: number;
  carts: number;
}

export class ScenarioRun {
  readonly ledger = new Ledger();
  readonly traffic: Traffic;
  readonly faults: FaultRecord[] = [];
  readonly t0 = Date.now();

  constructor(
    readonly stack: FaultStack,
    readonly name: string,
    readonly description: string,
    readonly options: Options,
  ) {
    this.traffic = new Traffic(stack, this.ledger);
  }

  fault(kind: string, target: string, at: number, extra: Partial<FaultRecord> = {}): FaultRecord {
    const f: FaultRecord = { kind, target, at: at - this.t0, ...extra };
    this.faults.push(f);
    return f;
  }

  /** Records the recovery of `f`: `liveAt` a live worker/server was there, `doneAt` the work was done. */
  recovered(f: FaultRecord, killAt: number, liveAt: number, doneAt: number | undefined, targetMs = RECOVERY_TARGET_MS): void {
    f.liveAfterMs = liveAt - killAt;
    f.recoveredMs = doneAt === undefined ? undefined : Math.max(0, doneAt - liveAt);
    f.targetMs = targetMs;
    f.met = f.recoveredMs !== undefined && f.recoveredMs <= targetMs;
    say(
      `  ${f.kind} ${f.target}${f.phase ? ` in ${f.phase}` : ''}: live again after ${(f.liveAfterMs / 1000).toFixed(1)}s, recovered ${f.recoveredMs === undefined ? 'NOT within the deadline' : `in ${(f.recoveredMs / 1000).toFixed(1)}s`}${f.met ? '' : ` (target ${targetMs / 1000}s missed)`}`,
    );
  }

  private evidence(violations: Violation[]): ScenarioResult['evidence'] {
    const out: ScenarioResult['evidence'] = {};
    for (const cartId of [...new Set(violations.flatMap((v) => v.cartIds))].slice(0, 30)) {
      out[cartId] = this.ledger.forCart(cartId).map((o) => ({
        id: o.id,
        client: o.client,
        kind: o.kind,
        via: o.via,
        ...(o.key ? { key: o.key } : {}),
        ...(o.sku ? { sku: o.sku } : {}),
        ...(o.quantity !== undefined ? { quantity: o.quantity } : {}),
        ...(o.repeatOf ? { repeatOf: o.repeatOf } : {}),
        outcome: o.outcome,
        ...(o.orderId ? { orderId: o.orderId } : {}),
        sentAt: new Date(o.sentAt).toISOString(),
        ...(o.doneAt ? { doneAt: new Date(o.doneAt).toISOString() } : {}),
        answers: o.answers,
      }));
    }
    return out;
  }

  async finish(quiesceMs: number, error?: unknown): Promise<ScenarioResult> {
    const q = await quiesce(this.stack, this.ledger, quiesceMs);
    const violations = await checkInvariants(this.stack, this.ledger, q);
    const result: ScenarioResult = {
      name: this.name,
      description: this.description,
      durationMs: Date.now() - this.t0,
      faults: this.faults,
      ledger: this.ledger.summary(),
      carts: this.ledger.carts().length,
      quietAfterMs: q.quietAfterMs,
      violations,
      evidence: this.evidence(violations),
      ...(error ? { error: error instanceof Error ? error.message : String(error) } : {}),
    };
    say(
      `${this.name}: ${result.ledger.operations} operations, ${this.faults.length} faults, ${violations.length} violations${violations.length ? `: ${[...new Set(violations.map((v) => v.invariant))].join(', ')}` : ''} (${(result.durationMs / 1000).toFixed(0)}s)`,
    );
    return result;
  }
}

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/** The worker running activity `type` of a workflow right now, once one has it (or undefined at the deadline). */
export async function activityHolder(stack: FaultStack, handle: WorkflowHandle, type: string, timeoutMs: number): Promise<{ identity: string } | undefined> {
  return waitFor(
    async () => {
      const d = await handle.describe();
      const p = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === type && a.state === STARTED);
      return p ? { identity: p.lastWorkerIdentity ?? '' } : undefined;
    },
    timeoutMs,
    50,
  );
}

/**
 * When the interrupted activity runs again on a live worker (a retry attempt started) or is done:
 * the moment the work has recovered, whatever the work itself then takes.
 */
export async function resumed(handle: WorkflowHandle, type: string, done: () => Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  return waitFor(
    async () => {
      if (await done().catch(() => false)) return Date.now();
      const d = await handle.describe();
      const p = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === type && a.state === STARTED && (a.attempt ?? 0) > 1);
      return p ? Date.now() : undefined;
    },
    timeoutMs,
    250,
  );
}

/** The worker that ran the workflow's last workflow task (it has the workflow in its sticky cache). */
export async function workflowTaskHolder(handle: WorkflowHandle): Promise<string | undefined> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    const identity = events[i].workflowTaskStartedEventAttributes?.identity ?? events[i].workflowTaskCompletedEventAttributes?.identity;
    if (identity) return identity;
  }
  return undefined;
}

/** The workers to kill: the one named by `identity` (another stays alive), or all of them. */
export function victims(stack: FaultStack, mode: 'second' | 'restart', identity: string | undefined): WorkerProc[] {
  if (mode === 'restart') return stack.liveWorkers();
  const w = stack.workerByIdentity(identity) ?? stack.liveWorkers()[0];
  return w ? [w] : [];
}

/** Brings the number of live workers to `n` (stopping extras cleanly, starting missing ones). */
export async function ensureWorkers(stack: FaultStack, n: number): Promise<void> {
  while (stack.liveWorkers().length > n) {
    const w = stack.liveWorkers()[0];
    w.alive = false;
    await w.proc.stop();
  }
  while (stack.liveWorkers().length < n) await stack.startWorker();
}

/**
 * Worker processes a test starts, freezes and kills by their PID: the fault suite's worker process
 * (stack/worker-process.ts: the product's worker plus the step delays read from `dev_step_delays`),
 * started through the stack's launcher, in a namespace of the test's own so that they poll the
 * product task queue without taking work from any other test file's workers.
 */
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import path from 'node:path';
import { Launcher } from '../../stack/launcher';
import type { ManagedProcess } from '../../stack/managed-process';
import { eventually } from './env';

export interface TestWorkerProcess {
  name: string;
  /** The node process running the worker: the SDK's default identity is `<pid>@<host>`. */
  pid: number;
  proc: ManagedProcess;
}

/** Registers `namespace` unless it exists (a re-run reuses it) and waits until the server describes it. */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: { code?: number }) => {
    if (err.code !== 6) throw err; // ALREADY_EXISTS
  });
  await eventually(`namespace ${namespace}`, () =>
    connection.workflowService.describeNamespace({ namespace }).then(
      () => true,
      () => undefined,
    ),
  );
}

/** Whether an SDK identity (`<pid>@<host>`, as histories and pending activities record it) is this worker's. */
export function isIdentityOf(identity: string | null | undefined, worker: TestWorkerProcess): boolean {
  return String(identity ?? '').split('@')[0] === String(worker.pid);
}

export class WorkerProcesses {
  private readonly launcher = new Launcher(() => undefined);
  private readonly frozen = new Set<TestWorkerProcess>();

  /** Workers on `namespace` and database `mongoDb` of the run's servers (TEMPORAL_ADDRESS, MONGODB_URI); logs in `logDir`. */
  constructor(
    private readonly namespace: string,
    private readonly mongoDb: string,
    private readonly logDir: string,
  ) {}

  /** Starts one and answers once it polls its task queue. */
  async start(name: string): Promise<TestWorkerProcess> {
    const { proc, pid } = await this.launcher.startWorkerProcess(name, path.join(this.logDir, `${name}.log`), {
      // No metrics endpoint: two workers on one machine would need a port each. The only workers of their
      // namespace: they make their version current even when a run on a kept server left another one current.
      env: { TEMPORAL_NAMESPACE: this.namespace, MONGODB_DB: this.mongoDb, WORKER_METRICS_ADDRESS: undefined, LOG_LEVEL: 'info', WORKER_SET_CURRENT: 'always' },
    });
    if (pid < 0) throw new Error(`${name}: the worker process's PID was not found`);
    return { name, pid, proc };
  }

  /** SIGSTOP: the worker holds what it has (tasks, open polls) and does nothing more until it is killed. */
  freeze(worker: TestWorkerProcess): void {
    process.kill(worker.pid, 'SIGSTOP');
    this.frozen.add(worker);
  }

  /** SIGKILL to the worker's own PID (a stopped process dies too); answers once it is gone. */
  async kill(worker: TestWorkerProcess): Promise<void> {
    process.kill(worker.pid, 'SIGKILL');
    this.frozen.delete(worker);
    await worker.proc.exited.catch(() => undefined);
  }

  /** Stops the ones still running (SIGTERM; a frozen one, which would not hear it, is killed). */
  async stop(): Promise<void> {
    for (const w of [...this.frozen]) await this.kill(w).catch(() => undefined);
    await this.launcher.stop();
  }
}

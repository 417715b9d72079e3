/** Starts the Temporal CLI's dev server (server + Web UI) and waits until its frontend says SERVING. */
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { startManaged, type ManagedProcess } from './managed-process';

export interface DevServerOptions {
  cliPath: string;
  ip: string;
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  /** SQLite file: histories survive a restart. Undefined keeps them in memory. */
  dbFile?: string;
  logFile?: string;
  readyTimeoutMs?: number;
  /** Dynamic config values (`key=value`) instead of the defaults below: how the benchmark measures a setting. */
  dynamicConfig?: string[];
  /** SQLite pragmas (`name=value`) for the dbFile instead of sqlitePragmasFromEnv's: how the benchmark measures them. */
  sqlitePragmas?: string[];
}

/**
 * The pragmas the dev server opens its SQLite file with (`npm start`, the fault suite). Without any it
 * uses a rollback journal, and every commit syncs the journal and the file several times: with a
 * file, a signal at 1 in flight took 85 ms against 18 ms in memory (docs/PERFORMANCE.md). In WAL mode
 * a commit appends to the log; with synchronous=FULL the log is synced at every commit, so what the
 * server acknowledged (it replies after its commit) still survives a crash of the process and of the
 * machine. TEMPORAL_SYNC=off: synchronous=NORMAL, the log is synced at checkpoints only; a crash of the
 * process loses nothing, a crash of the machine or a power cut can lose the last commits (the file
 * stays consistent). Said here, not left to the driver build.
 */
export function sqlitePragmasFromEnv(env: Record<string, string | undefined>): string[] {
  const value = env.TEMPORAL_SYNC?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'on') return ['journal_mode=WAL', 'synchronous=FULL'];
  if (value === 'off') return ['journal_mode=WAL', 'synchronous=NORMAL'];
  throw new Error(`TEMPORAL_SYNC=${env.TEMPORAL_SYNC}: use on (the default) or off`);
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const args = ['server', 'start-dev', '--ip', options.ip, '--port', String(options.port), '--log-level', 'warn'];
  args.push(...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  if (options.dbFile) {
    args.push('--db-filename', options.dbFile);
    for (const pragma of options.sqlitePragmas ?? sqlitePragmasFromEnv(process.env)) args.push('--sqlite-pragma', pragma);
  }
  // The dev server's one history shard loads queued tasks 20 times a second by default: up to 50 ms
  // per hop. Faster loading and eager activity dispatch cut a cancel from ~92 to ~18 ms p50 (docs/PERFORMANCE.md).
  const dynamicConfig = options.dynamicConfig ?? ['history.transferProcessorMaxPollRPS=1000', 'system.enableActivityEagerExecution=true'];
  for (const kv of dynamicConfig) args.push('--dynamic-config-value', kv);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  // Workflow IDs are reused for every checkout of a cart; keep closed histories a day for operators.
  const proc = startManaged('temporal dev server', options.cliPath, args, options.logFile);
  const address = `${options.ip}:${options.port}`;
  try {
    await Promise.race([waitServing(address, options.readyTimeoutMs ?? 120000), proc.exited]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    address,
    uiUrl: options.uiPort === undefined ? undefined : `http://${options.ip}:${options.uiPort}`,
    process: proc,
    stop: () => proc.stop(),
  };
}

/** Polls the frontend's gRPC health check until it answers SERVING. */
export async function waitServing(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const res = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        // 1 = SERVING in grpc.health.v1.HealthCheckResponse.ServingStatus
        if (res.status === 1) return;
        lastError = new Error(`health status ${res.status}`);
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Temporal at ${address} not SERVING after ${timeoutMs / 1000}s: ${String(lastError)}`);
}

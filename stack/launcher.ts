/**
 * The one launcher of the dev stack (dev tooling, not the product): provisioning, the Temporal dev
 * server, the MongoDB server, checkout workers (in this process, or child processes that can be killed
 * by PID) and the HTTP API (in this process, or a child process), on given or free ports.
 * `npm start` (stack/start.ts), the jest global setup, the benchmark and the fault suite all start
 * their stack through it. Everything started is stopped by stop(), last started first (API, worker,
 * servers). Server and worker processes run under a guard (stack/guard.ts), so even a run that is
 * killed leaves none behind.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, type RunningApi } from '../src/api/server';
import { temporalSettings, type AppSettings } from '../src/config';
import { createCheckoutWorker, type CheckoutWorker, type CheckoutWorkerOptions } from '../src/worker';
import { startManaged, type ManagedProcess } from './managed-process';
import { startMongoServer, type H2Durability, type MongoServerHandle } from './mongo-server';
import { ROOT } from './paths';
import { freePort } from './ports';
import { startPostgres, type PostgresServer } from './postgres';
import { stackProfile, type StackProfile } from './profile';
import { childrenOf } from './proc';
import { log as defaultLog, type Log } from './progress';
import { provision, type ProvisionOptions, type Provisioned } from './provision';
import { startTemporalCluster } from './temporal-cluster';
import { startTemporalDevServer, type DevServer } from './temporal-server';

export interface TemporalOptions {
  /** A running server to use (TEMPORAL_ADDRESS): nothing is started. */
  address?: string;
  ip?: string;
  /** Undefined or 0: a free port. */
  port?: number;
  /** The Web UI: a port, 'free' for a free one, undefined for none (headless). */
  uiPort?: number | 'free';
  /** SQLite file (histories survive a restart); undefined keeps them in memory. */
  dbFile?: string;
  logFile?: string;
  /** Dynamic config values instead of the stack's defaults (stack/temporal-server.ts). */
  dynamicConfig?: string[];
  /** SQLite pragmas for dbFile instead of the stack's (stack/temporal-server.ts sqlitePragmasFromEnv). */
  sqlitePragmas?: string[];
  /** Without a CLI binary (no Go), let the SDK download its dev server (needs the internet); else fail. */
  sdkDownload?: boolean;
  /** Which Temporal to start; STACK (stack/profile.ts) by default. */
  profile?: StackProfile;
  /**
   * Server profile: the folder of the PostgreSQL cluster and the server's config, kept across
   * restarts. Undefined: next to dbFile when one is given (histories are to be kept), else a
   * temporary folder removed by stop().
   */
  dataDir?: string;
}

export interface TemporalEndpoint {
  address: string;
  uiUrl: string | undefined;
  /** The dev server this launcher started (undefined: a server of the user's, or the SDK's download). */
  server: DevServer | undefined;
}

export interface MongoOptions {
  /** A running server to use (MONGODB_URI): nothing is started. */
  uri?: string;
  /** Undefined or 0: a free port. */
  port?: number;
  /** Where the data is kept; undefined keeps it in memory. */
  dataDir?: string;
  durability?: H2Durability;
  logFile?: string;
}

export interface MongoEndpoint {
  uri: string;
  description: string;
  server: MongoServerHandle | undefined;
}

export interface InProcessWorker extends CheckoutWorker {
  /** worker.run(): settles when the worker has stopped. */
  running: Promise<void>;
}

export interface ChildProcessHandle {
  proc: ManagedProcess;
  /** The node process itself (the guard's child), e.g. the `<pid>` of the SDK's worker identity. */
  pid: number;
}

export interface WorkerProcessOptions {
  /** The product's worker (`node dist/src/worker.js`, as deployed) instead of the dev stack's (with step delays). */
  product?: boolean;
  /** Environment variables of this process to set or, when undefined, unset for it. */
  env?: Record<string, string | undefined>;
}

type Stop = { name: string; stop: () => Promise<void>; quiet?: boolean };

export class Launcher {
  provisioned: Provisioned | undefined;
  temporal: TemporalEndpoint | undefined;
  /** What runs Temporal, for the log: the profile, the server and its database. */
  temporalDescription: string | undefined;
  mongo: MongoEndpoint | undefined;
  /** The server profile's PostgreSQL, started with the first Temporal Server and kept across its restarts. */
  postgres: PostgresServer | undefined;
  private readonly stops: Stop[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Log = defaultLog) {}

  /**
   * Registers what stop() undoes, in reverse order. Once stop() has begun, whatever is still being
   * started (a signal during start-up) is stopped as soon as it registers.
   */
  onStop(name: string, stop: () => Promise<void>, quiet = false): void {
    if (this.stopping) {
      void stop().catch((err: Error) => this.log(`${name}: ${err.message}`));
      return;
    }
    this.stops.push({ name, stop, quiet });
  }

  /** Stops everything started, last first; `stopped` hears each part's name when it is down. Idempotent. */
  stop(stopped: (name: string) => void = () => undefined): Promise<void> {
    this.stopping ??= (async () => {
      for (const s of this.stops.reverse()) {
        await s.stop().catch((err: Error) => this.log(`${s.name}: ${err.message}`));
        if (!s.quiet) stopped(s.name);
      }
    })();
    return this.stopping;
  }

  async provision(options: ProvisionOptions = {}): Promise<Provisioned> {
    this.provisioned = await provision({ log: this.log, ...options });
    return this.provisioned;
  }

  /** Starts the Temporal dev server (unless an address is given) and points TEMPORAL_ADDRESS at it until stop(). */
  async startTemporal(options: TemporalOptions): Promise<TemporalEndpoint> {
    if (options.address) {
      this.temporalDescription = 'given by TEMPORAL_ADDRESS';
      return (this.temporal = { address: options.address, uiUrl: undefined, server: undefined });
    }
    const ip = options.ip ?? '127.0.0.1';
    const port = options.port || (await freePort(ip));
    if ((options.profile ?? stackProfile()) === 'server') {
      this.temporal = await this.startTemporalServer(ip, port, options);
      this.setEnv('TEMPORAL_ADDRESS', this.temporal.address);
      return this.temporal;
    }
    let uiPort = options.uiPort === 'free' ? await freePort(ip) : options.uiPort;
    while (uiPort === port) uiPort = await freePort(ip);
    const cli = (this.provisioned ?? (await this.provision())).temporal;
    if (cli?.kind === 'binary') {
      const server = await startTemporalDevServer({
        cliPath: cli.path,
        ip,
        port,
        uiPort,
        ...pick(options, 'dbFile', 'logFile', 'dynamicConfig', 'sqlitePragmas'),
      });
      this.onStop('Temporal dev server', () => server.stop());
      const db = options.dbFile ? `SQLite ${options.dbFile}` : 'SQLite in memory';
      this.temporal = { address: server.address, uiUrl: server.uiUrl, server };
      this.temporalDescription = `profile dev: Temporal dev server (${db})`;
    } else if (options.sdkDownload) {
      this.temporal = await this.startSdkDevServer(ip, port, uiPort, options.dbFile);
    } else {
      throw new Error('no Temporal CLI binary: install Go (the CLI is built from source) or set TEMPORAL_CLI_PATH / TEMPORAL_ADDRESS');
    }
    this.setEnv('TEMPORAL_ADDRESS', this.temporal.address);
    return this.temporal;
  }

  /** Without Go, the SDK's own dev-server download (needs the internet). */
  private async startSdkDevServer(ip: string, port: number, uiPort: number | undefined, dbFilename: string | undefined): Promise<TemporalEndpoint> {
    this.log('starting the Temporal dev server downloaded by the SDK (needs the internet)');
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: { ip, port, ui: uiPort !== undefined, ...(uiPort !== undefined ? { uiPort } : {}), ...(dbFilename ? { dbFilename } : {}), searchAttributes: [] },
    });
    this.onStop('Temporal dev server', () => env.teardown());
    const uiUrl = uiPort === undefined ? undefined : `http://${ip}:${uiPort}`;
    this.temporalDescription = "profile dev: the SDK's Temporal dev server";
    return { address: `${ip}:${port}`, uiUrl, server: undefined };
  }

  /**
   * The server profile: PostgreSQL (started once, kept while Temporal Server restarts, e.g. in the
   * fault suite), then Temporal Server with its schema, namespace and search attributes. No Web UI.
   */
  private async startTemporalServer(ip: string, port: number, options: TemporalOptions): Promise<TemporalEndpoint> {
    const tools = (this.provisioned ?? (await this.provision())).server;
    if (!tools) throw new Error('STACK=server: Temporal Server was not provisioned (run provisioning with STACK=server)');
    if (options.dynamicConfig) this.log('server profile: dynamic config values come from deploy/temporal/dynamicconfig.yaml; the ones given are ignored');
    let dataDir = options.dataDir ?? (options.dbFile ? path.join(path.dirname(options.dbFile), 'temporal-server') : undefined);
    if (!dataDir) {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'b2b-temporal-server-'));
      // The postgres user (when we are root) walks through it to its cluster.
      chmodSync(dataDir, 0o755);
      const tmp = dataDir;
      this.onStop('Temporal Server data', async () => rmSync(tmp, { recursive: true, force: true }), true);
    }
    const logDir = options.logFile ? path.dirname(options.logFile) : dataDir;
    if (!this.postgres) {
      const pg = await startPostgres({
        install: tools.postgres,
        dataDir: path.join(dataDir, 'pgdata'),
        port: await freePort('127.0.0.1'),
        logFile: path.join(logDir, 'postgres.log'),
        // A kept cluster syncs its writes; a throw-away one (tests) does not need to.
        durable: options.dataDir !== undefined || options.dbFile !== undefined,
      });
      this.postgres = pg;
      // Killed (the fault suite kills every process at once): the next start begins with a new one on the same cluster.
      pg.process.exited.catch(() => {
        if (this.postgres === pg) this.postgres = undefined;
      });
      this.onStop('PostgreSQL', () => pg.stop());
    }
    const cluster = await startTemporalCluster({
      tools,
      postgres: this.postgres,
      ip,
      port,
      stateDir: dataDir,
      namespace: temporalSettings().namespace,
      ...pick(options, 'logFile'),
    });
    this.onStop('Temporal Server', () => cluster.stop());
    const server: DevServer = { address: cluster.address, uiUrl: undefined, process: cluster.process, stop: () => cluster.stop() };
    this.temporalDescription = `profile server: ${cluster.description}`;
    return { address: cluster.address, uiUrl: undefined, server };
  }

  /** Starts a MongoDB server (unless a URI is given) and points MONGODB_URI at it until stop(). */
  async startMongo(options: MongoOptions): Promise<MongoEndpoint> {
    if (options.uri) return (this.mongo = { uri: options.uri, description: 'given by MONGODB_URI', server: undefined });
    const spec = (this.provisioned ?? (await this.provision())).mongo;
    if (spec.kind === 'external') throw new Error('MONGODB_URI was set when provisioning: pass it as the uri');
    const server = await startMongoServer({ spec, host: '127.0.0.1', port: options.port ?? 0, ...pick(options, 'dataDir', 'durability', 'logFile') });
    this.onStop('MongoDB server', () => server.stop());
    this.mongo = { uri: server.uri, description: server.description, server };
    this.setEnv('MONGODB_URI', server.uri);
    return this.mongo;
  }

  /** A checkout worker in this process, running; stop() shuts it down and closes its connections. */
  async startWorker(options: Omit<CheckoutWorkerOptions, 'temporal' | 'mongoUri'>): Promise<InProcessWorker> {
    const w = await createCheckoutWorker({ temporal: temporalSettings(), mongoUri: this.mongoUri(), ...options });
    const running = w.worker.run();
    // A versioned worker makes its version current as its options say, logging the outcome.
    const stopped = new AbortController();
    const versionSet = w.setCurrentVersion(stopped.signal).catch((err: Error) => options.log?.(err.message));
    this.onStop('worker', async () => {
      stopped.abort();
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await running.catch(() => undefined);
      await versionSet;
      await w.close();
    });
    return { ...w, running };
  }

  /**
   * A worker process (stack/worker-process.ts: the product's worker with the dev stack's step delays),
   * reading its settings from this process's environment. Ready once it polls its task queue.
   */
  async startWorkerProcess(name: string, logFile?: string, options: WorkerProcessOptions = {}): Promise<ChildProcessHandle> {
    const script = options.product ? path.join(ROOT, 'dist', 'src', 'worker.js') : path.join(ROOT, 'dist', 'stack', 'worker-process.js');
    const proc = startManaged(name, process.execPath, [script], logFile, { env: options.env });
    this.onStop(name, () => proc.stop());
    await proc.waitForLine((l) => l.match(/polling task queue/), 120000);
    return { proc, pid: await childPid(proc) };
  }

  /** The HTTP API in this process, with the given settings (port, tokens, lease), on the stack's MongoDB. */
  async startApi(settings: AppSettings, options: Parameters<typeof startApi>[2] = {}): Promise<RunningApi> {
    const api = await startApi(settings, this.mongoUri(), options);
    this.onStop('HTTP API', () => api.close());
    return api;
  }

  /** The HTTP API as its own process (`node dist/src/api/server.js`), settings from this process's environment. */
  async startApiProcess(name: string, logFile?: string): Promise<ChildProcessHandle> {
    const proc = startManaged(name, process.execPath, [path.join(ROOT, 'dist', 'src', 'api', 'server.js')], logFile);
    this.onStop(name, () => proc.stop());
    await proc.waitForLine((l) => l.match(/listening on/), 60000);
    return { proc, pid: await childPid(proc) };
  }

  private mongoUri(): string {
    if (!this.mongo) throw new Error('start MongoDB (startMongo) before the worker or the API');
    return this.mongo.uri;
  }

  /** Sets an environment variable that later parts read (envconfig, child processes), restored by stop(). */
  private setEnv(name: string, value: string): void {
    const before = process.env[name];
    process.env[name] = value;
    const restore = async () => {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    };
    this.onStop(name, restore, true);
  }
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}

/** The guard's child, which appears a moment after the guard itself. */
async function childPid(proc: ManagedProcess): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = childrenOf(proc.pid)[0];
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

/**
 * The benchmark's stack, through the dev stack's launcher (stack/launcher.ts): the Temporal dev server
 * (headless, in-memory SQLite) or, on the server profile, Temporal Server on a throw-away PostgreSQL
 * cluster, and mongo-java-server (memory backend) as guarded child processes on free loopback ports;
 * `persistent`: the dev server on a SQLite file and mongo-java-server on an H2 file, as `npm start`
 * keeps them (in a temporary folder), unless TEMPORAL_ADDRESS / MONGODB_URI name servers to use (then nothing is
 * started); in this process the checkout worker (on a task queue of its own) and the HTTP API on a free
 * loopback port. The benchmark's own parts: the floor worker, the versions it reports, the directory
 * it sets up. stop() takes it all down in reverse order.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Collection } from 'mongodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckoutClient } from '../src/client';
import { appSettings, temporalSettings, type ApiRole, type TemporalSettings } from '../src/config';
import { cartsCollection, type CartDoc, connectMongo, type MongoConnection } from '../src/db';
import { PAYLOAD_CONVERTER_PATH, dataConverter } from '../src/data-converter';
import { installRuntime as installSdkRuntime } from '../src/worker';
import { runSync } from '../stack/exec';
import { Launcher } from '../stack/launcher';
import { freePort } from '../stack/ports';
import { childrenOf } from '../stack/proc';
import type { StackProfile } from '../stack/profile';
import { TEMPORAL_CLI_VERSION } from '../stack/provision';
import { NoopHooks, createFloorActivities } from './floor-activities';
import { say } from './log';

export const STORE = 'bench-store';
export const ACCOUNT = 'bench-acct';
/** Checkouts of the benchmark hold their lock for this long at most (no lease runs out during a run). */
export const BENCH_LEASE_MS = 3 * 60 * 60 * 1000;

export interface Versions {
  node: string;
  temporalSdk: string;
  /** The CLI whose dev server ran (absent with TEMPORAL_ADDRESS). */
  temporalCli?: string;
  /** What ran: the dev server (and how), or the version the server at TEMPORAL_ADDRESS reports. */
  temporalServer: string;
  /** The mongo-java-server that ran (absent with MONGODB_URI or a mongod). */
  mongoJavaServer?: string;
  mongoServer: string;
}

export interface BenchStack {
  temporal: TemporalSettings;
  /** True when this run started the servers (and owns everything on them). */
  ownServers: { temporal: boolean; mongo: boolean };
  /** The server processes whose CPU is measured (temporalDb: the server profile's PostgreSQL postmaster). */
  pids: { temporal?: number; temporalDb?: number; mongo?: number };
  client: Client;
  mongo: MongoConnection;
  carts: Collection<CartDoc>;
  taskQueue: string;
  floorTaskQueue: string;
  checkout: CheckoutClient;
  hooks: NoopHooks;
  api: { url: string; serviceToken: string; adminToken: string };
  /** The SDK runtime's Prometheus endpoint (worker metrics). */
  metricsUrl: string;
  versions: Versions;
  workerLogLines(): number;
  stop(): Promise<void>;
}

/** The SDK runtime of the whole run (installed once per process). */
export interface BenchRuntime {
  metricsUrl: string;
  /** Lines the worker logged (at LOG_LEVEL, default info), formatted as in production and discarded. */
  logLines(): number;
}

/** The production log format (counted, not printed) and the worker metrics on a loopback port. */
export async function installRuntime(): Promise<BenchRuntime> {
  const metricsPort = await freePort('127.0.0.1');
  let lines = 0;
  installSdkRuntime({
    logLevel: process.env.LOG_LEVEL ?? 'info',
    // Ctrl-C is ours: the benchmark stops its phases, then the workers, then the servers.
    shutdownSignals: [],
    metricsAddress: `127.0.0.1:${metricsPort}`,
    write: () => void lines++,
  });
  return { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, logLines: () => lines };
}

/** One bundle for every worker of the run: the product's workflows, unchanged, and the bench workflows. */
export async function bundleBenchWorkflows(): Promise<WorkflowBundle> {
  const t0 = Date.now();
  const quiet = () => undefined;
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'workflows.js'),
    payloadConverterPath: PAYLOAD_CONVERTER_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: (m) => say(m), error: (m) => say(m) },
  });
  say(`workflows bundled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return bundle;
}

export interface StackOptions {
  runtime: BenchRuntime;
  bundle: WorkflowBundle;
  /** Tells the task queues of successive stacks of one run apart. */
  name: string;
  /**
   * Dynamic config values (`key=value`, value JSON) for the dev server this run starts, to measure a
   * server setting before proposing it. Empty: the dev server exactly as stack/temporal-server.ts starts it.
   */
  devServerConfig: string[];
  /** Which Temporal: the dev server or Temporal Server on PostgreSQL (stack/profile.ts). */
  profile: StackProfile;
  /**
   * As `npm start` keeps its data: the dev server on a SQLite file opened with these pragmas and
   * mongo-java-server on an H2 file (MONGO_SYNC as set), in a temporary folder removed at the end.
   * Undefined: both in memory.
   */
  persistent?: { sqlitePragmas: string[] };
}

/** Starts everything. On failure, what was started is stopped again before the error is thrown. */
export async function startStack(runId: string, options: StackOptions, onStop: (stop: () => Promise<void>) => void): Promise<BenchStack> {
  const stack = new Launcher(say);
  const stopAll = () => stack.stop();
  onStop(stopAll);
  try {
    return await start(runId, options, stack);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function start(runId: string, options: StackOptions, stack: Launcher): Promise<BenchStack> {
  const { runtime, bundle } = options;
  // The server profile's tools are provisioned only when a pass runs on it.
  const provisioned = await stack.provision({ env: { ...process.env, STACK: options.profile } });
  const ownServers = { temporal: !process.env.TEMPORAL_ADDRESS, mongo: !process.env.MONGODB_URI };
  const pids: BenchStack['pids'] = {};
  let temporalServerVersion = 'external';
  let temporalCli: string | undefined;
  const tuned = options.devServerConfig.length ? `; dynamic config ${options.devServerConfig.join(', ')}` : '';
  let dataDir: string | undefined;
  if (options.persistent) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'b2b-bench-data-'));
    stack.onStop('bench data folder', async () => rmSync(dir, { recursive: true, force: true }), true);
    dataDir = dir;
  }
  const storage = options.persistent ? `SQLite file, pragmas ${options.persistent.sqlitePragmas.join(', ')}` : 'in-memory SQLite';
  // Headless; in memory unless persistent. A next stack of the run starts its own server again.
  const temporalServer = await stack.startTemporal({
    address: process.env.TEMPORAL_ADDRESS,
    profile: options.profile,
    ...(options.devServerConfig.length ? { dynamicConfig: options.devServerConfig } : {}),
    ...(dataDir && options.persistent ? { dbFile: path.join(dataDir, 'temporal.sqlite'), sqlitePragmas: options.persistent.sqlitePragmas } : {}),
  });
  if (temporalServer.server && options.profile === 'server') {
    pids.temporal = childrenOf(temporalServer.server.process.pid)[0];
    pids.temporalDb = stack.postgres ? postmasterOf(stack.postgres.process.pid) : undefined;
    temporalServerVersion = `${stack.temporalDescription ?? 'Temporal Server'} (throw-away cluster, as STACK=server npm test runs it)`;
    say(`Temporal Server on ${temporalServer.address} (${stack.temporalDescription})`);
  } else if (temporalServer.server && provisioned.temporal?.kind === 'binary') {
    const cli = provisioned.temporal.path;
    pids.temporal = childrenOf(temporalServer.server.process.pid)[0];
    // A CLI built from source by provisioning reports 0.0.0-DEV: name the version it was built from.
    const reported = runSync(cli, ['--version'])
      .output.trim()
      .replace(/^temporal version /, '');
    temporalCli = provisioned.temporal.source === 'tools' ? `${TEMPORAL_CLI_VERSION} (built from source; reports ${reported})` : reported;
    temporalServerVersion = `dev server of temporal CLI ${temporalCli}, ${storage}${tuned}`;
    say(`Temporal dev server on ${temporalServer.address} (headless, ${storage}${tuned})`);
  } else {
    say(`Temporal: ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); nothing started`);
  }
  let mongoServerVersion = 'external';
  let mongoJavaServer: string | undefined;
  const mongoServer = await stack.startMongo({ uri: process.env.MONGODB_URI, ...(dataDir ? { dataDir: path.join(dataDir, 'mongo') } : {}) });
  const mongoUri = mongoServer.uri;
  if (mongoServer.server) {
    pids.mongo = childrenOf(mongoServer.server.process.pid)[0];
    if (provisioned.mongo.kind === 'java') mongoJavaServer = /mongo-java-server-core-([\d.]+)\.jar/.exec(provisioned.mongo.classpath)?.[1] ?? 'unknown';
    mongoServerVersion = mongoJavaServer
      ? mongoServer.description.replace('mongo-java-server', `mongo-java-server ${mongoJavaServer}`)
      : `mongod ${provisioned.mongo.kind === 'mongod' ? provisioned.mongo.path : ''}`;
    say(`MongoDB on ${mongoUri} (${mongoServer.description})`);
  } else {
    say('MongoDB: MONGODB_URI; nothing started');
  }
  // A database of the run's own on a server of the user's, dropped at the end.
  const mongoDb = ownServers.mongo ? 'b2b_checkout_bench' : `b2b_checkout_bench_${runId}_${options.name}`;

  const temporal = temporalSettings();
  const connection = await Connection.connect(temporal.connectionOptions);
  stack.onStop('Temporal client connection', () => connection.close());
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
  if (!ownServers.temporal) {
    const info = await client.workflowService.getSystemInfo({});
    temporalServerVersion = `server ${info.serverVersion || 'unknown'} (TEMPORAL_ADDRESS)`;
  }
  const mongo = await connectMongo(mongoUri, mongoDb);
  stack.onStop('MongoDB connection', () => mongo.close());
  if (!ownServers.mongo) {
    const info = await mongo.db.admin().command({ buildInfo: 1 });
    mongoServerVersion = `MongoDB ${String(info.version)} (MONGODB_URI)`;
    stack.onStop('bench database', () => mongo.db.dropDatabase().then(() => undefined));
  }
  const carts = cartsCollection(mongo.db);

  // A task queue of this run's own: a server of the user's may have a production worker on b2b-checkout.
  const taskQueue = `b2b-checkout-bench-${runId}-${options.name}`;
  const floorTaskQueue = `b2b-checkout-bench-floor-${runId}-${options.name}`;
  await stack.startWorker({ mongoDb, taskQueue, workflowBundle: bundle, log: (l) => say(`worker: ${l}`) });

  const hooks = new NoopHooks();
  const floorConnection = await NativeConnection.connect(temporal.connectionOptions);
  stack.onStop('floor worker connection', () => floorConnection.close());
  const floorWorker = await Worker.create({
    connection: floorConnection,
    namespace: temporal.namespace,
    taskQueue: floorTaskQueue,
    workflowBundle: bundle,
    dataConverter,
    activities: createFloorActivities(hooks),
  });
  const floorRun = floorWorker.run();
  stack.onStop('floor worker', async () => {
    if (floorWorker.getState() === 'RUNNING') floorWorker.shutdown();
    await floorRun;
  });
  if (!ownServers.temporal) stack.onStop('open bench workflows', () => terminateOpen(client, [taskQueue, floorTaskQueue]));

  const checkout = new CheckoutClient({ client, carts, taskQueue, leaseMs: BENCH_LEASE_MS });

  // The HTTP API with connections of its own, as `npm start` runs it, on the run's task queue; its log is not printed.
  const serviceToken = randomBytes(24).toString('base64url');
  const adminToken = randomBytes(24).toString('base64url');
  const settings = {
    ...appSettings(),
    mongoDb,
    apiHost: '127.0.0.1',
    apiPort: 0,
    checkoutLeaseMs: BENCH_LEASE_MS,
    apiTokens: new Map<string, ApiRole>([
      [serviceToken, 'service'],
      [adminToken, 'admin'],
    ]),
  };
  const api = await stack.startApi(settings, { taskQueue, log: () => undefined });
  await setupDirectory(api.url, adminToken);

  const versions: Versions = {
    node: process.version,
    temporalSdk: JSON.parse(readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')).version,
    ...(temporalCli ? { temporalCli } : {}),
    temporalServer: temporalServerVersion,
    ...(mongoJavaServer ? { mongoJavaServer } : {}),
    mongoServer: mongoServerVersion,
  };
  return {
    temporal,
    ownServers,
    pids,
    client,
    mongo,
    carts,
    taskQueue,
    floorTaskQueue,
    checkout,
    hooks,
    api: { url: api.url, serviceToken, adminToken },
    metricsUrl: runtime.metricsUrl,
    versions,
    workerLogLines: runtime.logLines,
    stop: () => stack.stop(),
  };
}

/** The store, the buyer account and its membership, through the admin routes (as an operator would). */
async function setupDirectory(api: string, adminToken: string): Promise<void> {
  const put = async (p: string, body?: unknown) => {
    const res = await fetch(`${api}${p}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status !== 200) throw new Error(`PUT ${p}: ${res.status} ${await res.text()}`);
  };
  await put(`/webstores/${STORE}`, { name: 'Bench store' });
  await put(`/accounts/${ACCOUNT}`, { name: 'Bench buyer', active: true });
  await put(`/webstores/${STORE}/members/${ACCOUNT}`);
}

/** On a server of the user's, a run that is interrupted leaves no checkout of its own running. */
async function terminateOpen(client: Client, taskQueues: string[]): Promise<void> {
  for (const tq of taskQueues) {
    let n = 0;
    // Bounded: at most 20,000 workflows, each terminated once.
    for await (const wf of client.workflow.list({ query: `TaskQueue="${tq}" AND ExecutionStatus="Running"` })) {
      await client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .terminate('benchmark stopped')
        .catch(() => undefined);
      if (++n >= 20000) break;
    }
    if (n > 0) say(`terminated ${n} open workflows of ${tq}`);
  }
}

/** The postmaster under the guard (as root, through the wrapper that runs it as the postgres user). */
function postmasterOf(guardPid: number): number | undefined {
  let pid = childrenOf(guardPid)[0];
  for (let depth = 0; pid && depth < 3; depth++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') return pid;
    } catch {
      return undefined;
    }
    pid = childrenOf(pid)[0];
  }
  return undefined;
}

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${randomUUID().slice(0, 4)}`;
}

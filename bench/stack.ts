/**
 * The benchmark's own stack: the Temporal dev server (headless, in-memory SQLite) and mongo-java-server
 * (memory backend) started through src/stack as guarded child processes on free loopback ports, unless
 * TEMPORAL_ADDRESS / MONGODB_URI name servers to use (then nothing is started). In this process: the
 * checkout worker (createCheckoutWorker, on a task queue of its own), the floor worker, and the HTTP API
 * (buildApi) on a free loopback port. stop() takes it all down in reverse order.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Collection } from 'mongodb';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildApi, type FastifyInstance } from '../src/api/app';
import { CheckoutClient } from '../src/client';
import { temporalSettings, type ApiRole, type TemporalSettings } from '../src/config';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { cartsCollection, type CartDoc, Directory, connectMongo, type MongoConnection } from '../src/db';
import { jsonRuntimeLogger, sdkLogLevel } from '../src/logging';
import { runSync } from '../src/stack/exec';
import { startMongoServer } from '../src/stack/mongo-server';
import { freePort } from '../src/stack/ports';
import { TEMPORAL_CLI_VERSION, provision } from '../src/stack/provision';
import { startManaged, type ManagedProcess } from '../src/stack/managed-process';
import { startTemporalDevServer, waitServing } from '../src/stack/temporal-server';
import { PAYLOAD_CONVERTER_PATH, dataConverter } from '../src/data-converter';
import { createCheckoutWorker, type CheckoutWorker } from '../src/worker';
import { NoopHooks, createFloorActivities } from './floor-activities';
import { say } from './log';
import { childrenOf } from '../src/stack/proc';

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
  pids: { temporal?: number; mongo?: number };
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

type Stop = { name: string; stop: () => Promise<void> };

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
  Runtime.install({
    logger: jsonRuntimeLogger(sdkLogLevel(process.env.LOG_LEVEL ?? 'info'), () => void lines++),
    // Ctrl-C is ours: the benchmark stops its phases, then the workers, then the servers.
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } },
    },
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
   * server setting before proposing it. Empty: the dev server exactly as src/stack starts it.
   */
  devServerConfig: string[];
}

/** Starts everything. On failure, what was started is stopped again before the error is thrown. */
export async function startStack(runId: string, options: StackOptions, onStop: (stop: () => Promise<void>) => void): Promise<BenchStack> {
  const stops: Stop[] = [];
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) {
      await s.stop().catch((err: Error) => say(`stopping ${s.name}: ${err.message}`));
    }
  };
  onStop(stopAll);
  try {
    return await start(runId, options, stops, stopAll);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function start(runId: string, options: StackOptions, stops: Stop[], stopAll: () => Promise<void>): Promise<BenchStack> {
  const { runtime, bundle } = options;
  const provisioned = await provision({ log: (l) => say(l) });
  const ownServers = { temporal: !process.env.TEMPORAL_ADDRESS, mongo: !process.env.MONGODB_URI };
  const pids: BenchStack['pids'] = {};
  let temporalServerVersion = 'external';
  let temporalCli: string | undefined;
  if (ownServers.temporal) {
    if (provisioned.temporal?.kind !== 'binary') throw new Error('no Temporal CLI binary: install Go, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS');
    const cli = provisioned.temporal.path;
    const port = await freePort('127.0.0.1');
    // Headless, histories in memory: nothing of the run is kept.
    const server =
      options.devServerConfig.length === 0
        ? await startTemporalDevServer({ cliPath: cli, ip: '127.0.0.1', port })
        : await startTunedDevServer(cli, port, options.devServerConfig);
    stops.push({ name: 'Temporal dev server', stop: () => server.stop() });
    // Read by temporalSettings() (envconfig) below; a next stack of the run starts its own server again.
    process.env.TEMPORAL_ADDRESS = server.address;
    stops.push({ name: 'TEMPORAL_ADDRESS', stop: async () => void delete process.env.TEMPORAL_ADDRESS });
    pids.temporal = childrenOf(server.process.pid)[0];
    const tuned = options.devServerConfig.length ? `; dynamic config ${options.devServerConfig.join(', ')}` : '';
    // A CLI built from source by provisioning reports 0.0.0-DEV: name the version it was built from.
    const reported = runSync(cli, ['--version']).output.trim().replace(/^temporal version /, '');
    temporalCli = provisioned.temporal.source === 'tools' ? `${TEMPORAL_CLI_VERSION} (built from source; reports ${reported})` : reported;
    temporalServerVersion = `dev server of temporal CLI ${temporalCli}, in-memory SQLite${tuned}`;
    say(`Temporal dev server on ${server.address} (headless, in memory${tuned})`);
  } else {
    say(`Temporal: ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); nothing started`);
  }
  let mongoUri = process.env.MONGODB_URI;
  let mongoServerVersion = 'external';
  let mongoJavaServer: string | undefined;
  if (!mongoUri) {
    if (provisioned.mongo.kind === 'external') throw new Error('unreachable: external MongoDB without MONGODB_URI');
    const mongo = await startMongoServer({ spec: provisioned.mongo, host: '127.0.0.1', port: 0 });
    stops.push({ name: 'MongoDB server', stop: () => mongo.stop() });
    mongoUri = mongo.uri;
    pids.mongo = childrenOf(mongo.process.pid)[0];
    if (provisioned.mongo.kind === 'java') mongoJavaServer = /mongo-java-server-core-([\d.]+)\.jar/.exec(provisioned.mongo.classpath)?.[1] ?? 'unknown';
    mongoServerVersion = mongoJavaServer ? `mongo-java-server ${mongoJavaServer} (memory backend)` : `mongod ${provisioned.mongo.kind === 'mongod' ? provisioned.mongo.path : ''}`;
    say(`MongoDB on ${mongoUri} (${mongo.description})`);
  } else {
    say('MongoDB: MONGODB_URI; nothing started');
  }
  // A database of the run's own on a server of the user's, dropped at the end.
  const mongoDb = ownServers.mongo ? 'b2b_checkout_bench' : `b2b_checkout_bench_${runId}_${options.name}`;

  const temporal = temporalSettings();
  const connection = await Connection.connect(temporal.connectionOptions);
  stops.push({ name: 'Temporal client connection', stop: () => connection.close() });
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
  if (!ownServers.temporal) {
    const info = await client.workflowService.getSystemInfo({});
    temporalServerVersion = `server ${info.serverVersion || 'unknown'} (TEMPORAL_ADDRESS)`;
  }
  const mongo = await connectMongo(mongoUri, mongoDb);
  stops.push({ name: 'MongoDB connection', stop: () => mongo.close() });
  if (!ownServers.mongo) {
    const info = await mongo.db.admin().command({ buildInfo: 1 });
    mongoServerVersion = `MongoDB ${String(info.version)} (MONGODB_URI)`;
    stops.push({ name: 'bench database', stop: () => mongo.db.dropDatabase().then(() => undefined) });
  }
  const carts = cartsCollection(mongo.db);

  // A task queue of this run's own: a server of the user's may have a production worker on b2b-checkout.
  const taskQueue = `b2b-checkout-bench-${runId}-${options.name}`;
  const floorTaskQueue = `b2b-checkout-bench-floor-${runId}-${options.name}`;
  const w: CheckoutWorker = await createCheckoutWorker({ temporal, mongoUri, mongoDb, taskQueue, workflowBundle: bundle, log: (l) => say(`worker: ${l}`) });
  stops.push({ name: 'checkout worker connections', stop: () => w.close() });
  const workerRun = w.worker.run();
  stops.push({
    name: 'checkout worker',
    stop: async () => {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await workerRun;
    },
  });

  const hooks = new NoopHooks();
  const floorConnection = await NativeConnection.connect(temporal.connectionOptions);
  stops.push({ name: 'floor worker connection', stop: () => floorConnection.close() });
  const floorWorker = await Worker.create({
    connection: floorConnection,
    namespace: temporal.namespace,
    taskQueue: floorTaskQueue,
    workflowBundle: bundle,
    dataConverter,
    activities: createFloorActivities(hooks),
  });
  const floorRun = floorWorker.run();
  stops.push({
    name: 'floor worker',
    stop: async () => {
      if (floorWorker.getState() === 'RUNNING') floorWorker.shutdown();
      await floorRun;
    },
  });
  if (!ownServers.temporal) stops.push({ name: 'open bench workflows', stop: () => terminateOpen(client, [taskQueue, floorTaskQueue]) });

  const checkout = new CheckoutClient({ client, carts, taskQueue, leaseMs: BENCH_LEASE_MS });

  // The HTTP API with connections of its own, as `npm start` runs it, on the run's task queue.
  const apiConnection = await Connection.connect(temporal.connectionOptions);
  stops.push({ name: 'API Temporal connection', stop: () => apiConnection.close() });
  const apiClient = new Client({ connection: apiConnection, namespace: temporal.namespace, dataConverter });
  const apiMongo = await connectMongo(mongoUri, mongoDb);
  stops.push({ name: 'API MongoDB connection', stop: () => apiMongo.close() });
  await new Directory(apiMongo.db).ensureIndexes();
  const serviceToken = randomBytes(24).toString('base64url');
  const adminToken = randomBytes(24).toString('base64url');
  const app: FastifyInstance = await buildApi({
    checkout: new CheckoutClient({ client: apiClient, carts: cartsCollection(apiMongo.db), taskQueue, leaseMs: BENCH_LEASE_MS }),
    temporal: apiClient,
    db: apiMongo.db,
    tokens: new Map<string, ApiRole>([
      [serviceToken, 'service'],
      [adminToken, 'admin'],
    ]),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  stops.push({ name: 'HTTP API', stop: () => app.close() });
  const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await setupDirectory(apiUrl, adminToken);

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
    api: { url: apiUrl, serviceToken, adminToken },
    metricsUrl: runtime.metricsUrl,
    versions,
    workerLogLines: runtime.logLines,
    stop: stopAll,
  };
}

/**
 * The dev server as src/stack/temporal-server.ts starts it (same arguments), plus dynamic config values:
 * how the benchmark measures a server setting it proposes.
 */
async function startTunedDevServer(cli: string, port: number, dynamicConfig: string[]): Promise<{ address: string; process: ManagedProcess; stop(): Promise<void> }> {
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn', '--headless'];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const kv of dynamicConfig) args.push('--dynamic-config-value', kv);
  const proc = startManaged('temporal dev server', cli, args);
  try {
    await Promise.race([waitServing(address, 120000), proc.exited]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { address, process: proc, stop: () => proc.stop() };
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
      await client.workflow.getHandle(wf.workflowId, wf.runId).terminate('benchmark stopped').catch(() => undefined);
      if (++n >= 20000) break;
    }
    if (n > 0) say(`terminated ${n} open workflows of ${tq}`);
  }
}

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${randomUUID().slice(0, 4)}`;
}

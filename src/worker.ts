/**
 * The b2b-checkout worker: every workflow and activity of the task queue. `node dist/src/worker.js`
 * runs it against the servers named by TEMPORAL_ADDRESS (envconfig) and MONGODB_URI; the dev stack
 * (stack/launcher.ts: `npm start`, the tests, the benchmark) runs it in-process beside the servers it starts.
 */
import { Client, Connection } from '@temporalio/client';
import {
  LogTimestamp,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type LogLevel,
  type LogMetadata,
  type Logger as SdkLogger,
  type WorkflowBundle,
} from '@temporalio/worker';
import { createActivities, type StepHook } from '../activities';
import { ConfigError, appSettings, configErrorLine, temporalSettings, type TemporalSettings, type WorkerDeploymentSettings } from './config';
import { TASK_QUEUE } from './contract';
import { PAYLOAD_CONVERTER_PATH, dataConverter } from './data-converter';
import {
  EventRelay,
  WebhookStore,
  cartsCollection,
  ensureCartIndexes,
  connectMongo,
  type EventRelayOptions,
  type MongoConnection,
  type MongoEventLog,
} from './db';
import { describeOutcome, setCurrentVersion, type SetCurrentOutcome } from './deployment';
import { appLogger, createLogger, logAt, type Logger, type Write } from './logging';
import { ensureSearchAttributes } from './temporal';

export interface CheckoutWorkerOptions {
  temporal: TemporalSettings;
  mongoUri: string;
  mongoDb: string;
  taskQueue?: string;
  /**
   * A bundle made once (tests), or the path of one made at build time (the image's, WORKFLOW_BUNDLE_PATH);
   * otherwise the worker bundles workflows/ itself.
   */
  workflowBundle?: WorkflowBundle | { codePath: string };
  /**
   * After shutdown is requested (SIGTERM), how long running activities may go on before the SDK cancels
   * them; the SDK's default is 0: cancelled at once. Seconds.
   */
  shutdownGraceS?: number;
  /**
   * The worker's Worker Deployment version, and when it makes that version current (WORKER_SET_CURRENT;
   * `if-none` when unset). Unset: an unversioned worker.
   */
  deployment?: WorkerDeploymentSettings;
  log?: (line: string) => void;
  /** Where the MongoDB connection reports outages and driver restarts (src/db/mongo.ts). */
  mongoLog?: MongoEventLog;
  /** Test seam only (slowing the steps of chosen checkouts); the product never sets it. */
  beforeStep?: StepHook;
  /** Whether this worker runs the event relay (default true); its options. */
  relayEvents?: boolean | EventRelayOptions;
}

export interface CheckoutWorker {
  worker: Worker;
  client: Client;
  mongo: MongoConnection;
  /** The event relay this worker runs until close() (undefined with `relayEvents: false`). */
  relay?: EventRelay;
  /**
   * With a deployment: makes the worker's version current as its WORKER_SET_CURRENT says, and logs
   * what it did. Call after worker.run() has started (Temporal knows a version once its worker polls).
   */
  setCurrentVersion(signal?: AbortSignal): Promise<SetCurrentOutcome>;
  /** Stops the event relay and closes the connections; call after worker.run() has returned. */
  close(): Promise<void>;
}

export async function createCheckoutWorker(options: CheckoutWorkerOptions): Promise<CheckoutWorker> {
  const log = options.log ?? (() => undefined);
  const mongo = await connectMongo(options.mongoUri, options.mongoDb, options.mongoLog ? { log: options.mongoLog } : {});
  const connection = await Connection.connect(options.temporal.connectionOptions);
  const nativeConnection = await NativeConnection.connect(options.temporal.connectionOptions);
  try {
    const added = await ensureSearchAttributes(connection, options.temporal.namespace);
    if (added.length > 0) log(`registered search attributes: ${added.join(', ')}`);
    await ensureCartIndexes(cartsCollection(mongo.db));
    await new WebhookStore(mongo.db).ensureIndexes();
    const client = new Client({ connection, namespace: options.temporal.namespace, dataConverter });
    const workflowBundle = options.workflowBundle ?? (await bundleCheckoutWorkflows());
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: options.temporal.namespace,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      workflowBundle,
      ...(options.shutdownGraceS !== undefined ? { shutdownGraceTime: options.shutdownGraceS * 1000 } : {}),
      // The bundle carries the same converter for workflow code; this one decodes activity arguments.
      dataConverter,
      // A cancel reaches a running activity only in a heartbeat's response, and the SDK sends
      // heartbeats at most every 0.8 × heartbeat timeout (8 s for a step) by default: a step waiting
      // on a store's provider would go on calling it that long after an add to cart cancelled it.
      maxHeartbeatThrottleInterval: '1s',
      activities: createActivities({
        db: mongo.db,
        client,
        ...(options.beforeStep ? { beforeStep: options.beforeStep } : {}),
        // Read only while an activity runs, so after `worker` is set. A shutdown grace time lets
        // running activities finish; a webhook delivery that is only waiting for events ends now.
        workerStopping: () => worker.getState() !== 'RUNNING',
      }),
      ...(options.deployment ? { workerDeploymentOptions: versionedWorker(options.deployment) } : {}),
    });
    const deployment = options.deployment;
    const relay = startRelay(mongo, options.relayEvents, log);
    return {
      worker,
      client,
      mongo,
      ...(relay ? { relay: relay.relay } : {}),
      async setCurrentVersion(signal) {
        if (!deployment) return { kind: 'not-asked' };
        const version = { deploymentName: deployment.deploymentName, buildId: deployment.buildId };
        const outcome = await setCurrentVersion(client, version, deployment.setCurrent ?? 'if-none', { identity: worker.options.identity, signal });
        log(describeOutcome(version, outcome));
        return outcome;
      },
      async close() {
        await relay?.stop();
        await nativeConnection.close();
        await connection.close();
        await mongo.close();
      },
    };
  } catch (err) {
    await nativeConnection.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The event relay runs in every worker process, beside its pollers: wherever carts change there is
 * a worker, it needs no deployment of its own, and it is safe when several run at once (each event
 * is relayed once, whichever relay gets it: src/db/event-relay.ts). It runs from the worker's
 * creation until close(), so it drains the outboxes while a stopping worker finishes its activities.
 */
function startRelay(mongo: MongoConnection, setting: CheckoutWorkerOptions['relayEvents'], log: (line: string) => void) {
  if (setting === false) return undefined;
  const relay = new EventRelay(mongo.db, { log, ...(typeof setting === 'object' ? setting : {}) });
  const stopped = new AbortController();
  const running = relay.run(stopped.signal);
  return {
    relay,
    async stop() {
      stopped.abort();
      await running;
    },
  };
}

/**
 * A versioned worker: it takes only tasks routed to its version, and every workflow it starts is PINNED
 * to that version. Set here, not per workflow with setWorkflowOptions: the server refuses a workflow
 * task that names a behavior from an unversioned worker (WORKER_VERSIONING=off, the tests' workers).
 * - checkoutWorkflow lives up to its 30 min lease: it finishes on the code it started on, so a deploy
 *   never replays a running checkout on new code. A fix that must reach running checkouts is the
 *   exception: patched() and a recorded history (docs/DEPLOY.md).
 * - cartItemsWorkflow lives seconds (at most its 2 min activity timeout), far less than the checkouts
 *   that keep the old version's workers up anyway, so pinning it costs nothing. AUTO_UPGRADE would move
 *   a running change onto the new version's worker, which must then replay it: every edit of it would
 *   need patched() and a recorded history, for no gain.
 * - probeWorkflow: one activity, likewise.
 */
function versionedWorker(d: WorkerDeploymentSettings) {
  return {
    useWorkerVersioning: true as const,
    version: { deploymentName: d.deploymentName, buildId: d.buildId },
    defaultVersioningBehavior: 'PINNED' as const,
  };
}

/** Bundles workflows/ with the project's payload converter, keeping webpack's module listing out of the log. */
export async function bundleCheckoutWorkflows(): Promise<WorkflowBundle> {
  const quiet = () => undefined;
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    payloadConverterPath: PAYLOAD_CONVERTER_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: (m) => console.warn(m), error: (m) => console.error(m) },
  });
}

export interface RuntimeOptions {
  /** LOG_LEVEL of the SDK, workflow and activity loggers. */
  logLevel: string;
  /** Signals on which the SDK stops every worker; empty when the caller decides the order of shutdown. */
  shutdownSignals: NodeJS.Signals[];
  /** host:port for the Prometheus scrape endpoint (`/metrics`) of the SDK's worker metrics; unset: no metrics. */
  metricsAddress?: string;
  /** The logger to write through (default: the project's pino at logLevel, on stdout or `write`). */
  logger?: Logger;
  /** Where the JSON log lines go (default stdout). */
  write?: Write;
  /** The native core's own log level (default WARN). */
  coreLogLevel?: 'WARN' | 'ERROR';
}

/**
 * The SDK runtime, the one place it is installed (once per process, before any connection or worker):
 * its logger writes through the project's pino (src/logging.ts) at LOG_LEVEL (SDK, workflow and
 * activity loggers, and the native core's warnings, forwarded), and the worker metrics for
 * Prometheus when an address is given.
 */
export function installRuntime(options: RuntimeOptions): void {
  const logger = options.logger ?? createLogger({ level: options.logLevel, component: 'worker', ...(options.write ? { destination: options.write } : {}) });
  Runtime.install({
    logger: sdkLogger(logger),
    shutdownSignals: options.shutdownSignals,
    telemetryOptions: {
      logging: { filter: { core: options.coreLogLevel ?? 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.metricsAddress ? { metrics: { prometheus: { bindAddress: options.metricsAddress } } } : {}),
    },
  });
}

/**
 * The Temporal SDK's logger interface over pino. SDK entries keep their own time (the native core's
 * lines reach the logger buffered, later than they happened); the activity task token, an opaque
 * blob as long as the rest of the line, is left out.
 */
export function sdkLogger(logger: Logger): SdkLogger {
  const write = (level: LogLevel, message: string, meta: LogMetadata = {}) => {
    const nanos = (meta as Record<symbol, unknown>)[LogTimestamp];
    const { taskToken: _token, ...fields } = meta;
    logAt(logger, level, typeof nanos === 'bigint' ? new Date(Number(nanos / 1_000_000n)) : undefined, fields, message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}

/**
 * `node dist/src/worker.js`: one worker until SIGINT/SIGTERM. `extra` is for the dev stack's worker
 * processes (a test seam), never set in production.
 */
export async function runWorkerProcess(extra: Pick<CheckoutWorkerOptions, 'beforeStep'> = {}): Promise<void> {
  const settings = appSettings();
  if (!settings.mongoUri) throw new Error('MONGODB_URI is not set (npm start sets it for you)');
  const log = appLogger('worker', settings.logLevel);
  // The SDK runtime stops every worker on SIGINT/SIGTERM; run() then returns once in-flight tasks finish.
  installRuntime({ logLevel: settings.logLevel, shutdownSignals: ['SIGINT', 'SIGTERM'], metricsAddress: settings.workerMetricsAddress });
  const temporal = temporalSettings();
  const w = await createCheckoutWorker({
    temporal,
    mongoUri: settings.mongoUri,
    mongoDb: settings.mongoDb,
    log: (line) => log.info(line),
    mongoLog: log,
    shutdownGraceS: settings.workerShutdownGraceS,
    ...(settings.workflowBundlePath ? { workflowBundle: { codePath: settings.workflowBundlePath } } : {}),
    ...(settings.workerDeployment ? { deployment: settings.workerDeployment } : {}),
    ...extra,
  });
  log.info(`polling task queue ${TASK_QUEUE}`, {
    taskQueue: TASK_QUEUE,
    temporalAddress: temporal.connectionOptions.address,
    namespace: temporal.namespace,
    mongoDb: settings.mongoDb,
    shutdownGraceS: settings.workerShutdownGraceS,
    workflowBundle: settings.workflowBundlePath ?? 'bundled at start',
    ...(settings.workerMetricsAddress ? { metrics: `http://${settings.workerMetricsAddress}/metrics` } : {}),
    deploymentVersion: settings.workerDeployment ? `${settings.workerDeployment.deploymentName}.${settings.workerDeployment.buildId}` : 'unversioned',
  });
  const running = w.worker.run();
  const stopped = new AbortController();
  const versionSet = w.setCurrentVersion(stopped.signal).catch((err: unknown) => {
    // The worker keeps serving its version (pinned runs, and new ones once an operator makes it current).
    if (!stopped.signal.aborted) log.error(err instanceof Error ? err.message : String(err));
  });
  try {
    await running;
  } finally {
    stopped.abort();
    await versionSet;
    await w.close();
  }
  log.info('stopped');
}

/** Exits 1 with the error logged (a bad setting: its one line), for the worker process entries. */
export function workerProcessFailed(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(configErrorLine('worker', err) + '\n');
    process.exit(1);
  }
  appLogger('worker').error(err instanceof Error ? err.message : String(err), { error: err });
  process.exit(1);
}

if (require.main === module) runWorkerProcess().catch(workerProcessFailed);

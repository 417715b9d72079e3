/**
 * The b2b-checkout worker: every workflow and activity of the task queue. `node dist/src/worker.js`
 * runs it against the servers named by TEMPORAL_ADDRESS (envconfig) and MONGODB_URI; `npm start`
 * runs it in-process beside the servers it starts.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import { appSettings, temporalSettings, type TemporalSettings } from './config';
import { TASK_QUEUE } from './contract';
import { PAYLOAD_CONVERTER_PATH, dataConverter } from './data-converter';
import { cartsCollection, ensureCartIndexes, connectMongo, type MongoConnection } from './db';
import { appLogger, jsonRuntimeLogger, sdkLogLevel } from './logging';
import { ensureSearchAttributes } from './temporal';

export interface CheckoutWorkerOptions {
  temporal: TemporalSettings;
  mongoUri: string;
  mongoDb: string;
  taskQueue?: string;
  /** A bundle made once (tests); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkflowBundle;
  log?: (line: string) => void;
}

export interface CheckoutWorker {
  worker: Worker;
  client: Client;
  mongo: MongoConnection;
  /** Closes the connections; call after worker.run() has returned. */
  close(): Promise<void>;
}

export async function createCheckoutWorker(options: CheckoutWorkerOptions): Promise<CheckoutWorker> {
  const log = options.log ?? (() => undefined);
  const mongo = await connectMongo(options.mongoUri, options.mongoDb);
  const connection = await Connection.connect(options.temporal.connectionOptions);
  const nativeConnection = await NativeConnection.connect(options.temporal.connectionOptions);
  try {
    const added = await ensureSearchAttributes(connection, options.temporal.namespace);
    if (added.length > 0) log(`registered search attributes: ${added.join(', ')}`);
    await ensureCartIndexes(cartsCollection(mongo.db));
    const client = new Client({ connection, namespace: options.temporal.namespace, dataConverter });
    const workflowBundle = options.workflowBundle ?? (await bundleCheckoutWorkflows());
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: options.temporal.namespace,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      workflowBundle,
      // The bundle carries the same converter for workflow code; this one decodes activity arguments.
      dataConverter,
      activities: createActivities({ db: mongo.db, client }),
    });
    return {
      worker,
      client,
      mongo,
      async close() {
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

/** Bundles workflows/ with the project's payload converter, keeping webpack's module listing out of the log. */
export async function bundleCheckoutWorkflows(): Promise<WorkflowBundle> {
  const quiet = () => undefined;
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    payloadConverterPath: PAYLOAD_CONVERTER_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: (m) => console.warn(m), error: (m) => console.error(m) },
  });
}

export interface RuntimeTelemetry {
  /** host:port for the Prometheus scrape endpoint (`/metrics`) of the SDK's worker metrics; unset: no metrics. */
  metricsAddress?: string;
}

/**
 * The SDK runtime: JSON-line logs at LOG_LEVEL (SDK, workflow and activity loggers, and the native
 * core's warnings, forwarded), and the worker metrics for Prometheus when an address is given.
 * `shutdownSignals` says who handles SIGINT/SIGTERM.
 */
export function installRuntime(logLevel: string, shutdownSignals: NodeJS.Signals[], telemetry: RuntimeTelemetry = {}): void {
  const level = sdkLogLevel(logLevel);
  Runtime.install({
    logger: jsonRuntimeLogger(level),
    shutdownSignals,
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(telemetry.metricsAddress ? { metrics: { prometheus: { bindAddress: telemetry.metricsAddress } } } : {}),
    },
  });
}

async function main(): Promise<void> {
  const settings = appSettings();
  if (!settings.mongoUri) throw new Error('MONGODB_URI is not set (npm start sets it for you)');
  const log = appLogger('worker', settings.logLevel);
  // The SDK runtime stops every worker on SIGINT/SIGTERM; run() then returns once in-flight tasks finish.
  installRuntime(settings.logLevel, ['SIGINT', 'SIGTERM'], { metricsAddress: settings.workerMetricsAddress });
  const temporal = temporalSettings();
  const w = await createCheckoutWorker({
    temporal,
    mongoUri: settings.mongoUri,
    mongoDb: settings.mongoDb,
    log: (line) => log.info(line),
  });
  log.info(`polling task queue ${TASK_QUEUE}`, {
    taskQueue: TASK_QUEUE,
    temporalAddress: temporal.connectionOptions.address,
    namespace: temporal.namespace,
    mongoDb: settings.mongoDb,
    ...(settings.workerMetricsAddress ? { metrics: `http://${settings.workerMetricsAddress}/metrics` } : {}),
  });
  try {
    await w.worker.run();
  } finally {
    await w.close();
  }
  log.info('stopped');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    appLogger('worker').error(err instanceof Error ? err.message : String(err), { error: err });
    process.exit(1);
  });
}

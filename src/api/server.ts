/**
 * The HTTP API on its own: `node dist/src/api/server.js`, against the servers named by
 * TEMPORAL_ADDRESS (envconfig) and MONGODB_URI, with the tokens of API_TOKENS. `npm start` runs the
 * same API in-process beside the worker.
 */
import { CheckoutClient } from '../client';
import { ConfigError, appSettings, configErrorLine, temporalSettings, type AppSettings } from '../config';
import { CartService } from '../carts';
import { IdempotencyStore, cartsCollection, connectMongo } from '../db';
import { createLogger, type Logger } from '../logging';
import { connectClient } from '../temporal';
import { buildApi, type FastifyInstance } from './app';

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startApi(
  settings: AppSettings,
  mongoUri: string,
  options: {
    temporalMetricsUrl?: string;
    /** Where the API logs; default the project's pino at LOG_LEVEL on stdout. */
    logger?: Logger;
    /** Each log entry as an object instead (bench, tests). */
    log?: (e: Record<string, unknown>) => void;
    taskQueue?: string;
  } = {},
): Promise<RunningApi> {
  const log = options.log;
  const logger =
    options.logger ??
    createLogger({
      level: settings.logLevel,
      component: 'api',
      ...(log ? { destination: (line: string) => log(JSON.parse(line) as Record<string, unknown>) } : {}),
    });
  const temporal = temporalSettings();
  const client = await connectClient(temporal);
  // A short server selection timeout: during a MongoDB outage callers get 503 within seconds, not a hang.
  const mongoLog = {
    info: (msg: string, fields = {}) => logger.info(fields, msg),
    warn: (msg: string, fields = {}) => logger.warn(fields, msg),
  };
  const mongo = await connectMongo(mongoUri, settings.mongoDb, {
    serverSelectionTimeoutMS: settings.apiMongoTimeoutMs,
    appName: 'b2b-checkout-api',
    log: mongoLog,
  }).catch(async (err: unknown) => {
    await client.connection.close().catch(() => undefined);
    throw err;
  });
  try {
    await CartService.forDb(mongo.db).ensureIndexes();
    await new IdempotencyStore(mongo.db, settings.idempotencyTtlS).ensureIndexes();
    const checkout = new CheckoutClient({ client, carts: cartsCollection(mongo.db), leaseMs: settings.checkoutLeaseMs, taskQueue: options.taskQueue });
    const app = await buildApi({
      checkout,
      temporal: client,
      db: mongo.db,
      tokens: settings.apiTokens,
      waitMs: settings.apiWaitMs,
      idempotencyTtlS: settings.idempotencyTtlS,
      rateLimitPerMin: settings.rateLimitPerMin,
      ...(options.temporalMetricsUrl ? { temporalMetricsUrl: options.temporalMetricsUrl } : {}),
      logger,
    });
    const url = await app.listen({ host: settings.apiHost, port: settings.apiPort });
    return {
      app,
      url,
      async close() {
        await app.close();
        await client.connection.close();
        await mongo.close();
      },
    };
  } catch (err) {
    await client.connection.close().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  const settings = appSettings();
  if (!settings.mongoUri) throw new Error('MONGODB_URI is not set');
  if (settings.apiTokens.size === 0) throw new Error('API_TOKENS is not set: give at least one token=service or token=admin');
  // WORKER_METRICS_ADDRESS names where the worker serves its SDK metrics; /metrics appends them.
  const api = await startApi(settings, settings.mongoUri, {
    ...(settings.workerMetricsAddress ? { temporalMetricsUrl: `http://${settings.workerMetricsAddress}/metrics` } : {}),
  });
  const log = api.app.log;
  log.info({ url: api.url }, `listening on ${api.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, `${signal}: stopping`);
    void api.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? configErrorLine('api', err) : `[api] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

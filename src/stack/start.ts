/**
 * `npm start`: the whole local stack in the foreground. Starts the Temporal dev server (Web UI, SQLite
 * file so histories survive a restart) and a MongoDB server unless TEMPORAL_ADDRESS / MONGODB_URI name
 * running ones, then the worker. Ctrl-C (SIGINT) or SIGTERM stops the worker first, then every server
 * it started.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startApi } from '../api/server';
import { appSettings, DEFAULTS, temporalSettings } from '../config';
import { TASK_QUEUE } from '../contract';
import { createCheckoutWorker, installRuntime } from '../worker';
import { startMongoServer, type MongoServerHandle } from './mongo-server';
import { DATA_DIR } from './paths';
import { freePort, isListening } from './ports';
import { elapsed, log } from './progress';
import { provision } from './provision';
import { startTemporalDevServer, type DevServer } from './temporal-server';

type Stoppable = { name: string; stop(): Promise<void> };

async function main(): Promise<void> {
  const startedAt = Date.now();
  const settings = appSettings();
  const provisioned = await provision();
  const stoppers: Stoppable[] = [];
  let shuttingDown = false;
  let workerRun: Promise<void> | undefined;
  let shutdownWorker: (() => void) | undefined;
  let stopApi: (() => Promise<void>) | undefined;

  const shutdown = async (why: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${why}: stopping...`);
    // New requests first, so that none waits on a worker that is already gone.
    if (stopApi) {
      await stopApi().catch((err: Error) => log(`HTTP API: ${err.message}`));
      log('HTTP API stopped');
    }
    if (shutdownWorker) {
      shutdownWorker();
      await workerRun?.catch(() => undefined);
      log('worker stopped');
    }
    for (const s of stoppers.reverse()) {
      await s.stop().catch((err: Error) => log(`${s.name}: ${err.message}`));
      log(`${s.name} stopped`);
    }
    log('bye');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    void shutdown(signal).then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `kill -INT <npm pid>` (unlike Ctrl-C, which reaches the whole process group) ends npm but not
  // us: when our parent is gone we are re-parented, and stop as if signalled.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) onSignal('SIGHUP');
  }, 1000).unref();

  try {
    // Temporal
    let temporalAddress = settings.temporalAddress;
    let uiUrl: string | undefined;
    if (!temporalAddress) {
      const [host, port] = DEFAULTS.temporalAddress.split(':');
      if (await isListening(host, Number(port))) {
        throw new Error(
          `port ${port} is already in use: is another "npm start" running? To use that server, set TEMPORAL_ADDRESS=${DEFAULTS.temporalAddress}`,
        );
      }
      const dbFile = path.join(DATA_DIR, 'temporal.sqlite');
      let server: DevServer;
      if (provisioned.temporal?.kind === 'binary') {
        log(`starting the Temporal dev server on ${DEFAULTS.temporalAddress} (UI :${settings.temporalUiPort}, histories in ${path.relative(process.cwd(), dbFile)})`);
        server = await startTemporalDevServer({
          cliPath: provisioned.temporal.path,
          ip: host,
          port: Number(port),
          uiPort: settings.temporalUiPort,
          dbFile,
          logFile: path.join(DATA_DIR, 'logs', 'temporal.log'),
        });
        stoppers.push({ name: 'Temporal dev server', stop: () => server.stop() });
      } else {
        server = await startWithSdkDownload(host, Number(port), settings.temporalUiPort, dbFile, stoppers);
      }
      temporalAddress = server.address;
      uiUrl = server.uiUrl;
      // Everything below (envconfig) reads the address from here.
      process.env.TEMPORAL_ADDRESS = temporalAddress;
    }

    // MongoDB
    let mongoUri = settings.mongoUri;
    let mongoDescription = 'given by MONGODB_URI';
    if (!mongoUri) {
      if (provisioned.mongo.kind === 'external') throw new Error('unreachable: external MongoDB without MONGODB_URI');
      if (await isListening('127.0.0.1', DEFAULTS.mongoPort)) {
        throw new Error(`port ${DEFAULTS.mongoPort} is already in use: to use that MongoDB, set MONGODB_URI=mongodb://127.0.0.1:${DEFAULTS.mongoPort}`);
      }
      log(`starting MongoDB on 127.0.0.1:${DEFAULTS.mongoPort}`);
      const mongo: MongoServerHandle = await startMongoServer({
        spec: provisioned.mongo,
        host: '127.0.0.1',
        port: DEFAULTS.mongoPort,
        dataDir: path.join(DATA_DIR, 'mongo'),
        logFile: path.join(DATA_DIR, 'logs', 'mongo.log'),
      });
      stoppers.push({ name: 'MongoDB server', stop: () => mongo.stop() });
      mongoUri = mongo.uri;
      mongoDescription = mongo.description;
    }

    // Worker. Our own signal handlers decide the order of shutdown, not the SDK's.
    // The SDK runtime's Prometheus endpoint: WORKER_METRICS_ADDRESS, else a free loopback port that
    // the API's /metrics reads from, so the Temporal metrics are always there.
    const metricsAddress = settings.workerMetricsAddress ?? `127.0.0.1:${await freePort()}`;
    installRuntime(settings.logLevel, [], { metricsAddress });
    const temporal = temporalSettings();
    const w = await createCheckoutWorker({ temporal, mongoUri, mongoDb: settings.mongoDb, log });
    stoppers.push({ name: 'connections', stop: () => w.close() });
    shutdownWorker = () => w.worker.shutdown();
    workerRun = w.worker.run();

    // HTTP API, in this process. Without API_TOKENS, a service and an admin token are made for this run.
    let generated: { service: string; admin: string } | undefined;
    if (settings.apiTokens.size === 0) {
      generated = { service: randomBytes(24).toString('base64url'), admin: randomBytes(24).toString('base64url') };
      settings.apiTokens.set(generated.service, 'service');
      settings.apiTokens.set(generated.admin, 'admin');
    }
    if (await isListening(settings.apiHost, settings.apiPort)) {
      throw new Error(`port ${settings.apiPort} is already in use: set API_PORT to another port`);
    }
    const api = await startApi(settings, mongoUri, { temporalMetricsUrl: `http://${metricsAddress}/metrics` });
    stopApi = () => api.close();

    log(`ready in ${elapsed(startedAt)}`);
    log('');
    if (uiUrl) log(`  Temporal Web UI   ${uiUrl}`);
    log(`  Temporal          ${temporal.connectionOptions.address} (namespace ${temporal.namespace}, task queue ${TASK_QUEUE})`);
    log(`  MongoDB           ${mongoUri} database ${settings.mongoDb} (${mongoDescription})`);
    log(`  HTTP API          ${api.url}`);
    if (generated) {
      log('  API tokens (made for this run; set API_TOKENS=token=role,... to choose your own):');
      log(`    service  ${generated.service}`);
      log(`    admin    ${generated.admin}`);
    }
    log('');
    log('  To use this stack from another shell:');
    log(`    export TEMPORAL_ADDRESS=${temporal.connectionOptions.address} MONGODB_URI=${mongoUri} MONGODB_DB=${settings.mongoDb}`);
    log('  Ctrl-C stops everything.');
    await workerRun;
    if (!shuttingDown) {
      await shutdown('worker stopped unexpectedly');
      process.exit(1);
    }
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown('startup failed');
    process.exit(1);
  }
}

/** Without Go, the SDK's own dev-server download (needs the internet). */
async function startWithSdkDownload(
  ip: string,
  port: number,
  uiPort: number,
  dbFilename: string,
  stoppers: Stoppable[],
): Promise<DevServer> {
  log('starting the Temporal dev server downloaded by the SDK (needs the internet)');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { ip, port, ui: true, uiPort, dbFilename, searchAttributes: [] },
  });
  stoppers.push({ name: 'Temporal dev server', stop: () => env.teardown() });
  return {
    address: `${ip}:${port}`,
    uiUrl: `http://${ip}:${uiPort}`,
    process: undefined as never,
    stop: () => env.teardown(),
  };
}

void main();

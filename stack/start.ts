/**
 * `npm start`: the whole local stack in the foreground, through the launcher (stack/launcher.ts).
 * Starts the Temporal dev server (Web UI, SQLite file so histories survive a restart), or with
 * STACK=server PostgreSQL and Temporal Server, and a MongoDB server unless TEMPORAL_ADDRESS /
 * MONGODB_URI name running ones, then the worker (two worker processes with STACK=server) and the HTTP API.
 * Ctrl-C (SIGINT) or SIGTERM stops the API first, then the worker, then every server it started.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { appSettings, ConfigError, configErrorLine, DEFAULTS, temporalSettings, type AppSettings } from '../src/config';
import { TASK_QUEUE } from '../src/contract';
import { installRuntime } from '../src/worker';
import { Launcher } from './launcher';
import { DATA_DIR } from './paths';
import { freePort, isListening } from './ports';
import { pasteLine } from './walkthrough';
import { elapsed, log } from './progress';

/** The server profile runs the worker as this many processes, as a deployment would. */
const WORKER_PROCESSES = 2;
/**
 * The workers `npm start` runs are the only ones of their deployment: each start makes their version
 * current (unless WORKER_SET_CURRENT says otherwise), so a new package version on an old `.data/`
 * still gets the new checkouts. Checkouts pinned to an older version wait for a worker of it (docs/DEPLOY.md).
 */
const NPM_START_SET_CURRENT = 'always';
/** The server profile's PostgreSQL cluster and Temporal Server config for `npm start`. */
const SERVER_DATA_DIR = path.join(DATA_DIR, 'temporal-server');

async function main(): Promise<void> {
  const startedAt = Date.now();
  const settings = appSettings();
  const stack = new Launcher(log);
  let shuttingDown = false;

  const shutdown = async (why: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${why}: stopping...`);
    // Last started first: the API (no new request waits on a worker that is already gone), the worker, the servers.
    await stack.stop((name) => log(`${name} stopped`));
    log('bye');
  };
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      // Ctrl-C reaches npm and us, and npm forwards its copy to us as well: a repeat within a second is
      // that same Ctrl-C. A later one is the user's second Ctrl-C.
      if (Date.now() - firstSignalAt < 1000) return;
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    firstSignalAt = Date.now();
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
    const { profile } = await stack.provision();
    // Temporal
    const [host, port] = DEFAULTS.temporalAddress.split(':');
    const dbFile = path.join(DATA_DIR, 'temporal.sqlite');
    if (!settings.temporalAddress) {
      if (await isListening(host, Number(port))) {
        throw new Error(`port ${port} is already in use: is another "npm start" running? To use that server, set TEMPORAL_ADDRESS=${DEFAULTS.temporalAddress}`);
      }
      if (profile === 'server') {
        log(`starting PostgreSQL and Temporal Server on ${DEFAULTS.temporalAddress} (data in ${path.relative(process.cwd(), SERVER_DATA_DIR)}, no Web UI)`);
      } else if (stack.provisioned?.temporal?.kind === 'binary') {
        log(
          `starting the Temporal dev server on ${DEFAULTS.temporalAddress} (UI :${settings.temporalUiPort}, histories in ${path.relative(process.cwd(), dbFile)})`,
        );
      }
    }
    const { uiUrl } = await stack.startTemporal({
      address: settings.temporalAddress,
      ip: host,
      port: Number(port),
      uiPort: settings.temporalUiPort,
      dbFile,
      dataDir: SERVER_DATA_DIR,
      logFile: path.join(DATA_DIR, 'logs', 'temporal.log'),
      sdkDownload: true,
    });

    // MongoDB
    if (!settings.mongoUri) {
      if (await isListening('127.0.0.1', DEFAULTS.mongoPort)) {
        throw new Error(`port ${DEFAULTS.mongoPort} is already in use: to use that MongoDB, set MONGODB_URI=mongodb://127.0.0.1:${DEFAULTS.mongoPort}`);
      }
      log(`starting MongoDB on 127.0.0.1:${DEFAULTS.mongoPort}`);
    }
    const mongo = await stack.startMongo({
      uri: settings.mongoUri,
      port: DEFAULTS.mongoPort,
      dataDir: path.join(DATA_DIR, 'mongo'),
      logFile: path.join(DATA_DIR, 'logs', 'mongo.log'),
    });

    // Workers. The SDK runtime's Prometheus endpoint: WORKER_METRICS_ADDRESS, else a free loopback
    // port that the API's /metrics reads from, so the Temporal metrics are always there.
    const metricsAddress = settings.workerMetricsAddress ?? `127.0.0.1:${await freePort()}`;
    const temporal = temporalSettings();
    const { done: workersDone } =
      profile === 'server'
        ? await startWorkerProcesses(stack, settings, metricsAddress, () => shuttingDown)
        : await startInProcessWorker(stack, settings, metricsAddress);

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
    const api = await stack.startApi(settings, { temporalMetricsUrl: `http://${metricsAddress}/metrics` });

    log(`ready in ${elapsed(startedAt)}`);
    log('');
    if (uiUrl) log(`  Temporal Web UI   ${uiUrl}`);
    log(`  Temporal          ${temporal.connectionOptions.address} (namespace ${temporal.namespace}, task queue ${TASK_QUEUE})`);
    log(`                    ${stack.temporalDescription ?? ''}`);
    const cli = stack.provisioned?.temporal;
    if (cli?.kind === 'binary') log(`  temporal CLI      ${path.relative(process.cwd(), cli.path) || cli.path}`);
    if (profile === 'server') log(`  Workers           ${WORKER_PROCESSES} processes (logs in ${path.relative(process.cwd(), path.join(DATA_DIR, 'logs'))})`);
    const version = settings.workerDeployment;
    log(`  Worker version    ${version ? `${version.deploymentName}.${version.buildId} (docs/DEPLOY.md)` : 'unversioned (WORKER_VERSIONING=off)'}`);
    log(`  MongoDB           ${mongo.uri} database ${settings.mongoDb} (${mongo.description})`);
    log(`  HTTP API          ${api.url}`);
    if (generated) {
      log('  API tokens (made for this run; set API_TOKENS=token=role,... to choose your own):');
      log(`    service  ${generated.service}`);
      log(`    admin    ${generated.admin}`);
    }
    log('');
    log('  Next: the walkthrough in README.md (section "Walkthrough"). In another shell, in this folder, paste:');
    log(
      `    ${pasteLine({ api: api.url, tokens: generated, temporal: temporal.connectionOptions.address, mongoUri: mongo.uri, mongoDb: settings.mongoDb, cli: stack.provisioned?.temporal })}`,
    );
    log('  Ctrl-C stops everything.');
    await workersDone;
    if (!shuttingDown) {
      await shutdown(profile === 'server' ? 'every worker process stopped unexpectedly' : 'worker stopped unexpectedly');
      process.exit(1);
    }
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown('startup failed');
    process.exit(1);
  }
}

/** The dev profile: one worker in this process; our own signal handlers decide the order of shutdown, not the SDK's. */
async function startInProcessWorker(stack: Launcher, settings: AppSettings, metricsAddress: string): Promise<{ done: Promise<void> }> {
  installRuntime({ logLevel: settings.logLevel, shutdownSignals: [], metricsAddress });
  const deployment = settings.workerDeployment;
  const worker = await stack.startWorker({
    mongoDb: settings.mongoDb,
    log,
    ...(deployment ? { deployment: { ...deployment, setCurrent: deployment.setCurrent ?? NPM_START_SET_CURRENT } } : {}),
  });
  return { done: worker.running };
}

/**
 * The server profile: the product's worker as processes on the task queue, as deployed. Each has
 * its own metrics port; the API's /metrics reads the first one's. Settles when every one has exited.
 */
async function startWorkerProcesses(stack: Launcher, settings: AppSettings, metricsAddress: string, stopping: () => boolean): Promise<{ done: Promise<void> }> {
  const exits: Promise<void>[] = [];
  for (let i = 1; i <= WORKER_PROCESSES; i++) {
    const name = `worker-${i}`;
    const metrics = i === 1 ? metricsAddress : `127.0.0.1:${await freePort()}`;
    const { proc, pid } = await stack.startWorkerProcess(name, path.join(DATA_DIR, 'logs', `${name}.log`), {
      product: true,
      env: { WORKER_METRICS_ADDRESS: metrics, WORKER_SET_CURRENT: settings.workerDeployment?.setCurrent ?? NPM_START_SET_CURRENT },
    });
    log(`${name} polling (pid ${pid})`);
    exits.push(
      proc.exited.catch((err: Error) => {
        if (!stopping()) log(`${name} stopped unexpectedly: ${err.message.split('\n')[0]}; see its log`);
      }),
    );
  }
  return { done: Promise.all(exits).then(() => undefined) };
}

main().catch((err: unknown) => {
  // A bad setting (read before anything starts): one line, not a stack trace.
  if (!(err instanceof ConfigError)) throw err;
  console.error(configErrorLine('npm start', err));
  process.exit(1);
});

/**
 * The worker as a process, the way the Docker image runs it: a workflow bundle made at build time
 * (WORKFLOW_BUNDLE_PATH), the health check turning healthy once it polls, and SIGTERM letting the
 * running activity finish within WORKER_SHUTDOWN_GRACE_S instead of cancelling it.
 *
 * The process is the dev stack's worker process (stack/worker-process.ts: the product's
 * runWorkerProcess plus the per-cart step delays), in a namespace of its own so that it polls the
 * product task queue without taking work from anyone else's worker.
 */
import { randomUUID } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CheckoutClient } from '../src/client';
import { checkoutWorkflowId } from '../src/contract';
import { dataConverter } from '../src/data-converter';
import { freePort } from '../stack/ports';
import { setStepDelay } from '../stack/step-delay';
import { temporalSettings } from '../src/config';
import { cartsCollection, connectMongo, type MongoConnection } from '../src/db';
import { eventually, insertForeignCart, newCartId } from './harness/env';
import { runsOf } from './harness/history';
import { ensureNamespace } from './harness/worker-processes';

const NAMESPACE = 'b2b-checkout-test-worker-process';
const dist = path.join(__dirname, '..', 'dist');
const STEP_MS = 4000;

// Not setupTestEnv: it installs the SDK's native runtime, which only a worker in this process would release.
let mongo: MongoConnection;
let mongoDb: string;
let connection: Connection;
let client: Client;
let bundleDir: string;
beforeAll(async () => {
  if (!process.env.MONGODB_URI || !process.env.TEMPORAL_ADDRESS) throw new Error('the jest global setup did not provide the servers');
  // A database of its own: these worker processes run the event relay, which would empty the outboxes of
  // carts that other files compare whole.
  mongoDb = `b2b_checkout_test_worker_process_${randomUUID().slice(0, 8)}`;
  mongo = await connectMongo(process.env.MONGODB_URI, mongoDb);
  connection = await Connection.connect(temporalSettings().connectionOptions);
  // A namespace of its own, made once (re-running the test reuses it).
  await ensureNamespace(connection, NAMESPACE);
  client = new Client({ connection, namespace: NAMESPACE, dataConverter });
  bundleDir = mkdtempSync(path.join(os.tmpdir(), 'b2b-bundle-'));
});
afterAll(async () => {
  await connection?.close();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

test('the built worker loads a prebuilt bundle, turns healthy once it polls, and on SIGTERM lets the running step finish', async () => {
  for (const file of ['src/workflow-bundle.js', 'src/healthcheck.js', 'stack/worker-process.js']) {
    if (!existsSync(path.join(dist, file))) throw new Error(`dist/${file} is missing: run npm run build first`);
  }
  // The image's build step.
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  const made = spawnSync(process.execPath, [path.join(dist, 'src', 'workflow-bundle.js'), bundlePath], { encoding: 'utf8', timeout: 120000 });
  expect(made.status).toBe(0);
  expect(existsSync(bundlePath)).toBe(true);

  const workerEnv = {
    ...process.env,
    TEMPORAL_NAMESPACE: NAMESPACE,
    MONGODB_DB: mongoDb,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
    WORKER_SHUTDOWN_GRACE_S: '30',
    // Versioned, as in the image; the only worker of its namespace, so its version is made current even
    // when a run on a kept server (TEMPORAL_ADDRESS) with another package version left that one current.
    WORKER_SET_CURRENT: 'always',
  };
  const worker = spawn(process.execPath, [path.join(dist, 'stack', 'worker-process.js')], { env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  worker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = exited(worker);
  let terminated = false;
  const cartId = newCartId();
  try {
    // The container's health check: healthy once the worker polls.
    const health = await eventually('the worker health check to pass', async () => {
      const r = spawnSync(process.execPath, [path.join(dist, 'src', 'healthcheck.js'), 'worker'], { env: workerEnv, encoding: 'utf8' });
      return r.status === 0 ? r.stdout : undefined;
    });
    expect(health).toMatch(/^worker: \d+ pollers/);
    // Its start-up line names the bundle it loaded (the pipe may deliver it after the health check passed).
    await eventually('the worker to log the bundle it loaded', async () => (output.includes(bundlePath) ? true : undefined));

    // A checkout whose first step takes STEP_MS; SIGTERM while it runs.
    await insertForeignCart(cartsCollection(mongo.db), cartId);
    await setStepDelay(mongo.db, cartId, STEP_MS);
    await new CheckoutClient({ client, carts: cartsCollection(mongo.db) }).startCheckout(cartId);
    const handle = client.workflow.getHandle(checkoutWorkflowId(cartId));
    await eventually('the first step running on the worker', async () => {
      const { raw } = await handle.describe();
      return raw.pendingActivities?.find(
        (a) => a.activityType?.name === 'runCheckoutStep' && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
      );
    });
    worker.kill('SIGTERM');
    terminated = true;
    expect({ ...(await exit), output: output.slice(-2000) }).toMatchObject({ code: 0, signal: null });

    // The step that ran at SIGTERM completed on its first attempt: the worker waited for it.
    const history = await handle.fetchHistory();
    const [step] = runsOf(history, 'runCheckoutStep');
    expect(step?.completed).toBeDefined();
    expect(step?.started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    await handle.terminate('test over: no worker left on this namespace');
  } finally {
    if (!terminated) worker.kill('SIGKILL');
    await setStepDelay(mongo.db, cartId, undefined);
  }
});

/**
 * A deploy with Worker Deployment Versioning on the real server (docs/DEPLOY.md): version A's worker
 * runs alone and makes itself current (the first deploy); a checkout starts there. Version B's worker
 * starts beside it, does not take over by itself, and the operator makes B current. A new checkout runs
 * on B; the old one stays pinned to A and is finished by A's worker, even when the request that ends
 * it comes from a workflow running on B (an item change cancelling it).
 *
 * A deployment name and task queue of this file's own: the rest of the suite's workers share the server.
 */
import { randomUUID } from 'node:crypto';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { CheckoutClient } from '../src/client';
import { cartItemsWorkflowId, checkoutWorkflowId } from '../src/contract';
import { describeRouting, setCurrentVersion } from '../src/deployment';
import { createCheckoutWorker, type CheckoutWorker } from '../src/worker';
import { eventually, insertForeignCart, newCartId, setupTestEnv, type TestEnv } from './harness/env';

let env: TestEnv;
const running: Promise<void>[] = [];
const workers: CheckoutWorker[] = [];
beforeAll(async () => {
  env = await setupTestEnv('versioning');
});
afterAll(async () => {
  for (const w of workers) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
  await Promise.all(running);
  for (const w of workers) await w.close();
  await env?.close();
});

const deploymentName = `b2b-checkout-test-${randomUUID().slice(0, 8)}`;
const versionA: WorkerDeploymentVersion = { deploymentName, buildId: '1.0.0' };
const versionB: WorkerDeploymentVersion = { deploymentName, buildId: '1.1.0' };

/** A running worker of `version` on this file's task queue, that makes its version current only when none is (the product's default). */
async function startWorkerOf(version: WorkerDeploymentVersion): Promise<CheckoutWorker> {
  const w = await createCheckoutWorker({
    temporal: env.temporal,
    mongoUri: env.mongoUri,
    mongoDb: env.mongoDb,
    taskQueue: env.taskQueue,
    workflowBundle: env.bundle,
    deployment: { ...version, setCurrent: 'if-none' },
  });
  workers.push(w);
  running.push(w.worker.run());
  return w;
}

type Event = temporal.api.history.v1.IHistoryEvent;

/** Every workflow task completion of a run: the version of the worker that completed it, and the run's behavior. */
async function workflowTasksOf(workflowId: string) {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e: Event) => e.workflowTaskCompletedEventAttributes)
    .filter((a): a is temporal.api.history.v1.IWorkflowTaskCompletedEventAttributes => !!a)
    .map((a) => ({ buildId: a.deploymentVersion?.buildId, deploymentName: a.deploymentVersion?.deploymentName, behavior: a.versioningBehavior }));
}

async function versioningOf(workflowId: string) {
  const { raw } = await env.client.workflow.getHandle(workflowId).describe();
  const info = raw.workflowExecutionInfo?.versioningInfo;
  return { buildId: info?.deploymentVersion?.buildId, behavior: info?.behavior };
}

const PINNED = 1; // temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED

test('a checkout stays on the version it started on; after B is made current new work runs on B and the old checkout ends on A', async () => {
  // The first deploy: A's worker finds no current version and makes its own current.
  const a = await startWorkerOf(versionA);
  expect(await a.setCurrentVersion()).toEqual({ kind: 'made-current', previous: undefined });

  const oldCart = newCartId('old');
  const newCart = newCartId('new');
  await insertForeignCart(env.carts, oldCart);
  await insertForeignCart(env.carts, newCart);
  await env.checkout.startCheckout(oldCart);
  expect(await versioningOf(checkoutWorkflowId(oldCart))).toEqual({ buildId: versionA.buildId, behavior: PINNED });

  // B's worker starts beside A's; with A current it leaves the switch to the operator.
  const b = await startWorkerOf(versionB);
  expect(await b.setCurrentVersion()).toEqual({ kind: 'left', current: versionA });
  // The operator's step (`temporal worker deployment set-current-version` does the same).
  expect(await setCurrentVersion(env.client, versionB, 'always')).toEqual({ kind: 'made-current', previous: versionA });
  expect((await describeRouting(env.client, deploymentName))?.current).toEqual(versionB);

  // A new checkout runs on B.
  await env.checkout.startCheckout(newCart);
  expect(await versioningOf(checkoutWorkflowId(newCart))).toEqual({ buildId: versionB.buildId, behavior: PINNED });

  // Adding an item to the old cart: the item change is new work (B), and it cancels the old checkout,
  // whose cancel runs on A, the version the checkout is pinned to.
  const requestId = randomUUID();
  const change = await env.checkout.addItem(oldCart, 'SKU-2', 1, { requestId });
  expect(change).toMatchObject({ status: 'Active', canceledCheckout: true });
  await env.checkout.placeOrder(newCart);
  await expect(env.checkout.checkoutResult(oldCart)).resolves.toMatchObject({ outcome: 'CANCELED' });
  await expect(env.checkout.checkoutResult(newCart)).resolves.toMatchObject({ outcome: 'ORDER_PLACED' });

  // Every workflow task of each run was completed by its own version's worker (the worker stamps its
  // version on each completion), pinned.
  const oldTasks = await workflowTasksOf(checkoutWorkflowId(oldCart));
  expect(oldTasks.length).toBeGreaterThan(2);
  expect(new Set(oldTasks.map((t) => JSON.stringify(t)))).toEqual(new Set([JSON.stringify({ buildId: versionA.buildId, deploymentName, behavior: PINNED })]));
  const newTasks = await workflowTasksOf(checkoutWorkflowId(newCart));
  expect(new Set(newTasks.map((t) => JSON.stringify(t)))).toEqual(new Set([JSON.stringify({ buildId: versionB.buildId, deploymentName, behavior: PINNED })]));
  const itemTasks = await workflowTasksOf(cartItemsWorkflowId(oldCart, requestId));
  expect(itemTasks.map((t) => t.buildId)).toEqual(itemTasks.map(() => versionB.buildId));

  // The carts: the old one Active again with the new item, the new one Closed.
  const carts = await eventually('both carts settled', async () => {
    const docs = await env.carts.find({ _id: { $in: [oldCart, newCart] } }).toArray();
    return docs.every((d) => d.status !== 'Checkout') ? docs : undefined;
  });
  expect(carts.find((d) => d._id === oldCart)).toMatchObject({ status: 'Active', items: expect.arrayContaining([expect.objectContaining({ sku: 'SKU-2' })]) });
  expect(carts.find((d) => d._id === newCart)).toMatchObject({ status: 'Closed' });
});

test('the first deploy: a checkout started before the new deployment has a current version runs once the worker makes its own current', async () => {
  // Another deployment on another task queue: a deployment with no version current yet.
  const taskQueue = `${env.taskQueue}-first`;
  const first: WorkerDeploymentVersion = { deploymentName: `${deploymentName}-first`, buildId: '1.0.0' };
  const checkout = new CheckoutClient({ client: env.client, carts: env.carts, taskQueue });
  const w = await createCheckoutWorker({
    temporal: env.temporal,
    mongoUri: env.mongoUri,
    mongoDb: env.mongoDb,
    taskQueue,
    workflowBundle: env.bundle,
    deployment: { ...first, setCurrent: 'never' },
  });
  workers.push(w);
  running.push(w.worker.run());
  expect(await w.setCurrentVersion()).toEqual({ kind: 'not-asked' });

  const cartId = newCartId('first');
  await insertForeignCart(env.carts, cartId);
  const started = checkout.startCheckout(cartId);
  // Nothing runs it yet: the run waits for a version to be current.
  await eventually('the checkout run to exist', async () => ((await checkout.runningRunId(cartId)) ? true : undefined));
  expect((await env.carts.findOne({ _id: cartId }))?.status).toBe('Active');

  expect(await setCurrentVersion(env.client, first, 'if-none')).toEqual({ kind: 'made-current', previous: undefined });
  await started;
  expect(await versioningOf(checkoutWorkflowId(cartId))).toEqual({ buildId: first.buildId, behavior: PINNED });
  await checkout.placeOrder(cartId);
  expect((await env.carts.findOne({ _id: cartId }))?.status).toBe('Closed');
});

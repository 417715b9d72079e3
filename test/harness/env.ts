/** What every integration test file needs: connections to the run's servers, a workflow bundle, workers. */
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { temporalSettings, type TemporalSettings } from '../../src/config';
import { CheckoutClient } from '../../src/client';
import { dataConverter } from '../../src/data-converter';
import { cartsCollection, type CartDoc, connectMongo, type MongoConnection } from '../../src/db';
import { bundleCheckoutWorkflows, createCheckoutWorker, installRuntime, type CheckoutWorker, type CheckoutWorkerOptions } from '../../src/worker';
import { stepDelaysFrom } from '../../stack/step-delay';
import type { Collection } from 'mongodb';

let runtimeInstalled = false;
/** The product's SDK runtime, logging errors only; once per jest worker (a second install throws). */
export function quietRuntime(coreLogLevel: 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    installRuntime({ logLevel: 'error', shutdownSignals: [], coreLogLevel });
  } catch {
    // already installed in this jest worker
  }
}

export interface TestEnv {
  temporal: TemporalSettings;
  client: Client;
  mongo: MongoConnection;
  carts: Collection<CartDoc>;
  taskQueue: string;
  checkout: CheckoutClient;
  bundle: WorkflowBundle;
  mongoUri: string;
  mongoDb: string;
  /**
   * A fresh worker on this file's task queue; stop it with worker.shutdown() or use runUntil. Without
   * the event relay unless asked (`relayEvents`): a relay moving outboxes would change the carts that
   * other files snapshot; test/events.test.ts runs its own.
   */
  newWorker(options?: Pick<CheckoutWorkerOptions, 'relayEvents'>): Promise<CheckoutWorker>;
  /** Every background step of this cart's checkouts takes `ms` (heartbeating, cancellable) on this file's workers. */
  slowSteps(cartId: string, ms: number): void;
  close(): Promise<void>;
}

export async function setupTestEnv(name: string, options: { ownDatabase?: boolean; taskQueue?: string } = {}): Promise<TestEnv> {
  quietRuntime();
  const mongoUri = process.env.MONGODB_URI;
  // A database of its own lets a file assert that a whole collection stayed unchanged.
  const mongoDb = options.ownDatabase ? `b2b_checkout_test_${name}_${randomUUID().slice(0, 8)}` : (process.env.MONGODB_DB ?? 'b2b_checkout_test');
  if (!mongoUri || !process.env.TEMPORAL_ADDRESS) throw new Error('the jest global setup did not provide the servers');
  const temporal = temporalSettings();
  const connection = await Connection.connect(temporal.connectionOptions);
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
  const mongo = await connectMongo(mongoUri, mongoDb);
  const carts = cartsCollection(mongo.db);
  // Each test file has its own task queue, so workers of files running in parallel never share work.
  // (The README walkthrough's file takes the product's queue, which no other file polls.)
  const taskQueue = options.taskQueue ?? `b2b-checkout-test-${name}-${randomUUID().slice(0, 8)}`;
  const bundle = await bundleCheckoutWorkflows();
  const workers: CheckoutWorker[] = [];
  const stepDelays = new Map<string, number>();
  return {
    temporal,
    client,
    mongo,
    carts,
    taskQueue,
    bundle,
    mongoUri,
    mongoDb,
    checkout: new CheckoutClient({ client, carts, taskQueue }),
    async newWorker(options = {}) {
      const w = await createCheckoutWorker({
        temporal,
        mongoUri,
        mongoDb,
        taskQueue,
        workflowBundle: bundle,
        beforeStep: stepDelaysFrom(stepDelays),
        relayEvents: options.relayEvents ?? false,
      });
      workers.push(w);
      return w;
    },
    slowSteps(cartId, ms) {
      stepDelays.set(cartId, ms);
    },
    async close() {
      for (const w of workers) await w.close().catch(() => undefined);
      if (options.ownDatabase) await mongo.db.dropDatabase().catch(() => undefined);
      await connection.close();
      await mongo.close();
    },
  };
}

/** A cart id no other test uses. */
export function newCartId(prefix = 'cart'): string {
  return `${prefix}-${randomUUID()}`;
}

/** Inserts a cart the way another service would: just the fields the platform's cart has. */
export async function insertForeignCart(carts: Collection<CartDoc>, cartId: string, items = [{ sku: 'SKU-1', quantity: 2 }]) {
  await carts.insertOne({ _id: cartId, status: 'Active', webstoreId: 'store-1', accountId: 'acct-1', items, version: 0 });
}

/**
 * Waits until `check` returns a value other than undefined, re-checking whenever `poll` says so.
 * Used to wait for a state that is written by another process (the cart in MongoDB), with a deadline
 * that only turns a hang into a clear failure.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** The run's failure: asserts that the workflow failed (not completed, not any other error) and returns it. */
export async function workflowFailure(handle: { result(): Promise<unknown> }): Promise<WorkflowFailedError> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

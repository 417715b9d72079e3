/**
 * 2. Lifecycle throughput: `clients` closed-loop clients, each repeating create cart → start checkout
 * (answers once the cart is locked) → cancel and wait (answers once the cart is Active), for `seconds`.
 * A client starts no new lifecycle after the window; the ones in flight finish and count.
 */
import { WithStartWorkflowOperation } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { waitQuiet } from '../carts';
import { Readings, type Ctx, type SdkWindow } from '../context';
import { cancelUpdate, lockUpdate, type benchLifecycleWorkflow } from '../floor-workflow';
import { ticker } from '../log';
import type { CpuMs, CpuShare } from '../probes';
import { ACCOUNT, STORE } from '../stack';
import { round, summarize, type Summary } from '../stats';

export interface LifecycleResult {
  clients: number;
  lifecycles: number;
  perSecond: number;
  seconds: number;
  /** One lifecycle, end to end, and its steps. */
  lifecycleMs: Summary;
  createMs: Summary;
  startMs: Summary;
  cancelMs: Summary;
  errors: number;
  firstError?: string;
  leftLocked: number;
  cpu?: CpuShare;
  /** CPU time one lifecycle costs each process (ms), from the CPU shares over the window. */
  /** CPU time per operation (ms): the bench process (worker, API, load), Temporal, its PostgreSQL (server profile), MongoDB. */
  cpuMsPerLifecycle?: CpuMs;
  sdk?: SdkWindow;
}

/**
 * `checkout`: the product's lifecycle. `floor`: its floor, the same calls on the bench workflow
 * (insert the cart through the driver; update-with-start answered after one no-op activity; an Update
 * answered after a second one), measured the same way in the same run.
 */
export type LifecycleKind = 'checkout' | 'floor';

export async function measureLifecycles(ctx: Ctx, clients: number, seconds: number, kind: LifecycleKind = 'checkout'): Promise<LifecycleResult> {
  const { stack, abort } = ctx;
  const batch = `${kind === 'floor' ? 'lifefloor' : 'life'}-${clients}`;
  const readings = new Readings(ctx, kind === 'floor' ? stack.floorTaskQueue : stack.taskQueue);
  const total: number[] = [];
  const create: number[] = [];
  const start: number[] = [];
  const cancel: number[] = [];
  const errors: string[] = [];
  const stopTicker = ticker(
    `${kind === 'floor' ? 'floor lifecycles' : 'lifecycles'}, ${clients} clients`,
    () => `${total.length} done, ${errors.length} errors`,
  );
  const stopReadings = await readings.start();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const client = async (c: number) => {
    // Bounded by the window: each iteration is one lifecycle.
    for (let i = 0; performance.now() < end && !abort.aborted; i++) {
      const cartId = `bench-${ctx.runId}-${batch}-${c}-${i}-${randomUUID().slice(0, 4)}`;
      try {
        const a = performance.now();
        let b: number;
        let c2: number;
        if (kind === 'checkout') {
          // A cart with no items cannot be checked out (INVALID_OPERATION): one item, as the other phases' carts.
          await stack.checkout.createCart({ cartId, webstoreId: STORE, accountId: ACCOUNT, items: [{ sku: 'SKU-1', quantity: 2 }] });
          b = performance.now();
          await stack.checkout.startCheckout(cartId);
          c2 = performance.now();
          const outcome = await stack.checkout.cancelCheckout(cartId, { wait: true, reason: 'BENCH' });
          if (!outcome.canceled || outcome.status !== 'Active') throw new Error(`cart ${cartId}: cancel answered ${JSON.stringify(outcome)}`);
        } else {
          await stack.carts.insertOne({ _id: cartId, status: 'Active', webstoreId: STORE, accountId: ACCOUNT, items: [], version: 0 });
          b = performance.now();
          const workflowId = `bench-lifefloor-${cartId}`;
          const startOp = new WithStartWorkflowOperation<typeof benchLifecycleWorkflow>('benchLifecycleWorkflow', {
            workflowId,
            taskQueue: stack.floorTaskQueue,
            args: [],
            workflowIdConflictPolicy: 'USE_EXISTING',
          });
          await stack.client.workflow.executeUpdateWithStart(lockUpdate, { startWorkflowOperation: startOp });
          c2 = performance.now();
          await stack.client.workflow.getHandle(workflowId).executeUpdate(cancelUpdate);
        }
        const d = performance.now();
        create.push(b - a);
        start.push(c2 - b);
        cancel.push(d - c2);
        total.push(d - a);
      } catch (err) {
        errors.push((err as Error).message);
        if (errors.length > 100) throw new Error(`${kind} lifecycles with ${clients} clients: more than 100 errors, first: ${errors[0]}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  } finally {
    stopTicker();
  }
  const elapsed = (performance.now() - t0) / 1000;
  await stopReadings();
  abort.check();
  await waitQuiet(stack.checkout, kind === 'floor' ? stack.floorTaskQueue : stack.taskQueue, abort);
  const cpu = readings.cpuShare();
  const perLifecycle = (p: number | undefined) =>
    p === undefined || total.length === 0 || !cpu ? undefined : round(((p / 100) * cpu.seconds * 1000) / total.length, 1);
  return {
    clients,
    lifecycles: total.length,
    perSecond: round(total.length / elapsed, 1),
    seconds: round(elapsed, 1),
    lifecycleMs: summarize(total),
    createMs: summarize(create),
    startMs: summarize(start),
    cancelMs: summarize(cancel),
    errors: errors.length,
    ...(errors[0] ? { firstError: errors[0] } : {}),
    leftLocked: await stack.carts.countDocuments({ _id: { $regex: `^bench-${ctx.runId}-${batch}-` }, status: 'Checkout' }),
    ...(cpu ? { cpu } : {}),
    ...(cpu && total.length
      ? {
          cpuMsPerLifecycle: {
            benchProcess: perLifecycle(cpu.benchProcessPct)!,
            ...(cpu.temporalServerPct !== undefined ? { temporalServer: perLifecycle(cpu.temporalServerPct) } : {}),
            ...(cpu.temporalDbPct !== undefined ? { temporalDb: perLifecycle(cpu.temporalDbPct) } : {}),
            ...(cpu.mongoServerPct !== undefined ? { mongoServer: perLifecycle(cpu.mongoServerPct) } : {}),
          },
        }
      : {}),
    sdk: readings.sdk(),
  };
}

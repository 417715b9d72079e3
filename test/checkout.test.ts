/** The checkout workflow on the real servers: lock, cancel, INVALID_OPERATION, add-to-cart, races, leases. */
import { Client, Connection, WorkflowFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CANCEL_ACTIVITY_TYPE, CANCEL_SIGNAL_NAME, CLOSED_CART_MESSAGE, checkoutWorkflowId, type CheckoutResult } from '../src/contract';
import { CheckoutError } from '../src/contract';
import { CheckoutClient } from '../src/client';
import { dataConverter } from '../src/data-converter';
import { cancelCheckoutSignal, getCheckoutStateQuery, placeOrderUpdate, waitForLockUpdate } from '../src/contract/messages';
import { eventually, insertForeignCart, newCartId, setupTestEnv, workflowFailure, type TestEnv } from './harness/env';
import { eventsWith, lastEvent, runsOf, signalsOf } from './harness/history';
import { recordHistory } from './harness/record';

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('checkout');
});
afterAll(async () => {
  await env?.close();
});

const cartOf = async (cartId: string) => {
  const doc = await env.carts.findOne({ _id: cartId });
  if (!doc) throw new Error(`cart ${cartId} is missing`);
  return doc;
};
const handleOf = (cartId: string) => env.client.workflow.getHandle(checkoutWorkflowId(cartId));

/** Waits until the checkout has run its background steps and holds the cart waiting for the order. */
async function waitReady(cartId: string): Promise<void> {
  await eventually(`checkout of ${cartId} to be READY`, async () => {
    const view = await handleOf(cartId).query(getCheckoutStateQuery);
    return view.phase === 'READY' ? true : undefined;
  });
}

async function expectCheckoutError(promise: Promise<unknown>, code: string): Promise<CheckoutError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckoutError);
  expect((err as CheckoutError).errorCode).toBe(code);
  return err as CheckoutError;
}

test('start locks the cart; cancelCheckout unlocks it, archives the session and cancels the operation', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const started = await env.checkout.startCheckout(cartId, { requestedBy: 'svc-storefront' });
    expect(started).toMatchObject({ checkoutId: `checkout-${cartId}`, cartId, started: true });

    const locked = await cartOf(cartId);
    expect(locked.status).toBe('Checkout');
    expect(locked.checkout).toMatchObject({
      sessionId: started.runId,
      isArchived: false,
      backgroundOperation: { status: 'Running' },
      requestedBy: 'svc-storefront',
    });

    const handle = handleOf(cartId);
    await handle.signal(cancelCheckoutSignal, { reason: 'REQUESTED', requestedBy: 'svc-support' });
    const result: CheckoutResult = await handle.result();
    expect(result).toMatchObject({ cartId, outcome: 'CANCELED', cancel: { reason: 'REQUESTED', requestedBy: 'svc-support' } });

    const unlocked = await cartOf(cartId);
    expect(unlocked.status).toBe('Active');
    expect(unlocked.checkout ?? undefined).toBeUndefined();
    expect(unlocked.archivedSessions).toHaveLength(1);
    expect(unlocked.archivedSessions![0]).toMatchObject({
      sessionId: started.runId,
      isArchived: true,
      isProcessing: false,
      backgroundOperation: { status: 'Canceled' },
      cancelReason: 'REQUESTED',
      canceledBy: 'svc-support',
    });
    expect((await handle.describe()).status.name).toBe('COMPLETED');

    const history = await handle.fetchHistory();
    const cancels = runsOf(history, CANCEL_ACTIVITY_TYPE);
    expect(cancels).toHaveLength(1);
    expect(cancels[0].completed).toBeDefined();
    expect(cancels[0].input).toEqual([{ cartId, sessionId: started.runId, reason: 'REQUESTED', requestedBy: 'svc-support' }]);
    await recordHistory('checkout-canceled', handle);
  });
});

test('a cart closed under a running checkout: the cancel fails with INVALID_OPERATION once, the workflow fails with it, the cart stays Closed', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
    // Another service creates the order behind the back of the checkout waiting for it.
    await env.carts.updateOne({ _id: cartId }, { $set: { status: 'Closed', orderId: 'order-elsewhere' }, $inc: { version: 1 } });

    const handle = handleOf(cartId);
    await handle.signal(cancelCheckoutSignal, { reason: 'REQUESTED' });
    const err = await workflowFailure(handle);
    const cause = err.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('INVALID_OPERATION');
    expect((cause as ApplicationFailure).message).toBe(CLOSED_CART_MESSAGE);
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect((cause as ApplicationFailure).details?.[0]).toMatchObject({ errorCode: 'INVALID_OPERATION', httpStatus: 403, cartId });

    const history = await handle.fetchHistory();
    const cancels = runsOf(history, CANCEL_ACTIVITY_TYPE);
    expect(cancels).toHaveLength(1);
    const failure = cancels[0].failed?.activityTaskFailedEventAttributes?.failure;
    expect(failure?.applicationFailureInfo?.type).toBe('INVALID_OPERATION');
    expect(failure?.applicationFailureInfo?.nonRetryable).toBe(true);
    expect(failure?.message).toBe(CLOSED_CART_MESSAGE);
    // Attempt 1 and no retry: the failure is final.
    expect(cancels[0].started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    const failed = lastEvent(history)?.workflowExecutionFailedEventAttributes;
    expect(failed?.failure?.applicationFailureInfo?.type).toBe('INVALID_OPERATION');
    expect(failed?.failure?.message).toBe(CLOSED_CART_MESSAGE);

    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Closed');
    expect(cart.orderId).toBe('order-elsewhere');
    await recordHistory('checkout-invalid-operation', handle);
  });
});

test('the cancel signal sent by name with plain JSON, as a service in another language sends it', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    // 1. Raw gRPC with a json/plain payload: exactly what any SDK puts on the wire.
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await env.checkout.startCheckout(cartId);
    await env.client.workflowService.signalWorkflowExecution({
      namespace: env.temporal.namespace,
      workflowExecution: { workflowId: `checkout-${cartId}` },
      signalName: 'cancelCheckout',
      input: {
        payloads: [
          {
            metadata: { encoding: Buffer.from('json/plain') },
            data: Buffer.from(JSON.stringify({ reason: 'BUYER_LEFT', requestedBy: 'billing-service (Go)' })),
          },
        ],
      },
      identity: 'billing-service',
    });
    expect(await handleOf(cartId).result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'BUYER_LEFT' } });
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.archivedSessions![0]).toMatchObject({ cancelReason: 'BUYER_LEFT', canceledBy: 'billing-service (Go)' });

    // 2. The temporal CLI (a Go program), where this run has one.
    const cli = process.env.TEMPORAL_CLI_PATH ?? path.join(__dirname, '..', '.tools', 'bin', 'temporal');
    if (!existsSync(cli)) return;
    const cartId2 = newCartId();
    await insertForeignCart(env.carts, cartId2);
    await env.checkout.startCheckout(cartId2);
    const r = spawnSync(
      cli,
      [
        'workflow',
        'signal',
        '--address',
        env.temporal.connectionOptions.address,
        '--namespace',
        env.temporal.namespace,
        '--workflow-id',
        `checkout-${cartId2}`,
        '--name',
        CANCEL_SIGNAL_NAME,
        '--input',
        '{"reason":"ADMIN","requestedBy":"ops-cli"}',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(await handleOf(cartId2).result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADMIN', requestedBy: 'ops-cli' } });
    expect((await cartOf(cartId2)).status).toBe('Active');
  });
});

test('add to cart during checkout cancels it (ADD_TO_CART) and lands the item; on a Closed cart it is INVALID_OPERATION', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId, [{ sku: 'SKU-1', quantity: 2 }]);
    const started = await env.checkout.startCheckout(cartId);

    const changed = await env.checkout.addItem(cartId, 'SKU-NEW', 3, { requestedBy: 'buyer-7' });
    expect(changed).toMatchObject({ cartId, status: 'Active', canceledCheckout: true });
    expect(changed.items).toEqual([
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-NEW', quantity: 3 },
    ]);
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.items).toEqual(changed.items);
    expect(cart.archivedSessions![0]).toMatchObject({ sessionId: started.runId, cancelReason: 'ADD_TO_CART', canceledBy: 'buyer-7' });
    const handle = env.client.workflow.getHandle(checkoutWorkflowId(cartId), started.runId);
    expect(await handle.result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADD_TO_CART' } });
    expect(signalsOf(await handle.fetchHistory(), CANCEL_SIGNAL_NAME)).toEqual([[{ reason: 'ADD_TO_CART', requestedBy: 'buyer-7' }]]);
    await recordHistory('checkout-add-to-cart', handle);

    // Check out again and place the order: the cart is Closed, and changes are refused.
    await env.checkout.startCheckout(cartId);
    const { orderId } = await env.checkout.placeOrder(cartId);
    expect(orderId).toMatch(/^order-/);
    await recordHistory('checkout-order-placed', handleOf(cartId));
    const before = await cartOf(cartId);
    expect(before.status).toBe('Closed');
    await expectCheckoutError(env.checkout.addItem(cartId, 'SKU-LATE', 1), 'INVALID_OPERATION');
    const after = await cartOf(cartId);
    expect(after.items).toEqual(before.items);
    expect(after.version).toBe(before.version);
  });
});

test('five duplicate cancel signals run the cancel once: one write, version grows by one', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const first = await env.newWorker();
  await first.worker.runUntil(async () => {
    await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
  });
  const versionBefore = (await cartOf(cartId)).version!;
  // No worker runs now, so all five signals are in the history before the workflow sees any of them.
  const handle = handleOf(cartId);
  for (let i = 0; i < 5; i++) await handle.signal(cancelCheckoutSignal, { reason: 'REQUESTED', requestedBy: `dup-${i}` });
  const second = await env.newWorker();
  await second.worker.runUntil(async () => {
    expect(await handle.result()).toMatchObject({ outcome: 'CANCELED', cancel: { requestedBy: 'dup-0' } });
  });
  const cart = await cartOf(cartId);
  expect(cart.status).toBe('Active');
  expect(cart.version).toBe(versionBefore + 1);
  const history = await handle.fetchHistory();
  expect(signalsOf(history, CANCEL_SIGNAL_NAME)).toHaveLength(5);
  expect(runsOf(history, CANCEL_ACTIVITY_TYPE)).toHaveLength(1);
});

test('place order and cancel sent together, 50 times: Closed with INVALID_OPERATION for the cancel, or Active and cancelled; never reopened', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const outcomes = { closed: 0, canceled: 0 };
    const race = async () => {
      const cartId = newCartId('race');
      await insertForeignCart(env.carts, cartId);
      await env.checkout.startCheckout(cartId);
      const [order, cancel] = await Promise.allSettled([env.checkout.placeOrder(cartId), env.checkout.cancelCheckout(cartId, { reason: 'RACE' })]);
      const cart = await cartOf(cartId);
      if (cart.status === 'Closed') {
        outcomes.closed++;
        expect(order.status).toBe('fulfilled');
        expect(cart.orderId).toBe(order.status === 'fulfilled' ? order.value.orderId : undefined);
        expect(cancel.status).toBe('rejected');
        expect((cancel as PromiseRejectedResult).reason).toMatchObject({ errorCode: 'INVALID_OPERATION' });
        // A later cancel is refused too, and the cart stays Closed.
        await expectCheckoutError(env.checkout.cancelCheckout(cartId), 'INVALID_OPERATION');
        expect((await cartOf(cartId)).status).toBe('Closed');
      } else {
        outcomes.canceled++;
        expect(cart.status).toBe('Active');
        expect(cancel.status).toBe('fulfilled');
        expect(order.status).toBe('rejected');
        expect((order as PromiseRejectedResult).reason).toMatchObject({ errorCode: 'INVALID_OPERATION' });
        expect(cart.orderId).toBeUndefined();
        expect(cart.archivedSessions![0]).toMatchObject({ cancelReason: 'RACE', backgroundOperation: { status: 'Canceled' } });
      }
    };
    for (let batch = 0; batch < 5; batch++) await Promise.all(Array.from({ length: 10 }, race));
    expect(outcomes.closed + outcomes.canceled).toBe(50);
  });
});

test('ten concurrent starts on one cart: one workflow, one session', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const starts = await Promise.all(Array.from({ length: 10 }, () => env.checkout.startCheckout(cartId)));
    const runIds = new Set(starts.map((s) => s.runId));
    expect(runIds.size).toBe(1);
    expect(starts.filter((s) => s.started)).toHaveLength(1);
    const cart = await cartOf(cartId);
    expect(cart.checkout?.sessionId).toBe(starts[0].runId);
    expect(cart.archivedSessions ?? []).toHaveLength(0);
    const runs = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = 'checkout-${cartId}'` })) runs.push(wf.runId);
    expect(runs).toEqual([starts[0].runId]);
    await env.checkout.cancelCheckout(cartId);
  });
});

test('the lease runs out: EXPIRED, cart Active', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await env.checkout.startCheckout(cartId, { leaseMs: 1000 });
    const handle = handleOf(cartId);
    expect(await handle.result()).toMatchObject({ outcome: 'EXPIRED', cancel: { reason: 'EXPIRED' } });
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.archivedSessions![0]).toMatchObject({ cancelReason: 'EXPIRED', backgroundOperation: { status: 'Canceled' } });
    await recordHistory('checkout-expired', handle);
  });
});

test('a cancel while a step runs interrupts the step and still cancels cleanly', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    env.slowSteps(cartId, 120000);
    await env.checkout.startCheckout(cartId);
    await eventually('the first step to be processing', async () => ((await cartOf(cartId)).checkout?.isProcessing ? true : undefined));
    const outcome = await env.checkout.cancelCheckout(cartId, { reason: 'REQUESTED' });
    expect(outcome).toMatchObject({ cartId, canceled: true, status: 'Active' });
    const history = await handleOf(cartId).fetchHistory();
    const steps = runsOf(history, 'runCheckoutStep');
    expect(steps).toHaveLength(1);
    expect(steps[0].cancelRequested).toBe(true);
    expect(steps[0].completed).toBeUndefined();
    expect((await cartOf(cartId)).status).toBe('Active');
  });
});

test('the worker stops after the lock and a new worker starts: the cancel still completes', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const first = await env.newWorker();
  await first.worker.runUntil(() => env.checkout.startCheckout(cartId));
  expect((await cartOf(cartId)).status).toBe('Checkout');

  const accepted = await env.checkout.cancelCheckout(cartId, { wait: false, reason: 'REQUESTED' });
  expect(accepted).toMatchObject({ accepted: true });
  // No worker is running: the cancel is durable in the history, the cart still locked.
  expect((await cartOf(cartId)).status).toBe('Checkout');

  const second = await env.newWorker();
  await second.worker.runUntil(async () => {
    expect(await handleOf(cartId).result()).toMatchObject({ outcome: 'CANCELED' });
  });
  expect((await cartOf(cartId)).status).toBe('Active');
});

test('a cart deleted under a running checkout: the step fails for good, the checkout ends Failed with NOT_FOUND instead of hanging', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    env.slowSteps(cartId, 200);
    await env.checkout.startCheckout(cartId);
    await env.carts.deleteOne({ _id: cartId });
    const err = await workflowFailure(handleOf(cartId));
    expect((err.cause as ApplicationFailure).type).toBe('NOT_FOUND');
    const history = await handleOf(cartId).fetchHistory();
    expect(runsOf(history, CANCEL_ACTIVITY_TYPE)[0]?.input).toEqual([expect.objectContaining({ reason: 'STEP_FAILED' })]);
  });
});

/** The failure a run ended with, from its result. */
async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
}

test('an order placed while the steps run waits for every step; a cancel after it interrupts nothing and is refused', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    env.slowSteps(cartId, 600);
    await env.checkout.startCheckout(cartId);
    const handle = handleOf(cartId);
    expect((await handle.query(getCheckoutStateQuery)).phase).toBe('PROCESSING');
    // The order is accepted first (it wins), then a cancel arrives while the steps still run.
    const order = await handle.startUpdate(placeOrderUpdate, { args: [{}], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await expectCheckoutError(env.checkout.cancelCheckout(cartId, { reason: 'TOO_LATE' }), 'INVALID_OPERATION');
    const { orderId } = await order.result();

    const cart = await cartOf(cartId);
    expect(cart).toMatchObject({ status: 'Closed', orderId });
    // Taxes and Checkout Summary ran: the order carries its tax and total.
    expect(cart.archivedSessions![0].totals).toMatchObject({ tax: expect.any(Number), total: expect.any(Number) });
    const steps = runsOf(await handle.fetchHistory(), 'runCheckoutStep');
    expect(steps.map((s) => s.completed !== undefined && !s.cancelRequested)).toEqual([true, true, true, true, true]);
    expect(await handle.result()).toMatchObject({ outcome: 'ORDER_PLACED', orderId, refusedCancels: 1 });
    await recordHistory('checkout-order-first-cancel-refused', handle);
  });
});

test('a step that finds its lock gone ends the run at once with LOCK_LOST instead of waiting out the lease', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    env.slowSteps(cartId, 600);
    const started = await env.checkout.startCheckout(cartId, { leaseMs: 60_000 });
    await eventually('the first step to be processing', async () => ((await cartOf(cartId)).checkout?.isProcessing ? true : undefined));
    // Someone else unlocks the cart behind the checkout's back (an operator, another service).
    await env.carts.updateOne({ _id: cartId }, { $set: { status: 'Active' }, $unset: { checkout: '' }, $inc: { version: 1 } });

    const handle = env.client.workflow.getHandle(checkoutWorkflowId(cartId), started.runId);
    const failure = await failureOf(handle.result());
    expect(failure.type).toBe('LOCK_LOST');
    expect(failure.details?.[0]).toMatchObject({ errorCode: 'CHECKOUT_CONFLICT', cartId, reason: 'LOCK_LOST' });
    await expectCheckoutError(env.checkout.checkoutResult(cartId, started.runId), 'CHECKOUT_CONFLICT');
    const history = await handle.fetchHistory();
    expect(lastEvent(history)?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.type).toBe('LOCK_LOST');
    // It never waited for the order: no lease timer, no cancel of a cart it does not hold.
    expect(eventsWith(history, 'timerStartedEventAttributes')).toHaveLength(0);
    expect(runsOf(history, CANCEL_ACTIVITY_TYPE)).toHaveLength(0);
    expect((await cartOf(cartId)).status).toBe('Active');
    await recordHistory('checkout-lock-lost', handle);
  });
});

test('a cancel releases a stale lock whose run was terminated (fenced by its session), and says so', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const started = await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
    await handleOf(cartId).terminate('operator cleanup');
    expect((await cartOf(cartId)).status).toBe('Checkout');

    const answer = await env.checkout.cancelCheckout(cartId, { reason: 'STUCK', requestedBy: 'ops' });
    expect(answer).toMatchObject({ cartId, canceled: true, staleLock: true, status: 'Active' });
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.checkout ?? undefined).toBeUndefined();
    expect(cart.archivedSessions).toHaveLength(1);
    expect(cart.archivedSessions![0]).toMatchObject({
      sessionId: started.runId,
      isArchived: true,
      backgroundOperation: { status: 'Canceled' },
      cancelReason: 'STUCK',
      canceledBy: 'ops',
    });
    // Once released there is nothing left to cancel; a new checkout takes the cart normally.
    expect(await env.checkout.cancelCheckout(cartId)).toMatchObject({ canceled: false, status: 'Active' });
    expect((await env.checkout.startCheckout(cartId)).started).toBe(true);
    expect((await cartOf(cartId)).status).toBe('Checkout');
    await env.checkout.cancelCheckout(cartId);
  });
});

test('a start while a cancel is in flight gets a new checkout that holds the cart, not the ending one', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const first = await env.newWorker();
  const before = await first.worker.runUntil(async () => {
    const s = await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
    return s;
  });
  // No worker runs: the cancel is in the history, not yet carried out, when the buyer clicks Checkout.
  await env.checkout.cancelCheckout(cartId, { wait: false, reason: 'ADD_TO_CART' });
  const second = await env.newWorker();
  await second.worker.runUntil(async () => {
    const after = await env.checkout.startCheckout(cartId);
    expect(after.started).toBe(true);
    expect(after.runId).not.toBe(before.runId);
    const old = env.client.workflow.getHandle(checkoutWorkflowId(cartId), before.runId);
    expect(await old.result()).toMatchObject({ outcome: 'CANCELED' });
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Checkout');
    expect(cart.checkout?.sessionId).toBe(after.runId);
    expect((await handleOf(cartId).describe()).status.name).toBe('RUNNING');
    await env.checkout.cancelCheckout(cartId);
  });
});

test('a cancelCheckout signal that cannot be decoded is rejected and listed; the checkout goes on and a later cancel works', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
    const send = (encoding: string, data: Buffer) =>
      env.client.workflowService.signalWorkflowExecution({
        namespace: env.temporal.namespace,
        workflowExecution: { workflowId: checkoutWorkflowId(cartId) },
        signalName: CANCEL_SIGNAL_NAME,
        input: { payloads: [{ metadata: { encoding: Buffer.from(encoding) }, data }] },
        identity: 'legacy-service',
      });
    await send('binary/protobuf', Buffer.from([0x0a, 0x03, 0x66, 0x6f, 0x6f]));
    await send('json/plain', Buffer.from('{"reason": "BROKEN'));

    const view = await eventually('both signals to be rejected', async () => {
      const v = await handleOf(cartId).query(getCheckoutStateQuery);
      return (v.rejectedSignals?.length ?? 0) >= 2 ? v : undefined;
    });
    expect(view.phase).toBe('READY');
    expect(view.cancelRequested).toBeUndefined();
    expect(view.rejectedSignals).toEqual([
      expect.objectContaining({ signal: CANCEL_SIGNAL_NAME, encoding: 'binary/protobuf' }),
      expect.objectContaining({ signal: CANCEL_SIGNAL_NAME, encoding: 'json/plain' }),
    ]);
    expect((await cartOf(cartId)).status).toBe('Checkout');

    expect(await env.checkout.cancelCheckout(cartId, { reason: 'REQUESTED' })).toMatchObject({ canceled: true, status: 'Active' });
    const history = await handleOf(cartId).fetchHistory();
    expect(eventsWith(history, 'workflowTaskFailedEventAttributes')).toHaveLength(0);
    expect(runsOf(history, CANCEL_ACTIVITY_TYPE)).toHaveLength(1);
    await recordHistory('checkout-rejected-signals', handleOf(cartId));
  });
});

test('repeated starts of a held cart answer from the running checkout without an Update each', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const first = await env.checkout.startCheckout(cartId);
    await waitReady(cartId);
    for (let i = 0; i < 5; i++) {
      expect(await env.checkout.startCheckout(cartId)).toMatchObject({ runId: first.runId, started: false, view: { phase: 'READY' } });
    }
    const history = await handleOf(cartId).fetchHistory();
    expect(eventsWith(history, 'workflowExecutionUpdateAcceptedEventAttributes')).toHaveLength(1);
    await env.checkout.cancelCheckout(cartId);
  });
});

test("Temporal's in-flight Update limit surfaces as RATE_LIMITED, not a raw gRPC error", async () => {
  // Without the SDK's gRPC retry interceptor (it retries RESOURCE_EXHAUSTED for about a minute and a
  // half before giving up with the same error), so the refusal is seen at once.
  const connection = await Connection.connect({ ...env.temporal.connectionOptions, interceptors: [] });
  const client = new Client({ connection, namespace: env.temporal.namespace, dataConverter });
  // A task queue no worker polls: the run never takes its first task, so its Updates stay in flight.
  const taskQueue = `${env.taskQueue}-unpolled`;
  const checkout = new CheckoutClient({ client, carts: env.carts, taskQueue });
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const handle = await client.workflow.start('checkoutWorkflow', { workflowId: checkoutWorkflowId(cartId), taskQueue, args: [{ cartId }] });
  let refused = 0;
  const pending = Array.from({ length: 12 }, () =>
    handle.startUpdate(waitForLockUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED }).then(
      () => undefined,
      () => {
        refused++;
      },
    ),
  );
  try {
    await eventually('the server to refuse Updates over its in-flight limit', async () => (refused >= 2 ? true : undefined));
    const err = await expectCheckoutError(checkout.startCheckout(cartId), 'RATE_LIMITED');
    expect(err.message).toMatch(/retry/);
  } finally {
    await handle.terminate();
    await Promise.all(pending);
    await connection.close();
  }
});

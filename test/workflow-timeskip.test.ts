/**
 * The checkout workflow's own logic, against stub activities in Temporal's time-skipping test server:
 * the lease running out, which of order and cancel wins in every phase, a step failing for good, a
 * lost lock, duplicate, malformed and undecodable signals. Hours of lease pass in an instant.
 * Outcomes asserted: the workflow's result or failure, its history, and which activities the
 * workflow called with which inputs (recorded by the stubs).
 */
import { WorkflowFailedError, WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  BACKGROUND_STEPS,
  CANCEL_SIGNAL_NAME,
  checkoutWorkflowId,
  type CancelInput,
  type CheckoutInput,
  type CheckoutResult,
  type StepInput,
} from '../src/contract';
import { cancelCheckoutSignal, getCheckoutStateQuery, placeOrderUpdate } from '../src/contract/messages';
import { eventually, newCartId } from './harness/env';
import { eventsWith, runsOf, signalsOf } from './harness/history';
import { businessError, Gate, setupTimeSkipping, StubActivities, type TimeSkippingEnv } from './harness/timeskip';

let ts: TimeSkippingEnv;
beforeAll(async () => {
  ts = await setupTimeSkipping();
});
afterAll(async () => {
  await ts?.close();
});

type CheckoutHandle = WorkflowHandle<(input: CheckoutInput) => Promise<CheckoutResult>>;

function startCheckout(taskQueue: string, input: CheckoutInput): Promise<CheckoutHandle> {
  return ts.env.client.workflow.start<(input: CheckoutInput) => Promise<CheckoutResult>>('checkoutWorkflow', {
    taskQueue,
    workflowId: checkoutWorkflowId(input.cartId),
    args: [input],
  });
}

/** The ApplicationFailure behind the error `settled` rejected with, which must be a `kind`. */
async function failureBehind(settled: Promise<unknown>, kind: typeof WorkflowFailedError | typeof WorkflowUpdateFailedError): Promise<ApplicationFailure> {
  const err: unknown = await settled.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(kind);
  const cause = (err as Error).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** The ApplicationFailure a run failed with. */
function failureOf(handle: CheckoutHandle): Promise<ApplicationFailure> {
  return failureBehind(handle.result(), WorkflowFailedError);
}

/** The ApplicationFailure an update was rejected or failed with. */
function updateFailureOf(update: Promise<unknown>): Promise<ApplicationFailure> {
  return failureBehind(update, WorkflowUpdateFailedError);
}

/** An order that arrives while a stub holds the checkout in its step, then the step goes on: the order's refusal. */
async function orderWhileHeld(handle: CheckoutHandle, gate: Gate): Promise<ApplicationFailure> {
  await gate.reached;
  const order = await handle.startUpdate(placeOrderUpdate, { args: [{}], waitForStage: WorkflowUpdateStage.ACCEPTED });
  gate.open();
  return await updateFailureOf(order.result());
}

function waitForPhase(handle: CheckoutHandle, phase: string): Promise<true> {
  return eventually(`phase ${phase}`, async () => ((await handle.query(getCheckoutStateQuery)).phase === phase ? true : undefined));
}

const stepsOf = (stubs: StubActivities) => stubs.inputsOf<StepInput>('runCheckoutStep').map((s) => s.step);

/**
 * Skips the server's clock by `ms` (env.sleep: instant in the time-skipping server). The lease is
 * run out this way, not by the implicit skipping of handle.result(): explicit, and the same in every test.
 */
const skip = (ms: number) => ts.env.sleep(ms);
const MINUTE = 60 * 1000;

describe('the lease', () => {
  test('runs out after 30 minutes without an order: the cart is released with reason EXPIRED', async () => {
    const stubs = new StubActivities();
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await waitForPhase(handle, 'READY');
      await skip(29 * MINUTE);
      // One minute short of the lease: still holding the cart, nothing released.
      expect((await handle.query(getCheckoutStateQuery)).phase).toBe('READY');
      expect(stubs.callsOf('cancelCartAsyncOperation')).toHaveLength(0);
      await skip(1 * MINUTE);
      const result = await handle.result();
      expect(result).toMatchObject({ cartId, outcome: 'EXPIRED', cancel: { reason: 'EXPIRED', requestedBy: 'lease' } });

      const history = await handle.fetchHistory();
      const timers = eventsWith(history, 'timerStartedEventAttributes');
      expect(timers.map((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds))).toEqual([30 * 60]);
      expect(eventsWith(history, 'timerFiredEventAttributes')).toHaveLength(1);
    });
    expect(stepsOf(stubs)).toEqual([...BACKGROUND_STEPS]);
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([expect.objectContaining({ cartId, reason: 'EXPIRED', requestedBy: 'lease' })]);
    expect(stubs.callsOf('placeOrder')).toHaveLength(0);
  });

  test('of 48 hours (leaseMs) is waited out in full, in skipped time', async () => {
    const stubs = new StubActivities();
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId, leaseMs: 48 * 60 * MINUTE });
      await waitForPhase(handle, 'READY');
      await skip(47 * 60 * MINUTE);
      expect((await handle.query(getCheckoutStateQuery)).phase).toBe('READY');
      await skip(60 * MINUTE);
      expect(await handle.result()).toMatchObject({ outcome: 'EXPIRED' });
      const history = await handle.fetchHistory();
      const started = eventsWith(history, 'timerStartedEventAttributes')[0];
      const fired = eventsWith(history, 'timerFiredEventAttributes')[0];
      expect(Number(started.timerStartedEventAttributes?.startToFireTimeout?.seconds)).toBe(48 * 3600);
      // The timer fired 48 hours after it started, by the server's (skipped) clock.
      const elapsedS = Number(fired.eventTime?.seconds) - Number(started.eventTime?.seconds);
      expect(elapsedS).toBeGreaterThanOrEqual(48 * 3600);
    });
  });

  test('does not fire once an order is placed before it runs out', async () => {
    const stubs = new StubActivities();
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await waitForPhase(handle, 'READY');
      const placed = await handle.executeUpdate(placeOrderUpdate, { args: [{ requestedBy: 'buyer-1' }] });
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'ORDER_PLACED', orderId: placed.orderId });
      expect(eventsWith(await handle.fetchHistory(), 'timerFiredEventAttributes')).toHaveLength(0);
    });
    expect(stubs.callsOf('cancelCartAsyncOperation')).toHaveLength(0);
    expect(stubs.callsOf('placeOrder')).toHaveLength(1);
  });
});

/**
 * Where the checkout is when the requests arrive: taking the lock, running a step, or holding the
 * lock. A gate holds the named activity until both requests are in.
 */
const PHASES = ['LOCKING', 'PROCESSING', 'READY'] as const;
type Phase = (typeof PHASES)[number];

function gatedStubs(phase: Phase, gate: Gate): StubActivities {
  const at = (wanted: boolean) => async () => {
    if (wanted) await gate.pass();
    return undefined;
  };
  return new StubActivities({
    lockCartForCheckout: at(phase === 'LOCKING'),
    runCheckoutStep: async (input) => at(phase === 'PROCESSING' && input.step === 'Confirm Price')(),
    // READY: the requests arrive while the lock is held; the order, if it wins, waits at its activity.
    placeOrder: at(phase === 'READY'),
    // A cancel that wins waits too, so the run is still open when the refused order arrives.
    cancelCartAsyncOperation: at(phase !== 'LOCKING'),
  });
}

/** Waits until the checkout is in `phase` (held there by the gated stubs, or READY). */
async function reachPhase(handle: CheckoutHandle, phase: (typeof PHASES)[number], gate: Gate): Promise<void> {
  if (phase === 'READY') await waitForPhase(handle, 'READY');
  else await gate.reached;
}

/** The buyer's cancel signal, once the checkout has seen it. */
async function cancelSeen(handle: CheckoutHandle): Promise<void> {
  await handle.signal(cancelCheckoutSignal, { reason: 'BUYER_LEFT', requestedBy: 'buyer-1' });
  await eventually('the cancel to be seen', async () => ((await handle.query(getCheckoutStateQuery)).cancelRequested ? true : undefined));
}

describe.each(PHASES)('order versus cancel while %s', (phase) => {
  test('a cancel that comes first wins: the order is refused, the cart released', async () => {
    const gate = new Gate();
    const stubs = gatedStubs(phase, gate);
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await reachPhase(handle, phase, gate);
      await cancelSeen(handle);
      const refused = await updateFailureOf(handle.executeUpdate(placeOrderUpdate, { args: [{}] }));
      expect(refused.type).toBe('INVALID_OPERATION');
      gate.open();

      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'BUYER_LEFT', requestedBy: 'buyer-1' } });
      const history = await handle.fetchHistory();
      const interrupted = runsOf(history, 'runCheckoutStep').filter((r) => r.cancelRequested);
      expect(interrupted.map((r) => (r.input[0] as StepInput).step)).toEqual(phase === 'PROCESSING' ? ['Confirm Price'] : []);
    });
    expect(stubs.callsOf('placeOrder')).toHaveLength(0);
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([
      expect.objectContaining({ cartId, reason: 'BUYER_LEFT', requestedBy: 'buyer-1' }),
    ]);
    // The steps stop where the cancel found them.
    const expectedSteps = { LOCKING: [], PROCESSING: ['Inventory', 'Confirm Price'], READY: [...BACKGROUND_STEPS] }[phase];
    expect(stepsOf(stubs)).toEqual(expectedSteps);
  });

  test('an order that comes first wins: every step completes, the order is placed, the later cancel is refused', async () => {
    const gate = new Gate();
    const stubs = gatedStubs(phase, gate);
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await reachPhase(handle, phase, gate);
      const order = await handle.startUpdate(placeOrderUpdate, { args: [{}], waitForStage: WorkflowUpdateStage.ACCEPTED });
      if (phase === 'READY') await gate.reached;
      await cancelSeen(handle);
      gate.open();

      const placed = await order.result();
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'ORDER_PLACED', orderId: placed.orderId, refusedCancels: 1 });
      const history = await handle.fetchHistory();
      expect(runsOf(history, 'runCheckoutStep').filter((r) => r.cancelRequested)).toHaveLength(0);
      const cancels = runsOf(history, 'cancelCartAsyncOperation');
      expect(cancels).toHaveLength(1);
      expect(cancels[0].failed?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type).toBe('INVALID_OPERATION');
    });
    expect(stepsOf(stubs)).toEqual([...BACKGROUND_STEPS]);
    expect(stubs.cancelledSteps).toEqual([]);
    expect(stubs.callsOf('placeOrder')).toHaveLength(1);
    // The cancel ran after the order, and was refused by the closed cart (once: it is not retried).
    expect(stubs.calls.map((c) => c.activity).slice(-2)).toEqual(['placeOrder', 'cancelCartAsyncOperation']);
  });
});

describe('a step that fails', () => {
  test('for good releases the cart (STEP_FAILED), skips the later steps and fails the run with its error', async () => {
    const stubs = new StubActivities({
      runCheckoutStep: async (input) => {
        if (input.step === 'Taxes') throw businessError('INVALID_OPERATION', 'The cart has no taxable items.', input.cartId);
        return { step: input.step, held: true };
      },
    });
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      const failure = await failureOf(handle);
      expect(failure.type).toBe('INVALID_OPERATION');
      expect(failure.message).toBe('The cart has no taxable items.');
      expect(failure.nonRetryable).toBe(true);
    });
    expect(stepsOf(stubs)).toEqual(['Inventory', 'Confirm Price', 'Shipping Cost', 'Taxes']);
    expect(stubs.callsOf('runCheckoutStep').filter((c) => (c.input as StepInput).step === 'Taxes')).toHaveLength(1);
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([
      expect.objectContaining({ cartId, reason: 'STEP_FAILED', requestedBy: 'checkout' }),
    ]);
    expect(stubs.callsOf('placeOrder')).toHaveLength(0);
  });

  test('for good refuses an order that was waiting on the steps', async () => {
    const gate = new Gate();
    const stubs = new StubActivities({
      runCheckoutStep: async (input) => {
        if (input.step === 'Shipping Cost') {
          await gate.pass();
          throw businessError('NOT_FOUND', 'No shipping method for this address.', input.cartId);
        }
        return { step: input.step, held: true };
      },
    });
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      const refused = await orderWhileHeld(handle, gate);
      expect(refused.type).toBe('INVALID_OPERATION');
      expect((await failureOf(handle)).type).toBe('NOT_FOUND');
    });
    expect(stubs.callsOf('placeOrder')).toHaveLength(0);
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([expect.objectContaining({ reason: 'STEP_FAILED' })]);
  });

  test('for a while (transient errors) is retried until it succeeds, and the checkout goes on', async () => {
    const stubs = new StubActivities({
      runCheckoutStep: async (input, attempt) => {
        if (input.step === 'Inventory' && attempt < 3) throw new Error('inventory service unreachable');
        return { step: input.step, held: true };
      },
    });
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await waitForPhase(handle, 'READY');
      await skip(30 * MINUTE);
      expect(await handle.result()).toMatchObject({ outcome: 'EXPIRED' });
    });
    const inventory = stubs.callsOf('runCheckoutStep').filter((c) => (c.input as StepInput).step === 'Inventory');
    expect(inventory.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(stepsOf(stubs).slice(2)).toEqual([...BACKGROUND_STEPS]);
  });
});

describe('a lost lock', () => {
  test('ends the run at once with LOCK_LOST, runs no cancel, and refuses the waiting order', async () => {
    const gate = new Gate();
    const stubs = new StubActivities({
      runCheckoutStep: async (input) => {
        if (input.step !== 'Confirm Price') return { step: input.step, held: true };
        await gate.pass();
        return { step: input.step, held: false };
      },
    });
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      expect((await orderWhileHeld(handle, gate)).type).toBe('INVALID_OPERATION');
      const failure = await failureOf(handle);
      expect(failure.type).toBe('LOCK_LOST');
      expect(failure.details?.[0]).toMatchObject({ errorCode: 'CHECKOUT_CONFLICT', cartId });
      // Ended before the lease: no timer was started.
      expect(eventsWith(await handle.fetchHistory(), 'timerStartedEventAttributes')).toHaveLength(0);
    });
    expect(stepsOf(stubs)).toEqual(['Inventory', 'Confirm Price']);
    expect(stubs.callsOf('cancelCartAsyncOperation')).toHaveLength(0);
    expect(stubs.callsOf('placeOrder')).toHaveLength(0);
  });
});

describe('cancel signals', () => {
  test('sent more than once cancel once, with the first request', async () => {
    const gate = new Gate();
    const stubs = gatedStubs('LOCKING', gate);
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await gate.reached;
      await handle.signal(cancelCheckoutSignal, { reason: 'ADD_TO_CART', requestedBy: 'buyer-1' });
      await handle.signal(cancelCheckoutSignal, { reason: 'ADD_TO_CART', requestedBy: 'buyer-1' });
      await handle.signal(cancelCheckoutSignal, { reason: 'BILLING', requestedBy: 'billing-service' });
      gate.open();
      expect(await handle.result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADD_TO_CART', requestedBy: 'buyer-1' } });
      expect(signalsOf(await handle.fetchHistory(), CANCEL_SIGNAL_NAME)).toHaveLength(3);
    });
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([expect.objectContaining({ reason: 'ADD_TO_CART', requestedBy: 'buyer-1' })]);
  });

  test('with a malformed argument still cancel, with the default reason', async () => {
    const stubs = new StubActivities();
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await waitForPhase(handle, 'READY');
      await ts.env.client.workflow.getHandle(handle.workflowId).signal(CANCEL_SIGNAL_NAME, { reason: 42, requestedBy: ['x'] });
      expect(await handle.result()).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'REQUESTED' } });
    });
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([expect.objectContaining({ reason: 'REQUESTED' })]);
  });

  test('whose argument cannot be decoded cancel nothing: they are listed, and the checkout goes on', async () => {
    const stubs = new StubActivities();
    const cartId = newCartId();
    await ts.withWorker(stubs, async (taskQueue) => {
      const handle = await startCheckout(taskQueue, { cartId });
      await waitForPhase(handle, 'READY');
      const send = (encoding: string, data: Buffer) =>
        ts.env.client.workflowService.signalWorkflowExecution({
          namespace: ts.env.namespace ?? 'default',
          workflowExecution: { workflowId: handle.workflowId },
          signalName: CANCEL_SIGNAL_NAME,
          input: { payloads: [{ metadata: { encoding: Buffer.from(encoding) }, data }] },
        });
      await send('binary/protobuf', Buffer.from([0x0a, 0x03, 0x66, 0x6f, 0x6f]));
      await send('json/plain', Buffer.from('{"reason": '));
      const view = await eventually('both signals to be rejected', async () => {
        const v = await handle.query(getCheckoutStateQuery);
        return (v.rejectedSignals?.length ?? 0) >= 2 ? v : undefined;
      });
      expect(view.cancelRequested).toBeUndefined();
      expect(view.rejectedSignals).toEqual([
        expect.objectContaining({ signal: CANCEL_SIGNAL_NAME, encoding: 'binary/protobuf' }),
        expect.objectContaining({ signal: CANCEL_SIGNAL_NAME, encoding: 'json/plain' }),
      ]);
      // Nothing was cancelled by them: the checkout held the cart until its lease ran out.
      await skip(30 * MINUTE);
      expect(await handle.result()).toMatchObject({ outcome: 'EXPIRED' });
    });
    expect(stubs.inputsOf<CancelInput>('cancelCartAsyncOperation')).toEqual([expect.objectContaining({ reason: 'EXPIRED' })]);
  });
});

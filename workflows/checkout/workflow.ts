/**
 * checkoutWorkflow: one per cart (ID checkout-<cartId>). Takes the cart lock, runs the background
 * steps, then holds the lock until the first of: a cancel (signal or Update), a place-order request,
 * or the lease running out. Workflow code: deterministic, no I/O; everything real runs in activities.
 *
 * Under the store's checkoutPolicy `recalculate` an item change goes through the running checkout
 * (the recalculateCheckout Update) instead of cancelling it, and the steps run again.
 *
 * The story is below; what the checkout knows is in state.ts, its messages in handlers.ts, its
 * chapters and activity calls in steps.ts, the patches that keep old histories replaying in patches.ts.
 */
import { condition, patched } from '@temporalio/workflow';
import type { CheckoutInput, CheckoutResult } from '../../src/contract';
import { leaseSummary } from '../summaries';
import { registerHandlers } from './handlers';
import { LOCK_LOST_PATCH, ORDER_WAITS_FOR_STEPS_PATCH } from './patches';
import { Checkout } from './state';
import { cancelTheCheckout, lockCart, placeTheOrder, runBackgroundSteps } from './steps';

export async function checkoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const checkout = new Checkout(input);
  registerHandlers(checkout);
  return await run(checkout);
}

async function run(c: Checkout): Promise<CheckoutResult> {
  const invalidInput = c.inputFailure();
  if (invalidInput) throw await c.fail(invalidInput);
  c.begin();

  // 1. Take the lock. A Closed or missing cart fails the run with that business failure.
  c.locked(await c.orFail(lockCart(c)));

  // An item change applied through the checkout (the store's policy recalculate) interrupts steps 2
  // and 3; the story then runs the steps again from Confirm Price, and an order waits for them.
  for (;;) {
    // 2. The background steps. A cancel that wins interrupts the running step.
    const steps = await runBackgroundSteps(c);
    if (await c.recalculated()) continue;
    // The cart is no longer ours (cancelled, closed or superseded elsewhere): holding nothing until
    // the lease ends would let starts join a dead checkout and orders fail later. End now, saying why.
    if (steps.lockLost && patched(LOCK_LOST_PATCH)) throw await c.failLockLost();

    // 3. Hold the lock until the buyer orders, someone cancels, the lease runs out, or an item change comes.
    c.setPhase('READY');
    const lease = { summary: leaseSummary(c.cartId, c.leaseMs, c.lastOutcome) };
    const decided = await condition(() => c.decision.first !== undefined || c.recalculating, c.leaseMs, lease);
    if (await c.recalculated()) continue;
    if (!decided) c.requestCancel({ reason: 'EXPIRED', requestedBy: 'lease' });

    // 4. An order that came first is placed, if every step completed; otherwise the checkout is cancelled.
    const orderWins = c.decision.first === 'order' && !(steps.failure && patched(ORDER_WAITS_FOR_STEPS_PATCH));
    return await c.finish(orderWins ? await placeTheOrder(c) : await cancelTheCheckout(c, steps.failure));
  }
}

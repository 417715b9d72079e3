/**
 * Slow steps for chosen checkouts: the worker-side test seam (`beforeStep` of createActivities) that
 * the tests, the benchmark and the fault suite use to hold a checkout in its background steps. Not
 * part of the product: the product's workers never set the hook.
 */
import { Context } from '@temporalio/activity';
import type { Db } from 'mongodb';
import type { StepHook } from '../activities/checkout';
import type { StepInput } from '../src/contract';

/**
 * Waits `ms` inside the running step, heartbeating every 500 ms with what is left. Context.sleep
 * rejects with CancelledFailure once the workflow cancels the activity (cancellation is delivered in
 * heartbeat responses), so a cancel stops the step as it stops a real one.
 */
export async function slowStep(input: StepInput, ms: number): Promise<void> {
  const ctx = Context.current();
  let remaining = ms;
  while (remaining > 0) {
    ctx.heartbeat({ step: input.step, remainingMs: remaining });
    const chunk = Math.min(remaining, 500);
    await ctx.sleep(chunk);
    remaining -= chunk;
  }
}

/** In-process workers: each step of a cart in `delays` (cart id → ms per step) takes that long. */
export function stepDelaysFrom(delays: ReadonlyMap<string, number>): StepHook {
  return async (input) => {
    const ms = delays.get(input.cartId);
    if (ms) await slowStep(input, ms);
  };
}

/** The dev stack's own collection, in the stack's database: `{ _id: cartId, ms }`. Never used by the product. */
export const STEP_DELAYS_COLLECTION = 'dev_step_delays';

interface StepDelayDoc {
  _id: string;
  ms: number;
}

/** Worker processes: the delay for a cart is read, at each step, from what the test process wrote. */
export function stepDelaysFromCollection(db: Db): StepHook {
  const delays = db.collection<StepDelayDoc>(STEP_DELAYS_COLLECTION);
  return async (input) => {
    const doc = await delays.findOne({ _id: input.cartId });
    if (doc?.ms) await slowStep(input, doc.ms);
  };
}

/** Sets (or, with no ms, clears) the step delay of a cart's next checkouts; call it before starting one. */
export async function setStepDelay(db: Db, cartId: string, ms: number | undefined): Promise<void> {
  const delays = db.collection<StepDelayDoc>(STEP_DELAYS_COLLECTION);
  if (ms) await delays.replaceOne({ _id: cartId }, { ms }, { upsert: true });
  else await delays.deleteOne({ _id: cartId });
}

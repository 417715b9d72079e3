/**
 * 4. Add to cart during checkout, end to end: the cart is held by a checkout waiting for the order;
 * the item is added (CheckoutClient.addItem, or POST /carts/:id/items); measured until a read sees the
 * item in the cart. On the way the checkout is cancelled (signal ADD_TO_CART, wait for its end), then
 * the change lands on the Active cart.
 */
import { performance } from 'node:perf_hooks';
import { cartIds, insertCarts, startCheckouts, waitQuiet, waitReady, waitWorkflowsReady } from '../carts';
import { Readings, type Ctx, type SdkWindow } from '../context';
import type { CpuShare } from '../probes';
import { ACCOUNT } from '../stack';
import { summarize, type Summary } from '../stats';
import { hasItem } from '../watcher';

export type AddMethod = 'client' | 'http';

export interface AddToCartResult {
  latency: Summary;
  reply: Summary;
  resolution: Summary;
  errors: number;
  firstError?: string;
  cpu?: CpuShare;
  sdk?: SdkWindow;
}

const SKU = 'SKU-ADDED';

export async function measureAddToCart(ctx: Ctx, method: AddMethod, inFlight: number): Promise<AddToCartResult> {
  const { stack, abort } = ctx;
  const rounds = ctx.quick ? (inFlight === 1 ? 2 : 1) : inFlight === 1 ? 40 : 5;
  const readings = new Readings(ctx);
  const latency: number[] = [];
  const reply: number[] = [];
  const resolution: number[] = [];
  const errors: string[] = [];
  for (let round = 0; round < rounds; round++) {
    abort.check();
    const batch = `add-${method}-${inFlight}-${round}`;
    const ids = cartIds(ctx.runId, batch, inFlight);
    await insertCarts(stack.carts, ids, batch);
    await startCheckouts(stack.checkout, ids, Math.min(inFlight, 20), batch, abort);
    await waitReady(stack.carts, batch, inFlight, batch, abort, 60000 + inFlight * 200);
    await waitWorkflowsReady(stack.checkout, ids, abort);
    const stop = await readings.start();
    const sends = ids.map((cartId) => {
      const sentAt = performance.now();
      const seen = ctx.watcher.watch(cartId, hasItem(SKU), sentAt);
      return { sentAt, seen, replied: addItem(ctx, method, cartId).then(() => performance.now()) };
    });
    const results = await Promise.allSettled(sends.map(async (s) => ({ obs: await s.seen, repliedAt: await s.replied })));
    await stop();
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        errors.push(String((r.reason as Error)?.message ?? r.reason));
        return;
      }
      latency.push(r.value.obs.seenAt - sends[i].sentAt);
      reply.push(r.value.repliedAt - sends[i].sentAt);
      resolution.push(r.value.obs.resolutionMs);
    });
  }
  await waitQuiet(stack.checkout, stack.taskQueue, abort);
  const cpu = readings.cpuShare();
  return {
    latency: summarize(latency),
    reply: summarize(reply),
    resolution: summarize(resolution),
    errors: errors.length,
    ...(errors[0] ? { firstError: errors[0] } : {}),
    ...(cpu ? { cpu } : {}),
    sdk: readings.sdk(),
  };
}

async function addItem(ctx: Ctx, method: AddMethod, cartId: string): Promise<void> {
  const { stack } = ctx;
  if (method === 'client') {
    const result = await stack.checkout.addItem(cartId, SKU, 1, { requestedBy: 'bench' });
    if (!result.canceledCheckout || result.status !== 'Active') throw new Error(`cart ${cartId}: addItem answered ${JSON.stringify(result)}`);
    return;
  }
  const res = await fetch(`${stack.api.url}/carts/${cartId}/items`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.api.serviceToken}`, 'x-effective-account-id': ACCOUNT, 'content-type': 'application/json' },
    body: JSON.stringify({ sku: SKU, quantity: 1 }),
  });
  const body = (await res.json()) as { canceledCheckout?: boolean };
  if (res.status !== 201 || body.canceledCheckout !== true) throw new Error(`cart ${cartId}: POST items answered ${res.status} ${JSON.stringify(body)}`);
}

/** A cart's checkout: start it, cancel it, place its order. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { waitExpired } from '../../client';
import { DEFAULT_CANCEL_REASON, checkoutWorkflowId } from '../../contract';
import { requester } from '../auth';
import { keepOpen } from '../idempotency';
import { EMPTY_BODY, buyerHeaders, params } from '../schemas';
import { buyerCart, type CartRequest, type RouteContext } from './context';

/** How long a start whose wait ran out looks for the run it may have started. */
const DESCRIBE_WAIT_MS = 3000;
/** The longest a cancel whose Update got no answer waits for its fallback signal. */
const SIGNAL_WAIT_MS = 5000;

type CancelRequest = CartRequest & { query: { wait?: 'true' | 'false'; reason?: string } };

const CANCEL_QUERY = {
  type: 'object',
  properties: { wait: { type: 'string', enum: ['true', 'false'] }, reason: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Z][A-Z0-9_]*$' } },
  additionalProperties: false,
};

export function checkoutRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const buyer = { params: params('cartId'), headers: buyerHeaders };
  app.post<{ Params: { cartId: string } }>('/carts/:cartId/checkouts', { schema: { ...buyer, body: EMPTY_BODY } }, (req, reply) =>
    startCheckout(ctx, req, reply),
  );
  app.delete<{ Params: { cartId: string }; Querystring: { wait?: 'true' | 'false'; reason?: string } }>(
    '/carts/:cartId/checkouts/active',
    { schema: { ...buyer, querystring: CANCEL_QUERY } },
    (req, reply) => cancelCheckout(ctx, req, reply),
  );
  app.post<{ Params: { cartId: string } }>('/carts/:cartId/checkouts/active/orders', { schema: { ...buyer, body: EMPTY_BODY } }, async (req, reply) => {
    await buyerCart(ctx, req);
    const placed = await ctx.withinWait(() => ctx.checkout.placeOrder(req.params.cartId, requester(req)));
    return reply.status(201).send(placed);
  });
}

async function startCheckout(ctx: RouteContext, req: CartRequest, reply: FastifyReply) {
  await buyerCart(ctx, req);
  const cartId = req.params.cartId;
  let started;
  try {
    started = await ctx.withinWait(() => ctx.checkout.startCheckout(cartId, { requestedBy: requester(req) }));
  } catch (err) {
    if (!waitExpired(err)) throw err;
    // No lock within the wait (no worker?): the start itself is durable once the run exists.
    const runId = await ctx.withinWait(() => ctx.checkout.runningRunId(cartId), DESCRIBE_WAIT_MS).catch(() => undefined);
    if (!runId) throw err;
    keepOpen(req);
    return reply.status(202).send({
      checkoutId: checkoutWorkflowId(cartId),
      runId,
      accepted: true,
      message: 'The checkout was started; it locks the cart when a worker runs it. GET the cart to see its state.',
    });
  }
  const { checkoutId, runId, view } = started;
  return reply.status(started.started ? 202 : 200).send({ checkoutId, runId, status: 'Checkout', state: view.state, started: started.started });
}

async function cancelCheckout(ctx: RouteContext, req: CancelRequest, reply: FastifyReply) {
  await buyerCart(ctx, req);
  const cartId = req.params.cartId;
  const options = { reason: req.query.reason ?? DEFAULT_CANCEL_REASON, requestedBy: requester(req) };
  const signal = (ms?: number) => ctx.withinWait(() => ctx.checkout.cancelCheckout(cartId, { ...options, wait: false }), ms);
  let answer;
  try {
    answer = req.query.wait === 'false' ? await signal() : await ctx.withinWait(() => ctx.checkout.cancelCheckout(cartId, { ...options, wait: true }));
  } catch (err) {
    if (req.query.wait === 'false' || !waitExpired(err)) throw err;
    // The Update got no answer in time (no worker?), and an Update not yet accepted by a worker is
    // not durable: send the signal too, which is. The workflow's cancel handler is idempotent.
    const accepted = await signal(Math.min(ctx.waitMs, SIGNAL_WAIT_MS));
    return reply.status(202).send({
      ...accepted,
      message: `The checkout did not confirm within ${ctx.waitMs} ms; the cancel request is recorded and the checkout unlocks the cart when it runs.`,
    });
  }
  if ('accepted' in answer) return reply.status(202).send({ ...answer, message: 'The cancel request was accepted; the cart is unlocked shortly.' });
  const message = answer.canceled ? 'The checkout was canceled; the cart is Active.' : 'No checkout was running; nothing to cancel.';
  return reply.status(200).send({ ...answer, message });
}

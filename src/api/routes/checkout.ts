/** A cart's checkout: start it, cancel it, place its order. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { waitExpired } from '../../client';
import { CLOSED_CART_MESSAGE, DEFAULT_CANCEL_REASON, checkoutWorkflowId } from '../../contract';
import { requester } from '../auth';
import { keepOpen } from '../idempotency';
import {
  CancelAnswerSchema,
  CheckoutAcceptedSchema,
  CheckoutStartedSchema,
  EMPTY_BODY,
  OrderSchema,
  Type,
  buyerHeaders,
  params,
  type Static,
} from '../schemas';
import { buyerCart, type CartRequest, type RouteContext } from './context';

/** How long a start whose wait ran out looks for the run it may have started. */
const DESCRIBE_WAIT_MS = 3000;
/** The longest a cancel whose Update got no answer waits for its fallback signal. */
const SIGNAL_WAIT_MS = 5000;

const CANCEL_QUERY = Type.Object(
  {
    wait: Type.Optional(
      Type.Enum(['true', 'false'], { description: 'true (default): answer once the cart is unlocked; false: once the cancel signal is recorded (202).' }),
    ),
    reason: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Z][A-Z0-9_]*$', description: `Why (UPPER_SNAKE_CASE; default ${DEFAULT_CANCEL_REASON}).` }),
    ),
  },
  { additionalProperties: false },
);

type CancelRequest = CartRequest & { query: Static<typeof CANCEL_QUERY> };

export function checkoutRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const buyer = { params: params('cartId'), headers: buyerHeaders, tags: ['checkout'] };
  api.post(
    '/carts/:cartId/checkouts',
    {
      schema: {
        ...buyer,
        summary: 'Start the checkout: lock the cart and run its steps',
        description:
          '202 when this request started it (the cart is locked), 200 when it was already running. 202 with `accepted` when no worker locked the cart within the wait: it does when one runs.',
        body: EMPTY_BODY,
        response: { 200: CheckoutStartedSchema, 202: Type.Union([CheckoutStartedSchema, CheckoutAcceptedSchema]) },
      },
      config: { errorCodes: ['INVALID_OPERATION', 'CHECKOUT_CONFLICT'] },
    },
    (req, reply) => startCheckout(ctx, req, reply),
  );
  api.delete(
    '/carts/:cartId/checkouts/active',
    {
      schema: {
        ...buyer,
        summary: 'Cancel the running checkout: the cart is Active again',
        description: `403 INVALID_OPERATION when the cart is already Closed (the order was placed): "${CLOSED_CART_MESSAGE}" 200 with canceled false when nothing was running.`,
        querystring: CANCEL_QUERY,
        response: { 200: CancelAnswerSchema, 202: CancelAnswerSchema },
      },
      config: { errorCodes: ['INVALID_OPERATION'] },
    },
    (req, reply) => cancelCheckout(ctx, req, reply),
  );
  api.post(
    '/carts/:cartId/checkouts/active/orders',
    {
      schema: {
        ...buyer,
        summary: 'Place the order of the running checkout (once its steps are done)',
        description: '403 INVALID_OPERATION when no checkout runs, or it is being canceled.',
        body: EMPTY_BODY,
        response: { 201: OrderSchema },
      },
      config: { errorCodes: ['INVALID_OPERATION', 'CHECKOUT_CONFLICT'] },
    },
    async (req, reply) => {
      await buyerCart(ctx, req);
      const placed = await ctx.withinWait(() => ctx.checkout.placeOrder(req.params.cartId, requester(req)));
      return reply.status(201).send(placed);
    },
  );
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

/** A cart's items: add, change the quantity, remove. A running checkout is cancelled first. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { MAX_QUANTITY, MAX_UNIT_PRICE, type ItemChange } from '../../contract';
import { requester } from '../auth';
import { keepOpen, requestIdOf } from '../idempotency';
import { QUANTITY, SKU, body, buyerHeaders, params } from '../schemas';
import { buyerCart, type CartRequest, type RouteContext } from './context';

const UNIT_PRICE = { type: 'number', minimum: 0, maximum: MAX_UNIT_PRICE } as const;

export function itemRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const change = (req: CartRequest, reply: FastifyReply, what: ItemChange, status: number) => changeItems(ctx, req, reply, what, status);
  app.post<{ Params: { cartId: string }; Body: { sku: string; quantity: number; unitPrice?: number } }>(
    '/carts/:cartId/items',
    { schema: { params: params('cartId'), headers: buyerHeaders, body: body({ sku: SKU, quantity: QUANTITY, unitPrice: UNIT_PRICE }, ['sku', 'quantity']) } },
    async (req, reply) => {
      const { sku, quantity, unitPrice } = req.body;
      return change(req, reply, { op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) }, 201);
    },
  );
  app.patch<{ Params: { cartId: string; sku: string }; Body: { quantity: number } }>(
    '/carts/:cartId/items/:sku',
    {
      schema: {
        params: params('cartId', 'sku'),
        headers: buyerHeaders,
        body: body({ quantity: { type: 'integer', minimum: 0, maximum: MAX_QUANTITY } }, ['quantity']),
      },
    },
    async (req, reply) => change(req, reply, { op: 'set', sku: req.params.sku, quantity: req.body.quantity }, 200),
  );
  app.delete<{ Params: { cartId: string; sku: string } }>(
    '/carts/:cartId/items/:sku',
    { schema: { params: params('cartId', 'sku'), headers: buyerHeaders } },
    async (req, reply) => change(req, reply, { op: 'remove', sku: req.params.sku }, 200),
  );
}

/**
 * An item change, exactly once per request id (from the Idempotency-Key, else new). When it is not
 * done within the wait, 202: it completes durably, and the same request with the same key answers
 * its result (the first attempt's, never a second change).
 */
async function changeItems(ctx: RouteContext, req: CartRequest, reply: FastifyReply, change: ItemChange, status: number) {
  const cart = await buyerCart(ctx, req);
  // A store that prices from its book refuses an unpriced SKU here, before a workflow starts.
  await ctx.carts.checkBookPrice(cart, change);
  const answer = await ctx.checkout.changeItemsWithin(req.params.cartId, change, ctx.waitMs, {
    requestedBy: requester(req),
    requestId: requestIdOf(req) ?? randomUUID(),
  });
  if (!('accepted' in answer)) return reply.status(status).send(answer);
  keepOpen(req);
  return reply.status(202).send({
    ...answer,
    message: req.idempotency
      ? 'The change was accepted and completes durably; repeat this request with the same Idempotency-Key for its result.'
      : 'The change was accepted and completes durably; GET the cart to see it (send an Idempotency-Key to be able to ask for the result).',
  });
}

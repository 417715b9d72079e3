/** A buyer's carts: create one in a store, read one (with its running checkout session). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { CartView } from '../../contract';
import { effectiveAccountId } from '../auth';
import { uuidOf } from '../idempotency';
import { CartSchema, EMPTY_BODY, buyerHeaders, params, type Static } from '../schemas';
import { buyerCart, type RouteContext } from './context';

/** The cart as the API shows it: the count of archived sessions, not the sessions. */
function publicCart(view: CartView): Static<typeof CartSchema> {
  const { archivedSessions: _recent, ...rest } = view;
  return { ...rest, archivedSessionCount: view.archivedSessionCount };
}

export function cartRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post(
    '/webstores/:webstoreId/carts',
    {
      schema: {
        summary: 'Create a cart for the effective account in a store',
        description: 'With an Idempotency-Key the cart id comes from the key, so a retried request finds the cart of its first attempt.',
        tags: ['carts'],
        params: params('webstoreId'),
        headers: buyerHeaders,
        body: EMPTY_BODY,
        response: { 201: CartSchema },
      },
    },
    async (req, reply) => {
      // With an Idempotency-Key the cart id comes from it: a retry whose first answer was lost finds that cart.
      const cart = await ctx.carts.createCartFor({
        webstoreId: req.params.webstoreId,
        accountId: effectiveAccountId(req),
        cartId: uuidOf(req) ?? randomUUID(),
      });
      return reply.status(201).send(publicCart(cart));
    },
  );
  api.get(
    '/carts/:cartId',
    {
      schema: {
        summary: 'Read a cart with its running checkout',
        tags: ['carts'],
        params: params('cartId'),
        headers: buyerHeaders,
        response: { 200: CartSchema },
      },
    },
    async (req) => publicCart(await buyerCart(ctx, req)),
  );
}

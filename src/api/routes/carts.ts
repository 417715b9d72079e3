/** A buyer's carts: create one in a store, read one (with its running checkout session). */
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { CartView } from '../../contract';
import { effectiveAccountId } from '../auth';
import { uuidOf } from '../idempotency';
import { EMPTY_BODY, buyerHeaders, params } from '../schemas';
import { buyerCart, type RouteContext } from './context';

type PublicCart = Omit<CartView, 'archivedSessions'> & { archivedSessionCount: number };

/** The cart as the API shows it: the count of archived sessions, not the sessions. */
function publicCart(view: CartView): PublicCart {
  const { archivedSessions: _recent, ...rest } = view;
  return { ...rest, archivedSessionCount: view.archivedSessionCount };
}

export function cartRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: { webstoreId: string } }>(
    '/webstores/:webstoreId/carts',
    { schema: { params: params('webstoreId'), headers: buyerHeaders, body: EMPTY_BODY } },
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
  app.get<{ Params: { cartId: string } }>('/carts/:cartId', { schema: { params: params('cartId'), headers: buyerHeaders } }, async (req) =>
    publicCart(await buyerCart(ctx, req)),
  );
}

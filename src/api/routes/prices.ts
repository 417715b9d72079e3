/**
 * The admin routes of a store's price book (issue 12): PUT sets a SKU's unit price (currency units),
 * GET reads it, DELETE removes it. A store whose `pricing` is `book` prices every item from it.
 */
import type { FastifyInstance } from 'fastify';
// For its types only: the `summary` and `tags` of a route schema, which the OpenAPI document is made from.
import type {} from '@fastify/swagger';
import { Type } from 'typebox';
import { MAX_UNIT_PRICE } from '../../contract';
import { requireAdmin } from '../auth';
import { ID, SKU } from '../schemas';
import type { RouteContext } from './context';

const TAGS = ['price book'];
const PARAMS = Type.Object({ webstoreId: Type.Unsafe<string>(ID), sku: Type.Unsafe<string>(SKU) }, { additionalProperties: false });
const UNIT_PRICE = Type.Number({ minimum: 0, maximum: MAX_UNIT_PRICE, description: 'in currency units, as cart lines carry it' });
const PRICE = Type.Object({ webstoreId: Type.String(), sku: Type.String(), unitPrice: UNIT_PRICE, updatedAt: Type.String({ format: 'date-time' }) });
const REMOVED = Type.Object({ webstoreId: Type.String(), sku: Type.String(), removed: Type.Boolean() });

type PriceRoute = { Params: { webstoreId: string; sku: string } };

export function priceRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  const path = '/webstores/:webstoreId/prices/:sku';
  app.put<PriceRoute & { Body: { unitPrice: number } }>(
    path,
    {
      schema: {
        summary: "Set a SKU's price in the store's price book",
        tags: TAGS,
        params: PARAMS,
        body: Type.Object({ unitPrice: UNIT_PRICE }, { additionalProperties: false }),
        response: { 200: PRICE },
      },
      onRequest: requireAdmin,
    },
    async (req) => carts.savePrice(req.params.webstoreId, req.params.sku, req.body.unitPrice),
  );
  app.get<PriceRoute>(
    path,
    { schema: { summary: "Read a SKU's price in the store's price book", tags: TAGS, params: PARAMS, response: { 200: PRICE } }, onRequest: requireAdmin },
    async (req) => carts.getPrice(req.params.webstoreId, req.params.sku),
  );
  app.delete<PriceRoute>(
    path,
    {
      schema: { summary: "Remove a SKU's price from the store's price book (idempotent)", tags: TAGS, params: PARAMS, response: { 200: REMOVED } },
      onRequest: requireAdmin,
    },
    async (req) => carts.removePrice(req.params.webstoreId, req.params.sku),
  );
}

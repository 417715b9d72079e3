/** The admin routes: stores, buyer accounts and memberships (an admin token). */
import type { FastifyInstance } from 'fastify';
import { CHECKOUT_POLICIES, PRICING_MODES, type StoreSettings } from '../../contract';
import { requireAdmin } from '../auth';
import { NAME, body, params } from '../schemas';
import type { RouteContext } from './context';

export function directoryRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  app.put<{ Params: { webstoreId: string }; Body: { name: string } & Partial<StoreSettings> }>(
    '/webstores/:webstoreId',
    {
      schema: {
        params: params('webstoreId'),
        body: body({ name: NAME, checkoutPolicy: { type: 'string', enum: CHECKOUT_POLICIES }, pricing: { type: 'string', enum: PRICING_MODES } }, ['name']),
      },
      onRequest: requireAdmin,
    },
    async (req) => {
      const { name, ...settings } = req.body;
      return carts.saveStore(req.params.webstoreId, name, settings);
    },
  );
  app.put<{ Params: { accountId: string }; Body: { name: string; active: boolean } }>(
    '/accounts/:accountId',
    {
      schema: { params: params('accountId'), body: body({ name: NAME, active: { type: 'boolean' } }, ['name', 'active']) },
      onRequest: requireAdmin,
    },
    async (req) => carts.saveAccount(req.params.accountId, req.body.name, req.body.active),
  );
  app.put<{ Params: { webstoreId: string; accountId: string } }>(
    '/webstores/:webstoreId/members/:accountId',
    { schema: { params: params('webstoreId', 'accountId') }, onRequest: requireAdmin },
    async (req) => carts.addMember(req.params.webstoreId, req.params.accountId),
  );
}

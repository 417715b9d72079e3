/** The admin routes: stores, buyer accounts and memberships (an admin token). */
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from '../auth';
import { NAME, body, params } from '../schemas';
import type { RouteContext } from './context';

export function directoryRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  app.put<{ Params: { webstoreId: string }; Body: { name: string } }>(
    '/webstores/:webstoreId',
    { schema: { params: params('webstoreId'), body: body({ name: NAME }, ['name']) }, onRequest: requireAdmin },
    async (req) => carts.saveStore(req.params.webstoreId, req.body.name),
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

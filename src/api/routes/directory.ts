/** The admin routes: stores, buyer accounts and memberships (an admin token). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { CHECKOUT_POLICIES, DEFAULT_STORE_SETTINGS, PRICING_MODES } from '../../contract';
import { requireAdmin } from '../auth';
import { AccountSchema, MembershipSchema, NAME, StoreSchema, Type, body, params } from '../schemas';
import type { RouteContext } from './context';

export function directoryRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.put(
    '/webstores/:webstoreId',
    {
      schema: {
        summary: 'Create or replace a store',
        description: 'PUT semantics: a setting left out returns to its default.',
        tags: ['admin'],
        params: params('webstoreId'),
        body: body(
          {
            name: NAME,
            checkoutPolicy: Type.Enum([...CHECKOUT_POLICIES], {
              description: `What an item change does to a cart in checkout (default ${DEFAULT_STORE_SETTINGS.checkoutPolicy}).`,
            }),
            pricing: Type.Enum([...PRICING_MODES], { description: `Where item prices come from (default ${DEFAULT_STORE_SETTINGS.pricing}).` }),
          },
          ['name'],
        ),
        response: { 200: StoreSchema },
      },
      onRequest: requireAdmin,
    },
    async (req) => {
      const { name, ...settings } = req.body;
      return carts.saveStore(req.params.webstoreId, name, settings);
    },
  );
  api.put(
    '/accounts/:accountId',
    {
      schema: {
        summary: 'Create or replace a buyer account',
        tags: ['admin'],
        params: params('accountId'),
        body: body({ name: NAME, active: Type.Boolean() }),
        response: { 200: AccountSchema },
      },
      onRequest: requireAdmin,
    },
    async (req) => carts.saveAccount(req.params.accountId, req.body.name, req.body.active),
  );
  api.put(
    '/webstores/:webstoreId/members/:accountId',
    {
      schema: {
        summary: 'Make an account a member of a store (idempotent)',
        tags: ['admin'],
        params: params('webstoreId', 'accountId'),
        response: { 200: MembershipSchema },
      },
      onRequest: requireAdmin,
    },
    async (req) => carts.addMember(req.params.webstoreId, req.params.accountId),
  );
}

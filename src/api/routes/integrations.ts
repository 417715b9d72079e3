/**
 * The admin routes of store integrations (issue 15): which provider serves each checkout step of a
 * store. PUT registers an http provider (or `{ "type": "builtin" }`), GET reads it without its
 * secret, DELETE returns the step to builtin. See docs/integrations.md.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from '../auth';
import { ID, INTEGRATION_STEP, IntegrationSchema, ProviderSettingsSchema, Type } from '../schemas';
import type { RouteContext } from './context';

const integrationParams = Type.Object({ webstoreId: ID, step: INTEGRATION_STEP }, { additionalProperties: false });

export function integrationRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const path = '/webstores/:webstoreId/integrations/:step';
  const schema = { tags: ['admin'], params: integrationParams, response: { 200: IntegrationSchema } };
  // The body is checked by the contract's providerSettingsOf, so the API and the docs give the same
  // reasons; the document shows its schema.
  api.put(
    path,
    {
      schema: { ...schema, summary: "Register the http provider of a store's step, or return it to builtin" },
      config: { documentedBody: ProviderSettingsSchema },
      onRequest: requireAdmin,
    },
    async (req) => carts.saveIntegration(req.params.webstoreId, req.params.step, req.body),
  );
  api.get(path, { schema: { ...schema, summary: "Read the provider of a store's step (never its secret)" }, onRequest: requireAdmin }, async (req) =>
    carts.getIntegration(req.params.webstoreId, req.params.step),
  );
  api.delete(path, { schema: { ...schema, summary: "Return a store's step to the builtin provider" }, onRequest: requireAdmin }, async (req) =>
    carts.removeIntegration(req.params.webstoreId, req.params.step),
  );
}

/**
 * The admin routes of store integrations (issue 15): which provider serves each checkout step of a
 * store. PUT registers an http provider (or `{ "type": "builtin" }`), GET reads it without its
 * secret, DELETE returns the step to builtin. See docs/integrations.md.
 */
import type { FastifyInstance } from 'fastify';
import { INTEGRATION_STEP_NAMES, type IntegrationStep } from '../../contract';
import { requireAdmin } from '../auth';
import { ID } from '../schemas';
import type { RouteContext } from './context';

type IntegrationRoute = { Params: { webstoreId: string; step: IntegrationStep } };

const integrationParams = {
  type: 'object',
  properties: { webstoreId: ID, step: { type: 'string', enum: INTEGRATION_STEP_NAMES } },
  required: ['webstoreId', 'step'],
  additionalProperties: false,
};

export function integrationRoutes(app: FastifyInstance, { carts }: RouteContext): void {
  const path = '/webstores/:webstoreId/integrations/:step';
  // The body is checked by the contract's providerSettingsOf, so the API and the docs give the same reasons.
  app.put<IntegrationRoute & { Body: unknown }>(path, { schema: { params: integrationParams }, onRequest: requireAdmin }, async (req) =>
    carts.saveIntegration(req.params.webstoreId, req.params.step, req.body),
  );
  app.get<IntegrationRoute>(path, { schema: { params: integrationParams }, onRequest: requireAdmin }, async (req) =>
    carts.getIntegration(req.params.webstoreId, req.params.step),
  );
  app.delete<IntegrationRoute>(path, { schema: { params: integrationParams }, onRequest: requireAdmin }, async (req) =>
    carts.removeIntegration(req.params.webstoreId, req.params.step),
  );
}

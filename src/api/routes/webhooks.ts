/**
 * The admin routes of webhooks (issue 12): a store's subscriptions to its cart events. PUT creates or
 * changes one (and resumes it when paused), GET reads it without its secret, DELETE removes it (its
 * delivery workflow ends), POST .../resume tries a paused one again. The receiver's side: docs/contract.md.
 */
import type { FastifyInstance } from 'fastify';
// Its types add `summary` and `tags` to route schemas (the OpenAPI document is made from them).
import type {} from '@fastify/swagger';
import { Type, type Static } from 'typebox';
import { CART_ID_PATTERN, CART_EVENT_TYPES, WEBHOOK_LIMITS, WEBHOOK_NAME_PATTERN } from '../../contract';
import type { WebhookService } from '../../webhooks';
import { requireAdmin } from '../auth';
import type { RouteContext } from './context';

const TAGS = ['webhooks'];

const StoreParams = Type.Object(
  { webstoreId: Type.String({ minLength: 1, maxLength: 128, pattern: CART_ID_PATTERN.source }) },
  { additionalProperties: false },
);
const WebhookParams = Type.Object(
  {
    webstoreId: Type.String({ minLength: 1, maxLength: 128, pattern: CART_ID_PATTERN.source }),
    name: Type.String({ minLength: 1, maxLength: 64, pattern: WEBHOOK_NAME_PATTERN.source }),
  },
  { additionalProperties: false },
);
const EventType = Type.Union(CART_EVENT_TYPES.map((t) => Type.Literal(t)));

/** The url's scheme and the secret's length are checked again by the contract (webhookSettingsOf), which says why. */
const WebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: WEBHOOK_LIMITS.urlMax, description: 'http:// or https:// URL the events are POSTed to' }),
    secret: Type.String({ minLength: WEBHOOK_LIMITS.secretMin, maxLength: WEBHOOK_LIMITS.secretMax, description: 'signs each body (HMAC-SHA256)' }),
    types: Type.Array(EventType, { minItems: 1, description: 'the event types to deliver' }),
  },
  { additionalProperties: false },
);

const WebhookView = Type.Object({
  webstoreId: Type.String(),
  name: Type.String(),
  url: Type.String(),
  types: Type.Array(EventType),
  status: Type.Union([Type.Literal('active'), Type.Literal('paused')]),
  cursor: Type.String({ description: 'the cursor of the last event the receiver answered 2xx' }),
  workflowId: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  pausedAt: Type.Optional(Type.String()),
  lastError: Type.Optional(Type.Object({ eventId: Type.String(), message: Type.String(), at: Type.String() })),
});
const WebhookList = Type.Object({ webhooks: Type.Array(WebhookView) });
const Deleted = Type.Object({ webstoreId: Type.String(), name: Type.String(), deleted: Type.Boolean() });
const EmptyBody = Type.Object({}, { additionalProperties: false });

type StoreRoute = { Params: Static<typeof StoreParams> };
type WebhookRoute = { Params: Static<typeof WebhookParams> };

export function webhookRoutes(app: FastifyInstance, ctx: RouteContext, webhooks: WebhookService): void {
  const path = '/webstores/:webstoreId/webhooks/:name';
  const admin = { onRequest: requireAdmin };
  app.get<StoreRoute>(
    '/webstores/:webstoreId/webhooks',
    { ...admin, schema: { summary: "A store's webhook subscriptions", tags: TAGS, params: StoreParams, response: { 200: WebhookList } } },
    async (req) => ({ webhooks: await webhooks.list(req.params.webstoreId) }),
  );
  app.put<WebhookRoute & { Body: Static<typeof WebhookBody> }>(
    path,
    {
      ...admin,
      schema: {
        summary: 'Create or change a webhook subscription (a paused one resumes)',
        tags: TAGS,
        params: WebhookParams,
        body: WebhookBody,
        response: { 200: WebhookView },
      },
    },
    async (req) => ctx.withinWait(() => webhooks.put(req.params.webstoreId, req.params.name, req.body)),
  );
  app.get<WebhookRoute>(
    path,
    { ...admin, schema: { summary: 'A webhook subscription (never its secret)', tags: TAGS, params: WebhookParams, response: { 200: WebhookView } } },
    async (req) => webhooks.get(req.params.webstoreId, req.params.name),
  );
  app.delete<WebhookRoute>(
    path,
    { ...admin, schema: { summary: 'Delete a webhook subscription; its delivery ends', tags: TAGS, params: WebhookParams, response: { 200: Deleted } } },
    async (req) => ctx.withinWait(() => webhooks.remove(req.params.webstoreId, req.params.name)),
  );
  app.post<WebhookRoute>(
    `${path}/resume`,
    {
      ...admin,
      schema: { summary: 'Resume a paused webhook subscription', tags: TAGS, params: WebhookParams, body: EmptyBody, response: { 200: WebhookView } },
    },
    async (req) => ctx.withinWait(() => webhooks.resume(req.params.webstoreId, req.params.name)),
  );
}

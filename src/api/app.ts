/**
 * The HTTP API for services and storefronts, assembled: the Fastify instance, then its hooks
 * (metrics, errors, bearer tokens, Idempotency-Keys) and the routes by resource (./routes). Every
 * route goes through CheckoutClient (workflow operations) and the cart service (carts, the
 * directory and its requirement checks). Errors are `[{ errorCode, message }]` with the statuses of the contract (src/contract/errors.ts).
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { CartService } from '../carts';
import type { CheckoutClient } from '../client';
import { DEFAULTS, type ApiRole } from '../config';
import { EventLog, IdempotencyStore } from '../db';
import { registerAuth, tokenScope } from './auth';
import { BODY_LIMIT, HttpError, registerErrorHandlers } from './errors';
import { registerIdempotency } from './idempotency';
import { registerMetrics } from './metrics';
import { cartRoutes } from './routes/carts';
import { checkoutRoutes } from './routes/checkout';
import type { RouteContext } from './routes/context';
import { directoryRoutes } from './routes/directory';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { integrationRoutes } from './routes/integrations';
import { itemRoutes } from './routes/items';
import { priceRoutes } from './routes/prices';
import { webhookRoutes } from './routes/webhooks';
import { WebhookService } from '../webhooks';

export interface ApiDeps {
  checkout: CheckoutClient;
  temporal: Client;
  db: Db;
  tokens: Map<string, ApiRole>;
  /** The Temporal SDK runtime's Prometheus endpoint, appended to /metrics when given. */
  temporalMetricsUrl?: string;
  log?: (entry: Record<string, unknown>) => void;
  /** How long a request waits on a workflow before answering 202 or 503 (API_WAIT_MS). */
  waitMs?: number;
  /** How long Idempotency-Keys are kept (IDEMPOTENCY_TTL_S). */
  idempotencyTtlS?: number;
}

export { BODY_LIMIT, HttpError };

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const waitMs = deps.waitMs ?? DEFAULTS.apiWaitMs;
  const app = createFastify();
  const metrics = registerMetrics(app, {
    ...(deps.temporalMetricsUrl ? { temporalMetricsUrl: deps.temporalMetricsUrl } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
  registerErrorHandlers(app, deps.log);
  registerAuth(app, deps.tokens);
  registerIdempotency(app, {
    store: new IdempotencyStore(deps.db, deps.idempotencyTtlS ?? DEFAULTS.idempotencyTtlS),
    inFlightWaitMs: Math.min(2000, waitMs),
    // Longer than any request can run: its Temporal waits, the fallbacks, MongoDB timeouts.
    claimMs: 2 * waitMs + 60_000,
    scope: tokenScope,
    ...(deps.log ? { log: deps.log } : {}),
  });
  // A POST without a body is an empty object, so routes whose body is optional accept both.
  app.addHook('preValidation', async (req) => {
    if ((req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') && req.body === undefined) req.body = {};
  });

  const ctx: RouteContext = {
    checkout: deps.checkout,
    carts: CartService.forDb(deps.db),
    waitMs,
    withinWait: (fn, ms = waitMs) => deps.checkout.client.withDeadline(Date.now() + ms, fn),
  };
  healthRoutes(app, { temporal: deps.temporal, carts: ctx.carts, metrics });
  directoryRoutes(app, ctx);
  integrationRoutes(app, ctx);
  cartRoutes(app, ctx);
  itemRoutes(app, ctx);
  checkoutRoutes(app, ctx);
  priceRoutes(app, ctx);
  eventRoutes(app, new EventLog(deps.db));
  webhookRoutes(app, ctx, WebhookService.forDb(deps.db, deps.checkout.client, deps.checkout.taskQueue));

  await app.ready();
  return app;
}

function createFastify(): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Long ids reach the schema (400 INVALID_INPUT) instead of the router's bare 414.
    routerOptions: { maxParamLength: 1024 },
    logger: false,
    // Unknown fields are an error, not silently dropped; "1" is not a number.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    genReqId: () => randomUUID(),
  });
  // An empty body sent as JSON (curl -X PUT -H 'Content-Type: application/json') counts as no body.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') done(null, undefined);
    // The default parser answers through `done`; it returns nothing to wait for.
    else void jsonParser(req, body as string, done);
  });
  return app;
}

export type { FastifyInstance, FastifyReply };

/**
 * The HTTP API for services and storefronts, assembled: the Fastify instance, then its hooks
 * (metrics, errors, bearer tokens, Idempotency-Keys) and the routes by resource (./routes). Every
 * route goes through CheckoutClient (workflow operations) and the cart service (carts, the
 * directory and its requirement checks). Errors are `[{ errorCode, message }]` with the statuses of the contract (src/contract/errors.ts).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type RouteOptions } from 'fastify';
import { Value } from 'typebox/value';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { CartService } from '../carts';
import type { CheckoutClient } from '../client';
import { DEFAULTS, type ApiRole } from '../config';
import { createLogger, type Logger } from '../logging';
import { EventLog, IdempotencyStore } from '../db';
import { registerAuth, tokenScope } from './auth';
import { BODY_LIMIT, HttpError, registerErrorHandlers } from './errors';
import { registerIdempotency } from './idempotency';
import { registerLimits } from './limits';
import { registerMetrics } from './metrics';
import { registerOpenApi } from './openapi';
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
  /** Where the API logs (fastify's logger: one line per request, errors); default none. */
  logger?: Logger;
  /** How long a request waits on a workflow before answering 202 or 503 (API_WAIT_MS). */
  waitMs?: number;
  /** How long Idempotency-Keys are kept (IDEMPOTENCY_TTL_S). */
  idempotencyTtlS?: number;
  /** Check every answer against its route's response schema (tests): a mismatch is a 500 naming the route. */
  checkResponses?: boolean;
  /** Requests a minute per bearer token (RATE_LIMIT_PER_MIN); 0: no limit. */
  rateLimitPerMin?: number;
  /** Called with every route as it is added, before its schema is completed (tests list the routes with it). */
  onRoute?: (route: RouteOptions) => void;
}

export { BODY_LIMIT, HttpError };

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const waitMs = deps.waitMs ?? DEFAULTS.apiWaitMs;
  const app = createFastify(deps.checkResponses ?? false, deps.logger ?? createLogger({ level: 'silent' }));
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);
  await registerOpenApi(app);
  const metrics = registerMetrics(app, {
    ...(deps.temporalMetricsUrl ? { temporalMetricsUrl: deps.temporalMetricsUrl } : {}),
  });
  registerErrorHandlers(app);
  await registerAuth(app, deps.tokens);
  await registerLimits(app, { perMinute: deps.rateLimitPerMin ?? DEFAULTS.rateLimitPerMin });
  registerIdempotency(app, {
    store: new IdempotencyStore(deps.db, deps.idempotencyTtlS ?? DEFAULTS.idempotencyTtlS),
    inFlightWaitMs: Math.min(2000, waitMs),
    // Longer than any request can run: its Temporal waits, the fallbacks, MongoDB timeouts.
    claimMs: 2 * waitMs + 60_000,
    scope: tokenScope,
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

function createFastify(checkResponses: boolean, logger: Logger): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Long ids reach the schema (400 INVALID_INPUT) instead of the router's bare 414.
    routerOptions: { maxParamLength: 1024 },
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written when it is answered (./metrics.ts), instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
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
  // Answers are written as they are: a response schema documents and types them, it does not drop
  // fields it does not list (fast-json-stringify would).
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) => (data) => {
    if (checkResponses && !Value.Check(schema as object, data)) {
      const [first] = Value.Errors(schema as object, data);
      throw new Error(`${method} ${url} ${httpStatus}: the answer does not match its schema at ${first?.instancePath || '/'}: ${first?.message}`);
    }
    return JSON.stringify(data);
  });
  return app;
}

export type { FastifyInstance, FastifyReply };

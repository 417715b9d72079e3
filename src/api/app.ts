/**
 * The HTTP API for services and storefronts. Every buyer route checks, before it does anything:
 * the bearer token, the effective account (exists, active, owns the cart, member of the cart's store).
 * Errors are `[{ errorCode, message }]` with the statuses of DOMAIN.md.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckoutClient } from '../client';
import type { ApiRole } from '../config';
import { CART_ID_PATTERN, ERROR_CODES, MAX_QUANTITY, SKU_PATTERN } from '../contract';
import { cartView, type CartDoc, type CartView } from '../db/carts';
import { Directory } from '../db/directory';
import { CheckoutError } from '../errors';

export interface ApiDeps {
  checkout: CheckoutClient;
  temporal: Client;
  db: Db;
  tokens: Map<string, ApiRole>;
  /** The Temporal SDK runtime's Prometheus endpoint, appended to /metrics when given. */
  temporalMetricsUrl?: string;
  log?: (entry: Record<string, unknown>) => void;
}

export const BODY_LIMIT = 1024 * 1024;

/** An error the API answers with: a status and a code (the domain's, or UNAUTHENTICATED / INTERNAL_ERROR). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: CART_ID_PATTERN.source } as const;
const SKU = { type: 'string', minLength: 1, maxLength: 128, pattern: SKU_PATTERN.source } as const;
const QUANTITY = { type: 'integer', minimum: 1, maximum: MAX_QUANTITY } as const;
const params = (...names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, n === 'sku' ? SKU : ID])),
  required: names,
  additionalProperties: false,
});
const body = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const EMPTY_BODY = body({});
const buyerHeaders = {
  type: 'object',
  properties: { 'x-effective-account-id': ID },
  required: ['x-effective-account-id'],
};

interface Auth {
  role: ApiRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: Auth;
  }
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const directory = new Directory(deps.db);
  const carts = deps.db.collection<CartDoc>('carts');
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Long ids reach the schema (400 INVALID_INPUT) instead of the router's bare 414.
    maxParamLength: 1024,
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
    else jsonParser(req, body as string, done);
  });

  // ---- metrics
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'b2b_api_' });
  const requests = new Counter({
    name: 'b2b_api_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'b2b_api_request_duration_seconds',
    help: 'HTTP request duration by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    deps.log?.({
      msg: 'request',
      reqId: req.id,
      method: req.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      ...(req.params && typeof req.params === 'object' && 'cartId' in req.params ? { cartId: (req.params as { cartId: string }).cartId } : {}),
    });
  });

  // ---- errors
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const { status, errorCode, message } = describeError(err);
    if (status >= 500) deps.log?.({ level: 'error', msg: 'request failed', reqId: req.id, error: String(err), stack: err.stack });
    void reply.status(status).send([{ errorCode, message }]);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send([{ errorCode: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}.` }]);
  });

  // ---- authentication: every route but /healthz and /metrics
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (path === '/healthz' || path === '/metrics') return;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/.exec(header) : null;
    const role = match ? deps.tokens.get(match[1]) : undefined;
    if (!role) throw new HttpError(401, 'UNAUTHENTICATED', 'A valid bearer token is required (Authorization: Bearer <token>).');
    req.auth = { role };
  });

  // A POST without a body is an empty object, so routes whose body is optional accept both.
  app.addHook('preValidation', async (req) => {
    if ((req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') && req.body === undefined) req.body = {};
  });

  const requireAdmin = async (req: FastifyRequest) => {
    if (req.auth?.role !== 'admin') throw new CheckoutError('INSUFFICIENT_ACCESS', 'This route needs an admin token.');
  };

  /** The requirement checks of DOMAIN.md, in order; nothing has been written when one fails. */
  const effectiveAccount = async (req: FastifyRequest): Promise<string> => {
    const accountId = req.headers['x-effective-account-id'] as string;
    const account = await directory.getAccount(accountId);
    if (!account || !account.active) {
      throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account is not valid.', {});
    }
    return accountId;
  };
  const ownedCart = async (req: FastifyRequest<{ Params: { cartId: string } }>): Promise<CartDoc> => {
    const accountId = await effectiveAccount(req);
    const cart = await carts.findOne({ _id: req.params.cartId });
    if (!cart) throw new CheckoutError('NOT_FOUND', `Cart ${req.params.cartId} was not found.`, {});
    if (cart.accountId !== accountId) throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account does not own this cart.', {});
    if (!cart.webstoreId || !(await directory.isMember(cart.webstoreId, accountId))) {
      throw new CheckoutError('INSUFFICIENT_ACCESS', "The effective account is not a member of the cart's store.", {});
    }
    return cart;
  };

  // ---- health and metrics
  app.get('/healthz', async (_req, reply) => {
    const [temporal, mongodb] = await Promise.all([
      deps.temporal.workflowService.getSystemInfo({}).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
      deps.db.command({ ping: 1 }).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
    ]);
    void reply.status(temporal === 'ok' && mongodb === 'ok' ? 200 : 503).send({ temporal, mongodb });
  });
  app.get('/metrics', async (_req, reply) => {
    let text = await registry.metrics();
    if (deps.temporalMetricsUrl) {
      try {
        const res = await fetch(deps.temporalMetricsUrl, { signal: AbortSignal.timeout(2000) });
        text += `\n# Temporal SDK runtime metrics (worker)\n${await res.text()}`;
      } catch (err) {
        text += `\n# Temporal SDK runtime metrics unavailable: ${(err as Error).message}\n`;
      }
    }
    void reply.type(registry.contentType).send(text);
  });

  // ---- admin
  app.put<{ Params: { webstoreId: string }; Body: { name: string } }>(
    '/webstores/:webstoreId',
    { schema: { params: params('webstoreId'), body: body({ name: { type: 'string', minLength: 1, maxLength: 200 } }, ['name']) }, onRequest: requireAdmin },
    async (req) => directory.upsertStore(req.params.webstoreId, req.body.name),
  );
  app.put<{ Params: { accountId: string }; Body: { name: string; active: boolean } }>(
    '/accounts/:accountId',
    {
      schema: {
        params: params('accountId'),
        body: body({ name: { type: 'string', minLength: 1, maxLength: 200 }, active: { type: 'boolean' } }, ['name', 'active']),
      },
      onRequest: requireAdmin,
    },
    async (req) => directory.upsertAccount(req.params.accountId, req.body.name, req.body.active),
  );
  app.put<{ Params: { webstoreId: string; accountId: string } }>(
    '/webstores/:webstoreId/members/:accountId',
    { schema: { params: params('webstoreId', 'accountId') }, onRequest: requireAdmin },
    async (req) => directory.addMember(req.params.webstoreId, req.params.accountId),
  );

  // ---- carts
  app.post<{ Params: { webstoreId: string } }>(
    '/webstores/:webstoreId/carts',
    { schema: { params: params('webstoreId'), headers: buyerHeaders, body: EMPTY_BODY } },
    async (req, reply) => {
      const accountId = await effectiveAccount(req);
      if (!(await directory.isMember(req.params.webstoreId, accountId))) {
        throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account is not a member of this store.', {});
      }
      const cart = await deps.checkout.createCart({ webstoreId: req.params.webstoreId, accountId, cartId: randomUUID() });
      void reply.status(201).send(publicCart(cart));
    },
  );

  app.get<{ Params: { cartId: string } }>(
    '/carts/:cartId',
    { schema: { params: params('cartId'), headers: buyerHeaders } },
    async (req) => publicCart(cartView(await ownedCart(req))),
  );

  app.post<{ Params: { cartId: string }; Body: { sku: string; quantity: number; unitPrice?: number } }>(
    '/carts/:cartId/items',
    {
      schema: {
        params: params('cartId'),
        headers: buyerHeaders,
        body: body({ sku: SKU, quantity: QUANTITY, unitPrice: { type: 'number', minimum: 0, maximum: 1e9 } }, ['sku', 'quantity']),
      },
    },
    async (req, reply) => {
      await ownedCart(req);
      const { sku, quantity, unitPrice } = req.body;
      const result = await deps.checkout.addItem(req.params.cartId, sku, quantity, {
        ...(unitPrice !== undefined ? { unitPrice } : {}),
        requestedBy: requester(req),
      });
      void reply.status(201).send(result);
    },
  );
  app.patch<{ Params: { cartId: string; sku: string }; Body: { quantity: number } }>(
    '/carts/:cartId/items/:sku',
    {
      schema: {
        params: params('cartId', 'sku'),
        headers: buyerHeaders,
        body: body({ quantity: { type: 'integer', minimum: 0, maximum: MAX_QUANTITY } }, ['quantity']),
      },
    },
    async (req) => {
      await ownedCart(req);
      return deps.checkout.setItemQuantity(req.params.cartId, req.params.sku, req.body.quantity, requester(req));
    },
  );
  app.delete<{ Params: { cartId: string; sku: string } }>(
    '/carts/:cartId/items/:sku',
    { schema: { params: params('cartId', 'sku'), headers: buyerHeaders } },
    async (req) => {
      await ownedCart(req);
      return deps.checkout.removeItem(req.params.cartId, req.params.sku, requester(req));
    },
  );

  // ---- checkout
  app.post<{ Params: { cartId: string } }>(
    '/carts/:cartId/checkouts',
    { schema: { params: params('cartId'), headers: buyerHeaders, body: EMPTY_BODY } },
    async (req, reply) => {
      await ownedCart(req);
      const started = await deps.checkout.startCheckout(req.params.cartId, { requestedBy: requester(req) });
      void reply.status(started.started ? 202 : 200).send({
        checkoutId: started.checkoutId,
        runId: started.runId,
        status: 'Checkout',
        state: started.view.state,
        started: started.started,
      });
    },
  );
  app.delete<{ Params: { cartId: string }; Querystring: { wait?: 'true' | 'false'; reason?: string } }>(
    '/carts/:cartId/checkouts/active',
    {
      schema: {
        params: params('cartId'),
        headers: buyerHeaders,
        querystring: {
          type: 'object',
          properties: { wait: { type: 'string', enum: ['true', 'false'] }, reason: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Z][A-Z0-9_]*$' } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      await ownedCart(req);
      const wait = req.query.wait !== 'false';
      const answer = await deps.checkout.cancelCheckout(req.params.cartId, {
        wait,
        reason: req.query.reason ?? 'REQUESTED',
        requestedBy: requester(req),
      });
      if ('accepted' in answer) {
        void reply.status(202).send({ ...answer, message: 'The cancel request was accepted; the cart is unlocked shortly.' });
        return;
      }
      void reply.status(200).send({
        ...answer,
        message: answer.canceled ? 'The checkout was canceled; the cart is Active.' : 'No checkout was running; nothing to cancel.',
      });
    },
  );
  app.post<{ Params: { cartId: string } }>(
    '/carts/:cartId/checkouts/active/orders',
    { schema: { params: params('cartId'), headers: buyerHeaders, body: EMPTY_BODY } },
    async (req, reply) => {
      await ownedCart(req);
      const placed = await deps.checkout.placeOrder(req.params.cartId, requester(req));
      void reply.status(201).send(placed);
    },
  );

  await app.ready();
  return app;
}

function requester(req: FastifyRequest): string {
  const account = req.headers['x-effective-account-id'];
  return `${req.auth?.role ?? 'unknown'}:${typeof account === 'string' ? account : '-'}`;
}

type PublicCart = Omit<CartView, 'archivedSessions'> & { archivedSessionCount: number };

function publicCart(view: CartView): PublicCart {
  const { archivedSessions: _recent, ...rest } = view;
  return { ...rest, archivedSessionCount: view.archivedSessionCount };
}

function describeError(err: FastifyError | Error): { status: number; errorCode: string; message: string } {
  if (err instanceof HttpError) return { status: err.statusCode, errorCode: err.errorCode, message: err.message };
  if (err instanceof CheckoutError) return { status: ERROR_CODES[err.errorCode], errorCode: err.errorCode, message: err.message };
  const fe = err as FastifyError;
  if (fe.validation) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: `${fe.validationContext ?? 'request'}${fe.message.replace(/^[a-z]+/, '')}` };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: `The body is larger than ${BODY_LIMIT} bytes.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: 'The body must be JSON (Content-Type: application/json).' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  return { status: 500, errorCode: 'INTERNAL_ERROR', message: 'Something went wrong; it has been logged.' };
}

export type { FastifyInstance, FastifyReply };

/**
 * The HTTP API for services and storefronts. Every buyer route checks, before it does anything:
 * the bearer token, the effective account (exists, active, owns the cart, member of the cart's store).
 * Errors are `[{ errorCode, message }]` with the statuses of DOMAIN.md.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isGrpcDeadlineError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckoutClient } from '../client';
import { DEFAULTS, type ApiRole } from '../config';
import { CART_ID_PATTERN, MAX_QUANTITY, SKU_PATTERN, checkoutWorkflowId, type ItemChange } from '../contract';
import { cartView, type CartDoc, type CartView } from '../db/carts';
import { Directory } from '../db/directory';
import { IdempotencyStore } from '../db/idempotency';
import { CheckoutError } from '../errors';
import { BODY_LIMIT, HttpError, RETRY_AFTER_S, describeError } from './errors';
import { keepOpen, registerIdempotency, requestIdOf, sha256, uuidOf } from './idempotency';

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
  /** The token's identity: a hash, never the token. Scopes Idempotency-Keys. */
  tokenId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: Auth;
  }
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const directory = new Directory(deps.db);
  const carts = deps.db.collection<CartDoc>('carts');
  const waitMs = deps.waitMs ?? DEFAULTS.apiWaitMs;
  const idempotency = new IdempotencyStore(deps.db, deps.idempotencyTtlS ?? DEFAULTS.idempotencyTtlS);
  /** Every Temporal call fn makes gets the API's deadline, so no request waits on a lost worker for long. */
  const withinWait = <T>(fn: () => Promise<T>, ms = waitMs): Promise<T> => deps.checkout.client.withDeadline(Date.now() + ms, fn);
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
    const { status, errorCode, message, retryAfterS } = describeError(err);
    if (status >= 500) {
      deps.log?.({ level: status === 503 ? 'warn' : 'error', msg: 'request failed', reqId: req.id, error: String(err), stack: err.stack });
    }
    if (retryAfterS) void reply.header('retry-after', String(retryAfterS));
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
    const token = match?.[1];
    const role = token ? deps.tokens.get(token) : undefined;
    if (!token || !role) throw new HttpError(401, 'UNAUTHENTICATED', 'A valid bearer token is required (Authorization: Bearer <token>).');
    req.auth = { role, tokenId: sha256(token).slice(0, 24) };
  });

  registerIdempotency(app, {
    store: idempotency,
    inFlightWaitMs: Math.min(2000, waitMs),
    // Longer than any request can run: its Temporal waits, the fallbacks, MongoDB timeouts.
    claimMs: 2 * waitMs + 60_000,
    scope: (req) => req.auth?.tokenId ?? 'none',
    ...(deps.log ? { log: deps.log } : {}),
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
      deps.temporal.withDeadline(Date.now() + 3000, () => deps.temporal.workflowService.getSystemInfo({})).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
      deps.db.command({ ping: 1 }).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
    ]);
    const ok = temporal === 'ok' && mongodb === 'ok';
    if (!ok) void reply.header('retry-after', String(RETRY_AFTER_S.UNAVAILABLE));
    return reply.status(ok ? 200 : 503).send({ temporal, mongodb });
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
    return reply.type(registry.contentType).send(text);
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
      // With an Idempotency-Key the cart id comes from it: a retry whose first answer was lost finds that cart.
      const cart = await deps.checkout.createCart({ webstoreId: req.params.webstoreId, accountId, cartId: uuidOf(req) ?? randomUUID() });
      return reply.status(201).send(publicCart(cart));
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
      const { sku, quantity, unitPrice } = req.body;
      return changeItems(req, reply, { op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) }, 201);
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
    async (req, reply) => changeItems(req, reply, { op: 'set', sku: req.params.sku, quantity: req.body.quantity }, 200),
  );
  app.delete<{ Params: { cartId: string; sku: string } }>(
    '/carts/:cartId/items/:sku',
    { schema: { params: params('cartId', 'sku'), headers: buyerHeaders } },
    async (req, reply) => changeItems(req, reply, { op: 'remove', sku: req.params.sku }, 200),
  );

  /**
   * An item change, exactly once per request id (from the Idempotency-Key, else new). When it is not
   * done within the wait, 202: it completes durably, and the same request with the same key answers
   * its result (the first attempt's, never a second change).
   */
  const changeItems = async (req: FastifyRequest<{ Params: { cartId: string } }>, reply: FastifyReply, change: ItemChange, status: number) => {
    await ownedCart(req);
    const answer = await deps.checkout.changeItemsWithin(req.params.cartId, change, waitMs, {
      requestedBy: requester(req),
      requestId: requestIdOf(req) ?? randomUUID(),
    });
    if ('accepted' in answer) {
      keepOpen(req);
      return reply.status(202).send({
        ...answer,
        message: req.idempotency
          ? 'The change was accepted and completes durably; repeat this request with the same Idempotency-Key for its result.'
          : 'The change was accepted and completes durably; GET the cart to see it (send an Idempotency-Key to be able to ask for the result).',
      });
    }
    return reply.status(status).send(answer);
  };

  // ---- checkout
  app.post<{ Params: { cartId: string } }>(
    '/carts/:cartId/checkouts',
    { schema: { params: params('cartId'), headers: buyerHeaders, body: EMPTY_BODY } },
    async (req, reply) => {
      await ownedCart(req);
      const cartId = req.params.cartId;
      let started;
      try {
        started = await withinWait(() => deps.checkout.startCheckout(cartId, { requestedBy: requester(req) }));
      } catch (err) {
        if (!waitExpired(err)) throw err;
        // No lock within the wait (no worker?): the start itself is durable once the run exists.
        const runId = await withinWait(() => deps.checkout.client.workflow.getHandle(checkoutWorkflowId(cartId)).describe(), 3000).then(
          (d) => (d.status.name === 'RUNNING' ? d.runId : undefined),
          () => undefined,
        );
        if (!runId) throw err;
        keepOpen(req);
        return reply.status(202).send({
          checkoutId: checkoutWorkflowId(cartId),
          runId,
          accepted: true,
          message: 'The checkout was started; it locks the cart when a worker runs it. GET the cart to see its state.',
        });
      }
      return reply.status(started.started ? 202 : 200).send({
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
      const cartId = req.params.cartId;
      const options = { reason: req.query.reason ?? 'REQUESTED', requestedBy: requester(req) };
      let answer;
      if (req.query.wait === 'false') {
        answer = await withinWait(() => deps.checkout.cancelCheckout(cartId, { ...options, wait: false }));
      } else {
        try {
          answer = await withinWait(() => deps.checkout.cancelCheckout(cartId, { ...options, wait: true }));
        } catch (err) {
          if (!waitExpired(err)) throw err;
          // The Update got no answer in time (no worker?), and an Update not yet accepted by a worker is
          // not durable: send the signal too, which is. The workflow's cancel handler is idempotent.
          const accepted = await withinWait(() => deps.checkout.cancelCheckout(cartId, { ...options, wait: false }), Math.min(waitMs, 5000));
          return reply.status(202).send({
            ...accepted,
            message: `The checkout did not confirm within ${waitMs} ms; the cancel request is recorded and the checkout unlocks the cart when it runs.`,
          });
        }
      }
      if ('accepted' in answer) {
        return reply.status(202).send({ ...answer, message: 'The cancel request was accepted; the cart is unlocked shortly.' });
      }
      return reply.status(200).send({
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
      const placed = await withinWait(() => deps.checkout.placeOrder(req.params.cartId, requester(req)));
      return reply.status(201).send(placed);
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

/** The wait given to Temporal calls ran out (a gRPC deadline, or an Update's poll). */
function waitExpired(err: unknown): boolean {
  return isGrpcDeadlineError(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
}

export type { FastifyInstance, FastifyReply };

/**
 * The OpenAPI 3.1 document of the API, generated from the same TypeBox schemas that validate the
 * requests (@fastify/swagger), served at GET /openapi.json, and the interactive reference at
 * GET /docs (Swagger UI from the @fastify/swagger-ui package: its assets come from this server,
 * no CDN). Both are served without a token, like /healthz.
 *
 * What every route shares is added here, in one onRoute hook, so routes added later get it too: the
 * error answers `[{ errorCode, message }]` with the codes a route of its kind can answer, the
 * Idempotency-Key header of POST/PUT/PATCH/DELETE, and no security requirement on the open routes.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { REQUEST_ID_PATTERN, type ErrorCode } from '../contract';
import { version as PACKAGE_VERSION } from '../../package.json';
import { isOpenPath, requireAdmin } from './auth';
import { API_ERROR_STATUS, type ApiErrorCode } from './errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Error codes this route can answer besides those every route of its kind can (documentation only). */
    errorCodes?: ErrorCode[];
    /** The body as documented, for a route whose body another layer checks (it then has no body schema). */
    documentedBody?: TSchema;
  }
}

export const DOCS_PREFIX = '/docs';
export const OPENAPI_PATH = '/openapi.json';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const DESCRIPTION = [
  'Durable B2B checkout on Temporal and MongoDB: carts, their items, and one checkout workflow per cart that locks it while its steps run.',
  'Every route but /healthz, /metrics, /openapi.json and /docs needs `Authorization: Bearer <token>` (a service or an admin token).',
  'Errors are `[{ "errorCode": "...", "message": "..." }]`; 429 and 503 carry Retry-After.',
  'Send an `Idempotency-Key` with every POST, PUT, PATCH and DELETE you may retry: the same request with the same key gets the first answer, and never runs twice.',
].join('\n\n');

/** The error codes a route can answer, by what the route is. */
export function errorCodesOf(route: Pick<RouteOptions, 'method' | 'url' | 'schema' | 'onRequest' | 'config'>): ApiErrorCode[] {
  if (isOpenPath(route.url)) return [];
  const codes = new Set<ApiErrorCode>(['INVALID_INPUT', 'UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE']);
  const schema = (route.schema ?? {}) as { params?: unknown; headers?: { properties?: Record<string, unknown> } };
  const buyer = Object.keys(schema.headers?.properties ?? {}).some((h) => h.toLowerCase() === 'x-effective-account-id');
  const admin = [route.onRequest ?? []].flat().includes(requireAdmin);
  if (buyer || admin) codes.add('INSUFFICIENT_ACCESS');
  if (buyer || schema.params) codes.add('NOT_FOUND');
  if ([route.method].flat().some((m) => MUTATING.has(m))) {
    codes.add('CHECKOUT_CONFLICT'); // an Idempotency-Key whose first request is still in flight
    codes.add('IDEMPOTENCY_KEY_REUSED');
  }
  for (const code of (route.config as { errorCodes?: ErrorCode[] } | undefined)?.errorCodes ?? []) codes.add(code);
  return [...codes];
}

const errorAnswer = (codes: string[]) =>
  Type.Array(Type.Object({ errorCode: Type.Enum(codes), message: Type.String() }), {
    description: `An error: ${codes.join(', ')}.`,
    minItems: 1,
  });

const idempotencyKey = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 128,
    description: `Makes a retry safe: the same request with the same key (${REQUEST_ID_PATTERN.source}) answers the first answer; a different request with it 422.`,
  }),
);

/** Adds the shared parts to a route's schema (before fastify compiles it and swagger reads it). */
function completeSchema(route: RouteOptions): void {
  const schema = (route.schema ??= {}) as Record<string, unknown> & { response?: Record<string, unknown>; headers?: TSchema };
  if (isOpenPath(route.url)) {
    schema.security = [];
  } else if ([route.method].flat().some((m) => MUTATING.has(m))) {
    const headers = (schema.headers ?? Type.Object({})) as TSchema & { properties: Record<string, TSchema>; required?: string[] };
    schema.headers = { ...headers, properties: { ...headers.properties, 'Idempotency-Key': idempotencyKey } };
  }
  const byStatus = new Map<number, string[]>();
  for (const code of errorCodesOf(route)) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  if (byStatus.size === 0) return;
  const response = (schema.response ??= {});
  for (const [status, codes] of byStatus) response[status] ??= errorAnswer(codes);
}

/** The document, the docs page and the shared route parts: call before any route is added. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Before swagger's own onRoute hook, so the document sees the completed schemas.
  app.addHook('onRoute', completeSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'b2b-checkout HTTP API', version: PACKAGE_VERSION, description: DESCRIPTION },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A service or admin token of API_TOKENS.' } },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'carts', description: "A buyer's carts, acting for the account in X-Effective-Account-Id." },
        { name: 'items', description: "A cart's items; a running checkout is cancelled (or recalculated) first." },
        { name: 'checkout', description: "A cart's checkout: start, cancel, place the order." },
        { name: 'admin', description: 'Stores, accounts, memberships and store integrations (an admin token).' },
        { name: 'operations', description: 'Health, metrics and this document (no token).' },
      ],
    },
    transform: ({ schema, url, route }) => {
      const documented = (route.config as { documentedBody?: TSchema } | undefined)?.documentedBody;
      return { schema: documented ? { ...schema, body: documented } : schema, url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
    uiConfig: { validatorUrl: null, deepLinking: true, persistAuthorization: false },
    logLevel: 'warn',
  });
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        summary: 'This API as an OpenAPI 3.1 document',
        tags: ['operations'],
        response: { 200: Type.Object({ openapi: Type.String(), paths: Type.Object({}) }, { additionalProperties: true }) },
      },
    },
    async () => app.swagger(),
  );
}

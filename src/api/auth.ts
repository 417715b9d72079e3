/**
 * Who is calling: a bearer token (every route but /healthz, /metrics, /openapi.json and /docs) with its role, and for
 * buyer routes the effective account of X-Effective-Account-Id. The account's own checks (valid,
 * owns the cart, member of the store) are the cart service's.
 */
import bearerAuth from '@fastify/bearer-auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiRole } from '../config';
import { CheckoutError } from '../contract';
import { HttpError } from './errors';
import { sha256 } from './idempotency';

const OPEN_PATHS = new Set(['/healthz', '/metrics', '/openapi.json', '/docs']);

/** Routes served without a token: health, metrics, the OpenAPI document and the docs page with its assets. */
export function isOpenPath(path: string): boolean {
  const p = path.split('?')[0];
  return OPEN_PATHS.has(p) || p.startsWith('/docs/');
}

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

const UNAUTHENTICATED = 'A valid bearer token is required (Authorization: Bearer <token>).';

/**
 * Bearer tokens checked by @fastify/bearer-auth: every configured token is compared in constant time
 * (crypto.timingSafeEqual), so how long a refusal takes says nothing about how close a guess was.
 * Only a token that passed is then looked up for its role.
 */
export async function registerAuth(app: FastifyInstance, tokens: Map<string, ApiRole>): Promise<void> {
  await app.register(bearerAuth, { keys: new Set(tokens.keys()), addHook: false, verifyErrorLogLevel: 'debug' });
  app.addHook('onRequest', (req, reply, done) => {
    // The matched route's pattern, not the raw URL: no spelling of a path reaches a route without its check.
    if (isOpenPath(req.routeOptions.url ?? req.url)) return done();
    app.verifyBearerAuth!(req, reply, (err) => {
      if (err) return done(new HttpError(401, 'UNAUTHENTICATED', UNAUTHENTICATED));
      const token = (req.headers.authorization ?? '').slice('Bearer '.length).trim();
      const role = tokens.get(token);
      if (!role) return done(new HttpError(401, 'UNAUTHENTICATED', UNAUTHENTICATED));
      req.auth = { role, tokenId: sha256(token).slice(0, 24) };
      done();
    });
  });
}

/** onRequest guard of the admin routes. */
export async function requireAdmin(req: FastifyRequest): Promise<void> {
  if (req.auth?.role !== 'admin') throw new CheckoutError('INSUFFICIENT_ACCESS', 'This route needs an admin token.');
}

/** The token scope of a request's Idempotency-Keys. */
export function tokenScope(req: FastifyRequest): string {
  return req.auth?.tokenId ?? 'none';
}

/** The effective account of a buyer route (its schema requires the header). */
export function effectiveAccountId(req: Pick<FastifyRequest, 'headers'>): string {
  return req.headers['x-effective-account-id'] as string;
}

/** Who asks, as recorded on sessions and changes: the token's role and the effective account. */
export function requester(req: Pick<FastifyRequest, 'headers' | 'auth'>): string {
  const account = req.headers['x-effective-account-id'];
  return `${req.auth?.role ?? 'unknown'}:${typeof account === 'string' ? account : '-'}`;
}

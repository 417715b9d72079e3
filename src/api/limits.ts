/**
 * What protects the API from its callers and browsers: per-token rate limits (@fastify/rate-limit;
 * a runaway client would otherwise start a workflow per item change) and security headers
 * (@fastify/helmet). Register after the bearer check (./auth.ts): the limit counts per token.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors';

export interface LimitOptions {
  /** Requests a minute per bearer token (RATE_LIMIT_PER_MIN); 0: no limit. */
  perMinute: number;
}

export async function registerLimits(app: FastifyInstance, options: LimitOptions): Promise<void> {
  // The default CSP fits the docs page (its scripts and styles are its own files). Not
  // upgrade-insecure-requests: the API is often served over plain HTTP on loopback or behind a proxy.
  await app.register(helmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  if (options.perMinute === 0) return;
  await app.register(rateLimit, {
    max: options.perMinute,
    timeWindow: 60_000,
    // The token's identity (a hash), set by the bearer check; open routes (no token) are not limited.
    keyGenerator: (req) => req.auth?.tokenId ?? req.ip,
    allowList: (req) => req.auth === undefined,
    errorResponseBuilder: (_req, context) =>
      new HttpError(
        429,
        'RATE_LIMITED',
        `This token made more than ${context.max} requests in a minute; retry in ${context.after}.`,
        Math.max(1, Math.ceil(context.ttl / 1000)),
      ),
  });
}

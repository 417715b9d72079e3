/**
 * The Idempotency-Key header of every POST, PUT, PATCH and DELETE, as one hook pair: preHandler claims
 * the key (or replays the stored answer, or refuses a reused key), onSend stores the final answer or
 * gives the key up. Routes only read `req.idempotency` to derive their request ids from the key.
 *
 * The key is scoped to the bearer token; the request's fingerprint covers method, route, params,
 * query, body, effective account and token. Stored: 2xx and final 4xx answers. Not stored, so a retry
 * runs again: 5xx (503 included), 408, 409 and 429, and answers a route marks as not final (work
 * still going on, see keepOpen).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CheckoutError, REQUEST_ID_PATTERN } from '../contract';
import type { IdempotencyStore } from '../db';
import { HttpError } from './errors';

export interface IdempotencyState {
  /** The document id: token scope + key. */
  id: string;
  /** sha256 of id and fingerprint: what routes derive request ids and cart ids from. */
  hash: string;
  claimId: string | undefined;
  /** False when the answer is not final (the work goes on); the key is then given up, not stored. */
  final: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: IdempotencyState;
  }
}

const METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NOT_STORED = new Set([408, 409, 429]);

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** How long a request with a key in flight waits for the first one's answer before 409. */
  inFlightWaitMs: number;
  /** How long a claim holds without an answer before another request may take it over. */
  claimMs: number;
  /** The token's identity (not the token itself) for a request. */
  scope: (req: FastifyRequest) => string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted, so the same request always has the same fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Request ids (item changes) derived from the key: the same request with the same key, the same id. */
export function requestIdOf(req: Pick<FastifyRequest, 'idempotency'>): string | undefined {
  return req.idempotency ? `idem-${req.idempotency.hash.slice(0, 40)}` : undefined;
}

/** A UUID-shaped id derived from the key (new carts), so even a lost answer can't create a second cart. */
export function uuidOf(req: Pick<FastifyRequest, 'idempotency'>): string | undefined {
  const h = req.idempotency?.hash;
  return h ? `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}` : undefined;
}

/** The answer is not final (the work goes on durably): a retry with the key must run again and see the outcome. */
export function keepOpen(req: Pick<FastifyRequest, 'idempotency'>): void {
  if (req.idempotency) req.idempotency.final = false;
}

export function registerIdempotency(app: FastifyInstance, options: IdempotencyOptions): void {
  const { store } = options;

  app.addHook('preHandler', async (req, reply) => {
    if (!METHODS.has(req.method)) return;
    const key = req.headers['idempotency-key'];
    if (key === undefined) return;
    if (typeof key !== 'string' || !REQUEST_ID_PATTERN.test(key)) {
      throw new CheckoutError('INVALID_INPUT', 'Idempotency-Key must be 1-128 letters, digits or _ . : - starting with a letter or digit.', {});
    }
    const scope = options.scope(req);
    const fingerprint = sha256(
      canonical({
        method: req.method,
        route: req.routeOptions.url,
        params: req.params,
        query: req.query,
        body: req.body,
        account: req.headers['x-effective-account-id'],
        scope,
      }),
    );
    const id = `${scope}:${key}`;
    const waitUntil = Date.now() + options.inFlightWaitMs;
    for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
      const claim = await store.claim(id, fingerprint, options.claimMs);
      switch (claim.kind) {
        case 'claimed':
          req.idempotency = { id, hash: sha256(`${id}\n${fingerprint}`), claimId: claim.claimId, final: true };
          return;
        case 'done':
          return reply.code(claim.status).header('content-type', 'application/json; charset=utf-8').header('idempotent-replayed', 'true').send(claim.body);
        case 'mismatch':
          throw new CheckoutError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request.', {});
        case 'pending':
          if (Date.now() >= waitUntil) {
            throw new HttpError(409, 'CHECKOUT_CONFLICT', 'A request with this Idempotency-Key is in progress; retry shortly for its answer.', 1);
          }
          await new Promise((r) => setTimeout(r, delay));
      }
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const state = req.idempotency;
    const claimId = state?.claimId;
    if (!state || !claimId) return payload;
    state.claimId = undefined;
    const status = reply.statusCode;
    const stored = state.final && typeof payload === 'string' && status < 500 && !NOT_STORED.has(status);
    try {
      if (stored) await store.complete(state.id, claimId, status, payload);
      else await store.release(state.id, claimId);
    } catch (err) {
      // The answer still goes out; the claim expires (claimMs) and a retry then runs the request again,
      // which the request ids derived from the key make safe.
      req.log.warn({ error: err }, 'idempotency key not updated');
    }
    return payload;
  });
}

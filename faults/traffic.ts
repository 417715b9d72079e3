/**
 * What callers do, each request written to the ledger with every answer: the HTTP API as storefronts
 * and services call it (bearer token, effective account, Idempotency-Key where a client would send
 * one), and the client library as services use it (the cancelCheckout signal, the cancel Update).
 * Retries are a caller's: only with an Idempotency-Key or for requests that are idempotent by nature
 * (start, cancel), on 503/429 or no answer, until a definite answer or a deadline.
 */
import { randomUUID } from 'node:crypto';
import { findCheckoutError } from '../src/contract/failures';
import { Ledger, type Answer, type Op, type OpKind, type Via } from './ledger';
import { sleep } from './log';
import type { FaultStack } from './stack';

export const STORE = 'faults-store';
export const ACCOUNT = 'faults-acct';
/** A caller that waits longer than this for an answer has seen no answer. */
export const ANSWER_TIMEOUT_MS = 60000;

interface HttpResult {
  answer: Answer;
  body?: unknown;
  /** Retry-After of a 503/429, in ms. */
  retryAfterMs?: number;
}

export interface CallOptions {
  /** Send with this Idempotency-Key (and retry with it). */
  key?: string;
  /** Retry on 503/429/no answer until this deadline (ms from now); 0: one attempt. */
  retryForMs?: number;
  repeatOf?: number;
}

export class Traffic {
  constructor(
    readonly stack: FaultStack,
    readonly ledger: Ledger,
  ) {}

  private async httpOnce(method: string, path: string, body: unknown, token: string, key: string | undefined): Promise<HttpResult> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'x-effective-account-id': ACCOUNT };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers['idempotency-key'] = key;
    const apiDown = this.stack.api === undefined;
    try {
      const res = await fetch(`${this.stack.apiUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text, and an error answer without a code
      }
      const code = res.status >= 400 ? (errorCodeOf(parsed) ?? '(none)') : undefined;
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        answer: { at: Date.now(), status: res.status, ...(code ? { code } : {}) },
        body: parsed,
        ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${ANSWER_TIMEOUT_MS / 1000}s` : (e.cause?.code ?? e.message);
      return { answer: { at: Date.now(), error: why, apiDown: apiDown || this.stack.api === undefined } };
    }
  }

  /** An admin or setup call: retried until it succeeds (the stack is up when the suite sets up). */
  async admin(method: string, path: string, body?: unknown, token = this.stack.tokens.admin): Promise<unknown> {
    let last: HttpResult | undefined;
    for (let i = 0; i < 60; i++) {
      last = await this.httpOnce(method, path, body, token, undefined);
      if (last.answer.status !== undefined && last.answer.status < 300) return last.body;
      await sleep(500);
    }
    throw new Error(`${method} ${path}: ${JSON.stringify(last)}`);
  }

  async setupDirectory(): Promise<void> {
    await this.admin('PUT', `/webstores/${STORE}`, { name: 'Fault suite store' });
    await this.admin('PUT', `/accounts/${ACCOUNT}`, { name: 'Fault suite buyer', active: true });
    await this.admin('PUT', `/webstores/${STORE}/members/${ACCOUNT}`);
  }

  /** A cart with one item (checkouts of empty carts are refused), both through the API. */
  async newCart(client = 'setup', store = STORE): Promise<string> {
    const created = (await this.admin('POST', `/webstores/${store}/carts`, undefined, this.stack.tokens.service)) as { cartId: string };
    await this.changeItem(client, created.cartId, 'add', `${client}-base`, 1, { key: `base-${created.cartId}`, retryForMs: 60000 });
    return created.cartId;
  }

  /** One HTTP operation, recorded, with the caller's retries. */
  async httpOp(
    meta: { client: string; cartId: string; kind: OpKind; sku?: string; quantity?: number },
    method: string,
    path: string,
    body: unknown,
    opts: CallOptions & { retryable: boolean },
  ): Promise<Op> {
    const op = this.ledger.begin({ ...meta, via: 'http', ...(opts.key ? { key: opts.key } : {}), ...(opts.repeatOf ? { repeatOf: opts.repeatOf } : {}) });
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    for (;;) {
      const r = await this.httpOnce(method, path, body, this.stack.tokens.service, opts.key);
      op.answers.push(r.answer);
      op.body = r.body;
      const s = r.answer.status;
      const accepted = s === 202 && (r.body as { accepted?: unknown } | undefined)?.accepted === true;
      if (accepted && isItemChange(meta.kind)) {
        // Accepted, still running: the same request with the same key later answers its outcome.
        op.outcome = 'accepted';
        if (!opts.key || Date.now() >= deadline) break;
      } else if (s !== undefined && s < 300) {
        op.outcome = 'applied';
        break;
      } else if (s === 409 && opts.key && r.retryAfterMs !== undefined) {
        // "A request with this Idempotency-Key is in progress": ask again.
        op.outcome = 'unknown';
        if (Date.now() >= deadline) break;
      } else if (s !== undefined && s < 500 && s !== 429) {
        op.outcome = 'refused';
        break;
      } else {
        op.outcome = 'unknown';
        if (!opts.retryable || Date.now() >= deadline) break;
      }
      await sleep(Math.min(2000, r.retryAfterMs ?? 500));
    }
    op.doneAt = Date.now();
    this.observe(op);
    return op;
  }

  private observe(op: Op): void {
    const body = op.body as Record<string, unknown> | Array<Record<string, unknown>> | undefined;
    if (op.kind === 'order' && op.outcome === 'applied' && body && !Array.isArray(body) && typeof body.orderId === 'string') {
      op.orderId = body.orderId;
      this.ledger.observeClosed(op.cartId);
    }
    if (body && !Array.isArray(body) && body.status === 'Closed') this.ledger.observeClosed(op.cartId);
    if (Array.isArray(body) && body[0]?.errorCode === 'INVALID_OPERATION' && /closed/i.test(String(body[0]?.message))) {
      this.ledger.observeClosed(op.cartId);
    }
  }

  start(client: string, cartId: string, opts: CallOptions = {}): Promise<Op> {
    return this.httpOp({ client, cartId, kind: 'start' }, 'POST', `/carts/${cartId}/checkouts`, undefined, { retryable: true, ...opts });
  }

  cancelHttp(client: string, cartId: string, wait: boolean, opts: CallOptions = {}): Promise<Op> {
    const q = wait ? '' : '?wait=false';
    return this.httpOp({ client, cartId, kind: 'cancel' }, 'DELETE', `/carts/${cartId}/checkouts/active${q}`, undefined, { retryable: true, ...opts });
  }

  order(client: string, cartId: string, opts: CallOptions = {}): Promise<Op> {
    const key = opts.key ?? `order-${randomUUID()}`;
    return this.httpOp({ client, cartId, kind: 'order' }, 'POST', `/carts/${cartId}/checkouts/active/orders`, undefined, { retryable: true, ...opts, key });
  }

  /** Item changes: retried only with an Idempotency-Key (without one a retry could apply it twice). */
  changeItem(client: string, cartId: string, kind: 'add' | 'set' | 'remove', sku: string, quantity: number, opts: CallOptions = {}): Promise<Op> {
    const meta = { client, cartId, kind, sku, ...(kind !== 'remove' ? { quantity } : {}) };
    const retry = { retryable: opts.key !== undefined, ...opts };
    if (kind === 'add') return this.httpOp(meta, 'POST', `/carts/${cartId}/items`, { sku, quantity }, retry);
    if (kind === 'set') return this.httpOp(meta, 'PATCH', `/carts/${cartId}/items/${sku}`, { quantity }, retry);
    return this.httpOp(meta, 'DELETE', `/carts/${cartId}/items/${sku}`, undefined, retry);
  }

  /** A service calling the client library once (start with a step delay, place order, add an item): recorded like HTTP. */
  async libraryOp(meta: { client: string; cartId: string; kind: OpKind; via: Via; sku?: string; quantity?: number }, fn: () => Promise<unknown>): Promise<Op> {
    const op = this.ledger.begin(meta);
    const answer: Answer = { at: 0 };
    try {
      op.body = await withTimeout(fn(), ANSWER_TIMEOUT_MS * 3);
      op.outcome = 'applied';
      const orderId = (op.body as { orderId?: unknown }).orderId;
      if (meta.kind === 'order' && typeof orderId === 'string') {
        op.orderId = orderId;
        this.ledger.observeClosed(meta.cartId);
      }
    } catch (err) {
      const coded = findCheckoutError(err);
      if (coded) {
        answer.code = coded.errorCode;
        op.outcome = coded.errorCode === 'UNAVAILABLE' || coded.errorCode === 'RATE_LIMITED' ? 'unknown' : 'refused';
      } else {
        answer.error = (err as Error).message ?? String(err);
        op.outcome = 'unknown';
      }
    }
    answer.at = Date.now();
    op.answers.push(answer);
    op.doneAt = Date.now();
    return op;
  }

  /** A service cancelling through the client library: the signal (fire and forget) or the Update (waits). */
  async cancelLibrary(client: string, cartId: string, via: Extract<Via, 'signal' | 'update'>, opts: { retryForMs?: number } = {}): Promise<Op> {
    const op = this.ledger.begin({ client, cartId, kind: 'cancel', via });
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    for (;;) {
      const answer: Answer = { at: 0 };
      try {
        const result = await withTimeout(
          this.stack.checkout.cancelCheckout(cartId, { wait: via === 'update', reason: 'FAULT_SUITE', requestedBy: client }),
          ANSWER_TIMEOUT_MS,
        );
        answer.at = Date.now();
        op.body = result;
        op.outcome = 'applied';
        if ((result as { status?: string }).status === 'Closed') this.ledger.observeClosed(cartId);
      } catch (err) {
        answer.at = Date.now();
        const coded = findCheckoutError(err);
        if (coded) {
          answer.code = coded.errorCode;
          op.outcome = coded.errorCode === 'UNAVAILABLE' || coded.errorCode === 'RATE_LIMITED' ? 'unknown' : 'refused';
          if (coded.errorCode === 'INVALID_OPERATION' && /closed/i.test(coded.message)) this.ledger.observeClosed(cartId);
        } else {
          answer.error = (err as Error).message ?? String(err);
          op.outcome = 'unknown';
        }
      }
      op.answers.push(answer);
      if (op.outcome !== 'unknown' || Date.now() >= deadline) break;
      await sleep(500);
    }
    op.doneAt = Date.now();
    return op;
  }
}

function isItemChange(kind: OpKind): boolean {
  return kind === 'add' || kind === 'set' || kind === 'remove';
}

function errorCodeOf(body: unknown): string | undefined {
  if (Array.isArray(body) && body.length > 0 && typeof body[0] === 'object' && body[0] && typeof (body[0] as { errorCode?: unknown }).errorCode === 'string') {
    return (body[0] as { errorCode: string }).errorCode;
  }
  return undefined;
}

export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

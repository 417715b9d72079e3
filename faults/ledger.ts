/**
 * The ledger: every request the suite made, every answer it got (status, code, body), and whether the
 * request was acknowledged. The invariants are checked against it: what was acknowledged must be
 * true in MongoDB and Temporal once the system is quiet, whatever faults happened in between.
 */
import { ERROR_CODES } from '../src/contract';

/** `read` is a GET: no effect, but what it answered counts (errors, a Closed status). */
export type OpKind = 'start' | 'cancel' | 'add' | 'set' | 'remove' | 'order' | 'read';
export type Via = 'http' | 'signal' | 'update' | 'client';

/** One answer a caller saw (a request retried with its Idempotency-Key has several). */
export interface Answer {
  at: number;
  /** HTTP status; undefined when no answer came (connection refused, timeout) or for library calls. */
  status?: number;
  /** The error code of the answer, when it is an error. */
  code?: string;
  /** Why there was no answer / what the library threw. */
  error?: string;
  /** True when the API process was down at that moment (no answer is then expected). */
  apiDown?: boolean;
}

/**
 * What is known of an operation's effect: `applied` (acknowledged), `refused` (a definite error: it
 * changed nothing), `unknown` (no definite answer: it may or may not have happened), `accepted` (an
 * item change answered 202: it completes durably, so it must land unless the cart was closed first,
 * which refuses it).
 */
export type Outcome = 'applied' | 'refused' | 'unknown' | 'accepted';

export interface Op {
  id: number;
  client: string;
  cartId: string;
  kind: OpKind;
  via: Via;
  /** Idempotency-Key sent (HTTP), if any. */
  key?: string;
  sku?: string;
  quantity?: number;
  /** This request repeats op `repeatOf` (same Idempotency-Key: one effect; no key: two effects). */
  repeatOf?: number;
  sentAt: number;
  doneAt?: number;
  answers: Answer[];
  outcome: Outcome;
  /** For an order: the order id acknowledged. */
  orderId?: string;
  /** For a cancel: the answer said it was a no-op (nothing running). */
  body?: unknown;
}

/** Codes a caller may see: the domain's, plus the API's own 401. */
export const KNOWN_CODES = new Set<string>([...Object.keys(ERROR_CODES), 'UNAUTHENTICATED']);

export class Ledger {
  readonly ops: Op[] = [];
  /** Carts observed Closed at some moment (an order acknowledged, a read, a refusal saying so). */
  readonly seenClosed = new Map<string, number>();
  private seq = 0;

  begin(op: Omit<Op, 'id' | 'sentAt' | 'answers' | 'outcome'>): Op {
    const full: Op = { ...op, id: ++this.seq, sentAt: Date.now(), answers: [], outcome: 'unknown' };
    this.ops.push(full);
    return full;
  }

  carts(): string[] {
    return [...new Set(this.ops.map((o) => o.cartId))];
  }

  observeClosed(cartId: string): void {
    if (!this.seenClosed.has(cartId)) this.seenClosed.set(cartId, Date.now());
  }

  forCart(cartId: string): Op[] {
    return this.ops.filter((o) => o.cartId === cartId);
  }

  summary(): { operations: number; acknowledged: number; accepted: number; refused: number; unknown: number; answersByCode: Record<string, number> } {
    const answersByCode: Record<string, number> = {};
    for (const op of this.ops) {
      for (const a of op.answers) {
        const key = a.code ?? (a.status !== undefined ? String(a.status) : a.error ? `no answer${a.apiDown ? ' (API down)' : ''}` : 'ok');
        answersByCode[key] = (answersByCode[key] ?? 0) + 1;
      }
    }
    return {
      operations: this.ops.length,
      acknowledged: this.ops.filter((o) => o.outcome === 'applied').length,
      accepted: this.ops.filter((o) => o.outcome === 'accepted').length,
      refused: this.ops.filter((o) => o.outcome === 'refused').length,
      unknown: this.ops.filter((o) => o.outcome === 'unknown').length,
      answersByCode,
    };
  }
}

/**
 * Which quantities of a SKU the acknowledged (and possibly-applied) changes allow, 0 meaning absent.
 * `cartClosed`: the cart ended Closed, so an accepted change may have been refused by the close.
 */
export function allowedQuantities(ops: Op[], cartClosed = false): Set<number> {
  let allowed = new Set<number>([0]);
  // One effect per Idempotency-Key: repeats with the key are the same request.
  const groups: Op[][] = [];
  const byKey = new Map<string, Op[]>();
  for (const op of [...ops].sort((a, b) => a.sentAt - b.sentAt)) {
    if (op.key) {
      const g = byKey.get(op.key);
      if (g) {
        g.push(op);
        continue;
      }
      byKey.set(op.key, [op]);
      groups.push(byKey.get(op.key)!);
    } else groups.push([op]);
  }
  for (const g of groups) {
    const op = g[0];
    const outcome = g.some((o) => o.outcome === 'applied')
      ? 'applied'
      : g.every((o) => o.outcome === 'refused')
        ? 'refused'
        : g.some((o) => o.outcome === 'accepted') && !cartClosed
          ? 'applied'
          : 'unknown';
    if (outcome === 'refused') continue;
    const apply = (q: number) => (op.kind === 'add' ? q + (op.quantity ?? 0) : op.kind === 'set' ? (op.quantity ?? 0) : 0);
    const next = new Set([...allowed].map(apply));
    allowed = outcome === 'applied' ? next : new Set([...allowed, ...next]);
  }
  return allowed;
}

/**
 * What the CLI prints and how it exits: one JSON document with --json, else human lines; errors as
 * `error CODE: message` on stderr (or a JSON document); the exit code of each error code.
 */
import { unavailableDependency } from '../client';
import { ConfigError } from '../config';
import { CheckoutError, TASK_QUEUE, type CartItem, type CheckoutView, type ErrorCode } from '../contract';
import type { CartView } from '../contract';
import { DEFAULT_TIMEOUT_MS, type GlobalOptions } from './args';

/** The exit code of each business error code. Keyed by ErrorCode, so a new code cannot be forgotten. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_INPUT: 2,
  NOT_FOUND: 3,
  INVALID_OPERATION: 4,
  INSUFFICIENT_ACCESS: 5,
  CHECKOUT_CONFLICT: 6,
  IDEMPOTENCY_KEY_REUSED: 7,
  RATE_LIMITED: 8,
  UNAVAILABLE: 9,
  // Store integrations (issue 15): a provider refused a checkout step.
  INSUFFICIENT_INVENTORY: 10,
  PRICE_NOT_FOUND: 11,
  INTEGRATION_REFUSED: 12,
};
/** Configuration, connection, timeout and unexpected errors. */
export const EXIT_FAILURE = 1;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment to read settings from (default process.env). */
  env: Record<string, string | undefined>;
}

/** A failure that is not a business error: configuration, connection, timeout. Exits 1. */
export class CliFailure extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

export interface Failure {
  errorCode: string;
  message: string;
  httpStatus?: number;
  exitCode: number;
}

export class Printer {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: one JSON document with --json, else the human lines. */
  result(value: unknown, lines: () => string[]): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else
      this.io.stdout.write(
        lines()
          .map((l) => `${l}\n`)
          .join(''),
      );
  }

  /** A remark for humans (stderr), never part of the JSON document. */
  note(text: string): void {
    this.io.stderr.write(`note: ${text}\n`);
  }

  failure(f: Failure): void {
    if (this.json) {
      const doc = { errorCode: f.errorCode, message: f.message, ...(f.httpStatus !== undefined ? { httpStatus: f.httpStatus } : {}) };
      this.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      this.io.stderr.write(`error ${f.errorCode}: ${f.message}\n`);
    }
  }
}

export function itemsLine(items: CartItem[]): string {
  if (items.length === 0) return 'items: none';
  return `items: ${items.map((i) => `${i.sku} x${i.quantity}${i.unitPrice !== undefined ? ` @ ${i.unitPrice}` : ''}`).join(', ')}`;
}

export function cartLines(cart: CartView): string[] {
  const lines = [`cart ${cart.cartId}: ${cart.status} (version ${cart.version})`];
  const owner = [cart.webstoreId && `webstore ${cart.webstoreId}`, cart.accountId && `account ${cart.accountId}`].filter(Boolean);
  if (owner.length > 0) lines.push(`  ${owner.join(', ')}`);
  lines.push(`  ${itemsLine(cart.items)}`);
  if (cart.checkout) {
    const s = cart.checkout;
    lines.push(
      `  session ${s.sessionId}: state ${s.state}, next ${s.nextState}${s.isProcessing ? ', processing' : ''}${s.isError ? ', error' : ''}, ` +
        `background operation ${s.backgroundOperation.status}${s.requestedBy ? `, started by ${s.requestedBy}` : ''}`,
    );
  }
  if (cart.orderId) lines.push(`  order ${cart.orderId}`);
  if (cart.archivedSessions.length > 0) {
    const last = cart.archivedSessions[cart.archivedSessions.length - 1];
    const how = last.orderId ? `order ${last.orderId}` : `${last.backgroundOperation.status}${last.cancelReason ? ` (${last.cancelReason})` : ''}`;
    lines.push(`  archived sessions: ${cart.archivedSessionCount}, last ${last.sessionId}: ${how}`);
  }
  return lines;
}

export function checkoutLine(view: CheckoutView): string {
  const extra = [
    view.cancelRequested && `cancel requested (${view.cancelRequested.reason})`,
    view.outcome && `outcome ${view.outcome}`,
    view.orderId && `order ${view.orderId}`,
  ].filter(Boolean);
  return `checkout running: phase ${view.phase}, state ${view.state}${extra.length > 0 ? `, ${extra.join(', ')}` : ''}`;
}

export function toFailure(err: unknown, globals: GlobalOptions | undefined): Failure {
  if (err instanceof CheckoutError) {
    return { errorCode: err.errorCode, message: err.message, httpStatus: err.httpStatus, exitCode: EXIT_CODES[err.errorCode] ?? EXIT_FAILURE };
  }
  if (err instanceof CliFailure || err instanceof ConfigError) return { errorCode: err.errorCode, message: err.message, exitCode: EXIT_FAILURE };
  const down = unavailableDependency(err);
  if (down?.what === 'Temporal' && down.why === 'no-answer') {
    const queue = globals?.taskQueue ?? TASK_QUEUE;
    return {
      errorCode: 'TIMEOUT',
      message:
        `no answer within ${globals?.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms; is a worker polling task queue ${queue}? ` +
        'The request may still complete: check with `b2b-checkout status <cartId>`.',
      exitCode: EXIT_FAILURE,
    };
  }
  if (down?.why === 'unreachable') return { errorCode: 'CONNECTION_FAILED', message: (err as Error).message, exitCode: EXIT_FAILURE };
  return { errorCode: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), exitCode: EXIT_FAILURE };
}

/**
 * Argument checks and parsing: all run before any connection is opened, so a bad command line exits
 * 2 (INVALID_INPUT) without touching a server.
 */
import { CheckoutError, REQUEST_ID_PATTERN, cartIdProblem, itemChangeProblem, type ItemChange } from '../contract';

const MAX_ID_LENGTH = 128;
const MAX_REQUESTED_BY_LENGTH = 200;

export const invalidInput = (message: string, details: Record<string, unknown> = {}) => new CheckoutError('INVALID_INPUT', message, details);

export function checkCartId(cartId: string): string {
  const problem = cartIdProblem(cartId);
  if (problem) throw invalidInput(problem, { field: 'cartId' });
  return cartId;
}

/** Webstore and account ids: opaque, but non-empty, bounded and free of whitespace and operators. */
export function checkOpaqueId(value: string, field: string): string {
  if (value.length === 0 || value.length > MAX_ID_LENGTH || /[\s\p{Cc}]/u.test(value) || value.startsWith('$')) {
    throw invalidInput(`${field} must be 1-${MAX_ID_LENGTH} characters without whitespace, not starting with $`, { field });
  }
  return value;
}

export function checkRequestId(value: string | undefined): string | undefined {
  if (value !== undefined && !REQUEST_ID_PATTERN.test(value)) {
    throw invalidInput('--request-id must be 1-128 letters, digits or _ . : - starting with a letter or digit', { field: 'requestId' });
  }
  return value;
}

export function checkRequestedBy(value: string | undefined): string | undefined {
  if (value !== undefined && (value.length === 0 || value.length > MAX_REQUESTED_BY_LENGTH)) {
    throw invalidInput(`--requested-by must be 1-${MAX_REQUESTED_BY_LENGTH} characters`, { field: 'requestedBy' });
  }
  return value;
}

/** A whole number written in decimal digits: "3" yes; "3.0", "1e3", "0x3", "", " 3" no. */
export function parseInteger(raw: string, what: string): number {
  if (!/^[+-]?\d+$/.test(raw)) throw invalidInput(`${what} must be an integer, got "${raw}"`, { field: what });
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidInput(`${what} is out of range: ${raw}`, { field: what });
  return n;
}

export function parsePositiveInteger(raw: string, what: string): number {
  const n = parseInteger(raw, what);
  if (n <= 0) throw invalidInput(`${what} must be a positive integer, got ${raw}`, { field: what });
  return n;
}

export function checkChange(change: ItemChange): ItemChange {
  const problem = itemChangeProblem(change);
  if (problem) throw invalidInput(problem, { field: 'item', sku: change.sku });
  return change;
}

/** `sku:qty`. The quantity follows the last colon, since SKUs may contain colons. */
export function parseItemSpec(spec: string): ItemChange & { op: 'add' } {
  const at = spec.lastIndexOf(':');
  if (at <= 0 || at === spec.length - 1) {
    throw invalidInput(`--item must be sku:quantity (e.g. SKU-1:2), got "${spec}"`, { field: 'item' });
  }
  const change: ItemChange & { op: 'add' } = { op: 'add', sku: spec.slice(0, at), quantity: parseInteger(spec.slice(at + 1), 'quantity') };
  checkChange(change);
  return change;
}

export function parseUnitPrice(raw: string): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw invalidInput(`--unit-price must be a non-negative number, got "${raw}"`, { field: 'unitPrice' });
  return n;
}

/** Options every command accepts, before or after its name. */
export interface GlobalOptions {
  json: boolean;
  taskQueue: string;
  timeoutMs: number;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

type RawGlobals = { json?: boolean; taskQueue?: string; timeoutMs?: string };

/** The global options of a run: the subcommand's own win over the program's. */
export function parseGlobals(local: RawGlobals, global: RawGlobals, jsonRequested: boolean, defaultTaskQueue: string): GlobalOptions {
  const json = Boolean(local.json || global.json || jsonRequested);
  const taskQueue = local.taskQueue ?? global.taskQueue ?? defaultTaskQueue;
  if (taskQueue.trim() === '') throw invalidInput('--task-queue must not be empty', { field: 'taskQueue' });
  const timeoutRaw = local.timeoutMs ?? global.timeoutMs;
  const timeoutMs = timeoutRaw === undefined ? DEFAULT_TIMEOUT_MS : parsePositiveInteger(timeoutRaw, '--timeout-ms');
  return { json, taskQueue, timeoutMs };
}

/**
 * What makes an id, a cancel request or an item change acceptable. Pure functions (no SDK, no I/O),
 * so workflow code, activities, the client and the entry points all check the same way.
 */
import { CheckoutError } from './errors';
import type { CancelCheckoutRequest } from './types';

/** Request ids (item changes, idempotency keys): 1-128 printable characters without spaces. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Cart ids: the platform's are 15/18-character ids; other services use UUIDs or similar. */
export const CART_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;
export const MAX_QUANTITY = 1_000_000;

/** A reason a value is not acceptable, or undefined when it is. Pure, so workflow code can use it. */
export function cartIdProblem(cartId: unknown): string | undefined {
  if (typeof cartId !== 'string') return `cartId must be a string, got ${cartId === null ? 'null' : typeof cartId}`;
  if (cartId.length === 0) return 'cartId must not be empty';
  if (cartId.length > 128) return `cartId must be at most 128 characters, got ${cartId.length}`;
  if (!CART_ID_PATTERN.test(cartId)) return 'cartId may contain only letters, digits and _ . : - and must start with a letter or digit';
  return undefined;
}

/** Throws INVALID_INPUT (field cartId) unless the value is an acceptable cart id. */
export function assertCartId(cartId: unknown): asserts cartId is string {
  const problem = cartIdProblem(cartId);
  if (problem) throw new CheckoutError('INVALID_INPUT', problem, { field: 'cartId' });
}

export function cancelRequestProblem(req: unknown): string | undefined {
  if (req === undefined || req === null) return undefined; // the reason defaults to REQUESTED
  if (typeof req !== 'object' || Array.isArray(req)) return 'the cancel request must be an object { reason, requestedBy? }';
  const { reason, requestedBy } = req as Record<string, unknown>;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length === 0 || reason.length > 200)) {
    return 'reason must be a non-empty string of at most 200 characters';
  }
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > 200)) {
    return 'requestedBy must be a string of at most 200 characters';
  }
  return undefined;
}

/** The signal's argument as other services send it, with defaults filled in. Assumes cancelRequestProblem passed. */
export function normalizeCancelRequest(req: unknown): CancelCheckoutRequest {
  const r = (req ?? {}) as Partial<CancelCheckoutRequest>;
  return { reason: r.reason ?? 'REQUESTED', ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}) };
}

export function itemChangeProblem(change: unknown): string | undefined {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) return 'change must be an object';
  const c = change as Record<string, unknown>;
  if (c.op !== 'add' && c.op !== 'set' && c.op !== 'remove') return 'change.op must be "add", "set" or "remove"';
  if (typeof c.sku !== 'string' || !SKU_PATTERN.test(c.sku)) {
    return 'sku must be a string of 1-128 letters, digits or _ . : / - starting with a letter or digit';
  }
  if (c.op !== 'remove') {
    const q = c.quantity;
    const min = c.op === 'add' ? 1 : 0;
    if (typeof q !== 'number' || !Number.isInteger(q) || q < min || q > MAX_QUANTITY) {
      return `quantity must be an integer from ${min} to ${MAX_QUANTITY}`;
    }
  }
  if (c.unitPrice !== undefined && (typeof c.unitPrice !== 'number' || !Number.isFinite(c.unitPrice) || c.unitPrice < 0)) {
    return 'unitPrice must be a non-negative number';
  }
  return undefined;
}

// ---- Added by the price book (issue 12): one bound for every unit price a caller sends (an item's, a book's).
/** The largest unit price accepted, in currency units. */
export const MAX_UNIT_PRICE = 1e9;

/**
 * Malformed-cart detection. Carts are often written by other services; one this store cannot work
 * with is refused with INVALID_OPERATION (problem MALFORMED_CART) before any write is decided.
 */
import { CART_STATUSES, CheckoutError } from '../contract';
import type { CartDoc } from './cart-docs';

/**
 * What makes a cart (often written by another service) unusable, or undefined. A missing version
 * is fine (the first write sets it), and so are missing items (none yet).
 */
export function cartProblem(doc: CartDoc): { field: string; message: string } | undefined {
  const raw = doc as unknown as Record<string, unknown>;
  const version = raw.version;
  if (version !== undefined && !(typeof version === 'number' && Number.isInteger(version) && version >= 0)) {
    return { field: 'version', message: `its version must be a non-negative integer, not ${JSON.stringify(version)}` };
  }
  if (raw.status === undefined || raw.status === null) return { field: 'status', message: 'it has no status' };
  if (!(CART_STATUSES as readonly unknown[]).includes(raw.status)) {
    return { field: 'status', message: `its status ${JSON.stringify(raw.status)} is not one of ${CART_STATUSES.join(', ')}` };
  }
  const items = raw.items;
  if (items !== undefined) {
    if (!Array.isArray(items)) return { field: 'items', message: 'its items are not an array' };
    for (const [i, item] of (items as unknown[]).entries()) {
      const it = item as Record<string, unknown> | null;
      if (typeof it !== 'object' || it === null || typeof it.sku !== 'string' || typeof it.quantity !== 'number' || !Number.isFinite(it.quantity)) {
        return { field: `items.${i}`, message: `item ${i} is not { sku: string, quantity: number }` };
      }
    }
  }
  for (const list of ['archivedSessions', 'appliedChanges'] as const) {
    if (raw[list] !== undefined && !Array.isArray(raw[list])) return { field: list, message: `its ${list} are not an array` };
  }
  if (raw.checkout !== undefined && raw.checkout !== null && typeof (raw.checkout as Record<string, unknown>).sessionId !== 'string') {
    return { field: 'checkout.sessionId', message: 'its checkout has no session id' };
  }
  return undefined;
}

export function assertWellFormed(doc: CartDoc): void {
  const problem = cartProblem(doc);
  if (problem) {
    throw new CheckoutError('INVALID_OPERATION', `Cart ${doc._id} is malformed: ${problem.message}.`, {
      cartId: doc._id,
      problem: 'MALFORMED_CART',
      field: problem.field,
    });
  }
}

/** Simple deterministic calculators for the background steps (amounts in cents). */
import type { BackgroundStep, CartItem, Totals } from '../contract';

export const DEFAULT_UNIT_PRICE_CENTS = 1000;

export function computeTotals(step: BackgroundStep, items: CartItem[], previous: Totals | undefined): Totals {
  const subtotal = items.reduce((sum, i) => sum + i.quantity * Math.round((i.unitPrice ?? DEFAULT_UNIT_PRICE_CENTS / 100) * 100), 0);
  const base: Totals = { ...(previous ?? {}), subtotal };
  switch (step) {
    case 'Inventory':
    case 'Confirm Price':
      return base;
    case 'Shipping Cost':
      return { ...base, shipping: items.length === 0 ? 0 : 500 + 50 * items.reduce((n, i) => n + i.quantity, 0) };
    case 'Taxes':
      return { ...base, tax: Math.round(subtotal * 0.08) };
    case 'Checkout Summary':
      return { ...base, total: subtotal + (base.shipping ?? 0) + (base.tax ?? 0) };
  }
}

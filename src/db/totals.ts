/** Simple deterministic calculators for the background steps (amounts in cents): the builtin providers. */
import type { BackgroundStep, CartItem, Totals } from '../contract';

export const DEFAULT_UNIT_PRICE_CENTS = 1000;

/** A line's unit price in currency units: its own, or the default. */
export function unitPriceOf(item: CartItem): number {
  return item.unitPrice ?? DEFAULT_UNIT_PRICE_CENTS / 100;
}

/**
 * The totals after `step`. A store's http provider answers shipping or tax itself (`provided`);
 * otherwise the builtin calculators decide. Confirm Price repricing is in the items' unit prices.
 */
export function computeTotals(step: BackgroundStep, items: CartItem[], previous: Totals | undefined, provided: Pick<Totals, 'shipping' | 'tax'> = {}): Totals {
  const subtotal = items.reduce((sum, i) => sum + i.quantity * Math.round(unitPriceOf(i) * 100), 0);
  const base: Totals = { ...(previous ?? {}), subtotal };
  switch (step) {
    case 'Inventory':
    case 'Confirm Price':
      return base;
    case 'Shipping Cost':
      return { ...base, shipping: provided.shipping ?? (items.length === 0 ? 0 : 500 + 50 * items.reduce((n, i) => n + i.quantity, 0)) };
    case 'Taxes':
      return { ...base, tax: provided.tax ?? Math.round(subtotal * 0.08) };
    case 'Checkout Summary':
      return { ...base, total: subtotal + (base.shipping ?? 0) + (base.tax ?? 0) };
  }
}

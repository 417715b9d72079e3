/** Item changes: what a cart's item list becomes after one add, set or remove. */
import type { CartItem, ItemChange } from '../contract';

export function applyChange(items: CartItem[], change: ItemChange): CartItem[] {
  const next = items.map((i) => ({ ...i }));
  const existing = next.find((i) => i.sku === change.sku);
  switch (change.op) {
    case 'add':
      if (existing) {
        existing.quantity += change.quantity;
        if (change.unitPrice !== undefined) existing.unitPrice = change.unitPrice;
      } else {
        next.push({ sku: change.sku, quantity: change.quantity, ...(change.unitPrice !== undefined ? { unitPrice: change.unitPrice } : {}) });
      }
      return next;
    case 'set':
      if (change.quantity === 0) return next.filter((i) => i.sku !== change.sku);
      if (existing) existing.quantity = change.quantity;
      else next.push({ sku: change.sku, quantity: change.quantity });
      return next;
    case 'remove':
      return next.filter((i) => i.sku !== change.sku);
  }
}

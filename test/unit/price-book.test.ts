/**
 * The price book's pure parts (issue 12): pricing lines from a book, an item change in a store that
 * prices from its book, and the builtin Confirm Price with a book. test/price-book.test.ts drives the
 * same through the API, the worker and MongoDB.
 */
import { builtinStep } from '../../activities/integrations';
import { CheckoutError, type CartItem } from '../../src/contract';
import { bookPricedItems, priceFromBook, type BookPrices, type CartDoc } from '../../src/db';
import { decideItemChange, decideRecalculation } from '../../src/db/cart-transitions';
import { sessionDoc } from '../harness/docs';

const book = (prices: Record<string, number>): BookPrices => ({ webstoreId: 'store-1', prices: new Map(Object.entries(prices)) });

const items: CartItem[] = [
  { sku: 'SKU-1', quantity: 2, unitPrice: 1 },
  { sku: 'SKU-2', quantity: 1 },
  { sku: 'SKU-3', quantity: 3, unitPrice: 4 },
];

function thrown(fn: () => unknown): CheckoutError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CheckoutError) return err;
    throw err;
  }
  throw new Error('expected a CheckoutError');
}

describe('priceFromBook', () => {
  test('gives every line the price of its SKU in the book, in cart order, without changing the input', () => {
    const before = structuredClone(items);
    expect(priceFromBook(items, book({ 'SKU-1': 12.5, 'SKU-2': 0, 'SKU-3': 3 }))).toEqual({
      items: [
        { sku: 'SKU-1', quantity: 2, unitPrice: 12.5 },
        { sku: 'SKU-2', quantity: 1, unitPrice: 0 },
        { sku: 'SKU-3', quantity: 3, unitPrice: 3 },
      ],
      missing: [],
    });
    expect(items).toEqual(before);
  });

  test('lists every SKU without a price, and leaves those lines as they were', () => {
    expect(priceFromBook(items, book({ 'SKU-2': 5 }))).toEqual({
      items: [
        { sku: 'SKU-1', quantity: 2, unitPrice: 1 },
        { sku: 'SKU-2', quantity: 1, unitPrice: 5 },
        { sku: 'SKU-3', quantity: 3, unitPrice: 4 },
      ],
      missing: ['SKU-1', 'SKU-3'],
    });
  });

  test('with `only`, prices and checks those SKUs alone', () => {
    expect(priceFromBook(items, book({ 'SKU-2': 5 }), ['SKU-2'])).toEqual({
      items: [items[0], { sku: 'SKU-2', quantity: 1, unitPrice: 5 }, items[2]],
      missing: [],
    });
  });

  test('a SKU named like an Object property is not taken for a price', () => {
    expect(priceFromBook([{ sku: 'constructor', quantity: 1 }], book({})).missing).toEqual(['constructor']);
  });
});

describe('bookPricedItems', () => {
  test('prices the changed line; a SKU without a price is PRICE_NOT_FOUND (400) naming the store, the cart and the SKU', () => {
    expect(bookPricedItems('c1', items, 'SKU-2', book({ 'SKU-2': 7 }))[1]).toEqual({ sku: 'SKU-2', quantity: 1, unitPrice: 7 });
    const err = thrown(() => bookPricedItems('c1', items, 'SKU-2', book({ 'SKU-1': 7 })));
    expect(err).toMatchObject({ errorCode: 'PRICE_NOT_FOUND', httpStatus: 400, message: 'Webstore store-1 has no price for SKU-2 in its price book.' });
    expect(err.details).toEqual({ cartId: 'c1', webstoreId: 'store-1', skus: ['SKU-2'] });
  });

  test('a SKU no longer in the cart (removed) needs no price', () => {
    expect(bookPricedItems('c1', items, 'SKU-9', book({}))).toEqual(items);
  });
});

describe('decideItemChange with a book', () => {
  const active: CartDoc = {
    _id: 'c1',
    status: 'Active',
    items: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1 }],
    version: 4,
    appliedChanges: [{ requestId: 'r-done', at: new Date(0) }],
  };

  test("an add takes the book's price, whatever the caller sent", () => {
    const decision = decideItemChange(active, { op: 'add', sku: 'SKU-2', quantity: 1, unitPrice: 0.01 }, 'r1', book({ 'SKU-2': 9 }));
    expect('write' in decision && decision.write.$set).toMatchObject({
      items: [
        { sku: 'SKU-1', quantity: 2, unitPrice: 1 },
        { sku: 'SKU-2', quantity: 1, unitPrice: 9 },
      ],
    });
  });

  test('a SKU without a price is refused, also on a cart in Checkout (its checkout is not cancelled for it)', () => {
    expect(thrown(() => decideItemChange(active, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r1', book({}))).errorCode).toBe('PRICE_NOT_FOUND');
    const locked: CartDoc = { ...active, status: 'Checkout' };
    expect(thrown(() => decideItemChange(locked, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r1', book({}))).errorCode).toBe('PRICE_NOT_FOUND');
    expect(decideItemChange(locked, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r1', book({ 'SKU-2': 1 })).result).toMatchObject({ locked: true });
  });

  test('a repeated request answers as applied, and a Closed cart INVALID_OPERATION, before any price is needed', () => {
    expect(decideItemChange(active, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r-done', book({})).result).toMatchObject({ duplicate: true });
    const closed: CartDoc = { ...active, status: 'Closed' };
    expect(thrown(() => decideItemChange(closed, { op: 'add', sku: 'SKU-2', quantity: 1 }, 'r1', book({}))).errorCode).toBe('INVALID_OPERATION');
  });

  test('a remove or a quantity 0 needs no price; without a book the caller prices as before', () => {
    expect('write' in decideItemChange(active, { op: 'remove', sku: 'SKU-1' }, 'r1', book({}))).toBe(true);
    expect('write' in decideItemChange(active, { op: 'set', sku: 'SKU-1', quantity: 0 }, 'r1', book({}))).toBe(true);
    const decision = decideItemChange(active, { op: 'add', sku: 'SKU-2', quantity: 1, unitPrice: 0.01 }, 'r1');
    expect('write' in decision && decision.write.$set).toMatchObject({ items: [{ sku: 'SKU-1' }, { sku: 'SKU-2', quantity: 1, unitPrice: 0.01 }] });
  });
});

describe('decideRecalculation with a book (a change taken by a running checkout)', () => {
  const inCheckout: CartDoc = {
    _id: 'c1',
    status: 'Checkout',
    items: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1 }],
    version: 7,
    checkout: sessionDoc('s1', { state: 'Confirm Price', nextState: 'Shipping Cost' }),
  };
  const input = { cartId: 'c1', sessionId: 's1', requestId: 'r1', recalculation: 1, fromStep: 'Confirm Price' as const };

  test("the changed line takes the book's price; a SKU without one is PRICE_NOT_FOUND and nothing is written", () => {
    const decision = decideRecalculation(inCheckout, { ...input, change: { op: 'add', sku: 'SKU-2', quantity: 1, unitPrice: 0.01 } }, book({ 'SKU-2': 9 }));
    expect('write' in decision && decision.write.$set).toMatchObject({
      items: [
        { sku: 'SKU-1', unitPrice: 1 },
        { sku: 'SKU-2', unitPrice: 9 },
      ],
    });
    expect(thrown(() => decideRecalculation(inCheckout, { ...input, change: { op: 'add', sku: 'SKU-2', quantity: 1 } }, book({}))).errorCode).toBe(
      'PRICE_NOT_FOUND',
    );
  });
});

describe('builtinStep with a book', () => {
  test('Confirm Price reprices every line and returns them with the totals', () => {
    const work = builtinStep('Confirm Price', items, { subtotal: 1 }, book({ 'SKU-1': 2.5, 'SKU-2': 1, 'SKU-3': 0.1 }));
    expect(work).toEqual({
      totals: { subtotal: 2 * 250 + 100 + 3 * 10 },
      items: [
        { sku: 'SKU-1', quantity: 2, unitPrice: 2.5 },
        { sku: 'SKU-2', quantity: 1, unitPrice: 1 },
        { sku: 'SKU-3', quantity: 3, unitPrice: 0.1 },
      ],
      outcome: { provider: 'builtin', answer: 'subtotal 630 (3 lines from the price book)' },
    });
  });

  test('a line without a price fails the step with PRICE_NOT_FOUND, naming every such SKU', () => {
    const err = thrown(() => builtinStep('Confirm Price', items, undefined, book({ 'SKU-2': 1 })));
    expect(err).toMatchObject({ errorCode: 'PRICE_NOT_FOUND', message: 'Confirm Price via builtin: no price for SKU-1, SKU-3 in the price book' });
    expect(err.details).toEqual({ step: 'Confirm Price', provider: 'builtin', webstoreId: 'store-1', skus: ['SKU-1', 'SKU-3'] });
  });

  test('other steps ignore the book', () => {
    expect(builtinStep('Taxes', items, { subtotal: 3000 }, book({}))).toEqual(builtinStep('Taxes', items, { subtotal: 3000 }));
  });
});

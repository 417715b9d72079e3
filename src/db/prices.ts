/**
 * The stores' price books (issue 12): one document per store and SKU in `store_prices`, its unit
 * price in currency units (as cart lines carry it). A store whose `pricing` is `book` prices every
 * line from it: an item change gives its line the book's price of the SKU, and the builtin Confirm
 * Price step reprices every line. Every change of a price is one single-document write (an upsert or
 * a delete), so repeating it is the same as once.
 */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS, CheckoutError, PRICE_BOOK_MESSAGES, type CartItem } from '../contract';
import { Directory, storeSettings } from './directory';

export interface PriceDoc {
  _id: string;
  webstoreId: string;
  sku: string;
  unitPrice: number;
  updatedAt: Date;
}

/** What callers see of one price. */
export interface PriceView {
  webstoreId: string;
  sku: string;
  unitPrice: number;
  updatedAt: string;
}

/** The prices a store's book has for some SKUs (a SKU without a price is absent). */
export interface BookPrices {
  webstoreId: string;
  prices: Map<string, number>;
}

/** Ids and SKUs cannot contain `|` (src/contract/validation.ts), so the pair is unambiguous. */
const priceId = (webstoreId: string, sku: string) => `${webstoreId}|${sku}`;
const DUPLICATE_KEY = 11000;

export function priceView(doc: PriceDoc): PriceView {
  return { webstoreId: doc.webstoreId, sku: doc.sku, unitPrice: doc.unitPrice, updatedAt: doc.updatedAt.toISOString() };
}

export class PriceBook {
  readonly collection: Collection<PriceDoc>;

  constructor(db: Db) {
    this.collection = db.collection<PriceDoc>(COLLECTIONS.storePrices);
  }

  /** Sets a SKU's price: one upsert of its document. */
  async put(webstoreId: string, sku: string, unitPrice: number): Promise<PriceView> {
    const doc: PriceDoc = { _id: priceId(webstoreId, sku), webstoreId, sku, unitPrice, updatedAt: new Date() };
    const upsert = () => this.collection.replaceOne({ _id: doc._id }, doc, { upsert: true });
    try {
      await upsert();
    } catch (err) {
      // Two upserts of one new _id at once: one inserts, the other fails with a duplicate key. Once more replaces it.
      if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
      await upsert();
    }
    return priceView(doc);
  }

  get(webstoreId: string, sku: string): Promise<PriceDoc | null> {
    return this.collection.findOne({ _id: priceId(webstoreId, sku) });
  }

  /** Removes a SKU's price; whether there was one. */
  async remove(webstoreId: string, sku: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: priceId(webstoreId, sku) })).deletedCount > 0;
  }

  /** The prices of these SKUs in one read. */
  async pricesOf(webstoreId: string, skus: string[]): Promise<BookPrices> {
    const ids = [...new Set(skus)].map((sku) => priceId(webstoreId, sku));
    const docs = ids.length ? await this.collection.find({ _id: { $in: ids } }).toArray() : [];
    return { webstoreId, prices: new Map(docs.map((d) => [d.sku, d.unitPrice])) };
  }
}

/** Which stores price from their book, and their prices: what the cart store and the Confirm Price step ask. */
export class StorePricing {
  private readonly directory: Directory;
  readonly book: PriceBook;

  constructor(db: Db) {
    this.directory = new Directory(db);
    this.book = new PriceBook(db);
  }

  /** The book's prices of these SKUs when the store prices from its book; undefined when it takes the caller's prices. */
  async bookFor(webstoreId: string | undefined, skus: string[]): Promise<BookPrices | undefined> {
    if (!webstoreId) return undefined;
    if (storeSettings(await this.directory.getStore(webstoreId)).pricing !== 'book') return undefined;
    return this.book.pricesOf(webstoreId, skus);
  }
}

/**
 * Lines priced from a book (pure): each line (of `only` the given SKUs, else every line) takes the
 * book's price of its SKU; `missing` lists the SKUs the book has no price for, in cart order.
 */
export function priceFromBook(items: CartItem[], book: BookPrices, only?: string[]): { items: CartItem[]; missing: string[] } {
  const priced = (sku: string) => !only || only.includes(sku);
  const missing = items.filter((i) => priced(i.sku) && !book.prices.has(i.sku)).map((i) => i.sku);
  return { items: items.map((i) => (priced(i.sku) && book.prices.has(i.sku) ? { ...i, unitPrice: book.prices.get(i.sku)! } : i)), missing };
}

/**
 * The items after an item change in a store that prices from its book: the changed line takes the
 * book's price (a caller's `unitPrice` is ignored); a SKU without one is refused with PRICE_NOT_FOUND.
 * A change that leaves no line of its SKU (a remove, a quantity 0) needs no price.
 */
export function bookPricedItems(cartId: string, items: CartItem[], sku: string, book: BookPrices): CartItem[] {
  const { items: priced, missing } = priceFromBook(items, book, [sku]);
  if (missing.length) {
    throw new CheckoutError('PRICE_NOT_FOUND', PRICE_BOOK_MESSAGES.noPrice(book.webstoreId, missing), { cartId, webstoreId: book.webstoreId, skus: missing });
  }
  return priced;
}

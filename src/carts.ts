/**
 * The cart service: what the entry points need besides the checkout's workflow operations (those
 * are CheckoutClient's). Creating a cart (idempotent under its id), reading one, the requirement
 * checks of the platform on the effective account, and the directory the admin routes keep. It talks to
 * the store only (src/db), never to Temporal.
 */
import type { Collection, Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import {
  CheckoutError,
  PRICE_BOOK_MESSAGES,
  providerSettingsOf,
  type CartItem,
  type CartView,
  type IntegrationStep,
  type IntegrationView,
  type ItemChange,
  type StoreSettings,
} from './contract';
import {
  CartRepository,
  Directory,
  IntegrationStore,
  StorePricing,
  applyChange,
  bookPricedItems,
  cartView,
  cartsCollection,
  priceView,
  storeCall,
  type CartDoc,
  type PriceView,
} from './db';

export interface NewCart {
  cartId?: string;
  webstoreId: string;
  accountId: string;
  ownerId?: string;
  items?: CartItem[];
}

/** MongoDB's duplicate-key error: the cart id is taken. */
const DUPLICATE_KEY = 11000;

export class CartService {
  private readonly repo: CartRepository;
  private readonly directory: Directory;
  private readonly integrations: IntegrationStore;
  private readonly pricing: StorePricing;

  constructor(carts: Collection<CartDoc>) {
    this.repo = new CartRepository(carts);
    this.directory = new Directory(carts.db);
    this.integrations = new IntegrationStore(carts.db);
    this.pricing = new StorePricing(carts.db);
  }

  static forDb(db: Db): CartService {
    return new CartService(cartsCollection(db));
  }

  /** The items of a new cart from add changes (`--item SKU-1:2 --item SKU-1:1` is SKU-1 x3). */
  static itemsOf(changes: ItemChange[]): CartItem[] {
    return changes.reduce<CartItem[]>((items, change) => applyChange(items, change), []);
  }

  async getCart(cartId: string): Promise<CartView> {
    return cartView(await storeCall(() => this.repo.get(cartId)));
  }

  /**
   * Creates an Active cart, idempotently under its id (a new UUID when none is given): when the cart
   * exists with the same store, account and owner (and, while nobody has changed it yet, the same
   * items) it is a retry, answered with the cart as it is now; other fields are CHECKOUT_CONFLICT.
   */
  async createCart(cart: NewCart): Promise<CartView> {
    return cartView(await storeCall(() => this.createOnce({ ...cart, cartId: cart.cartId ?? randomUUID() })));
  }

  private async createOnce(cart: NewCart & { cartId: string }): Promise<CartDoc> {
    try {
      return await this.repo.create(cart);
    } catch (err) {
      if ((err as { code?: unknown }).code !== DUPLICATE_KEY) throw err;
    }
    const existing = await this.repo.get(cart.cartId);
    const sameItems = (existing.version ?? 0) > 0 || JSON.stringify(existing.items ?? []) === JSON.stringify(cart.items ?? []);
    const same = existing.webstoreId === cart.webstoreId && existing.accountId === cart.accountId && existing.ownerId === cart.ownerId && sameItems;
    if (!same) throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${cart.cartId} already exists with other fields.`, { cartId: cart.cartId });
    return existing;
  }

  /** A cart for a buyer: the effective account must be valid and a member of the store. Nothing is written otherwise. */
  async createCartFor(cart: NewCart): Promise<CartView> {
    await this.requireAccount(cart.accountId);
    if (!(await this.directory.isMember(cart.webstoreId, cart.accountId))) {
      throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account is not a member of this store.', {});
    }
    return this.createCart(cart);
  }

  /**
   * The cart, when the effective account may act on it: the platform's requirement checks in their
   * order (valid account, the cart exists, the account owns it, it is a member of the cart's store).
   */
  async ownedCart(cartId: string, accountId: string): Promise<CartView> {
    await this.requireAccount(accountId);
    const cart = await this.repo.get(cartId);
    if (cart.accountId !== accountId) throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account does not own this cart.', {});
    if (!cart.webstoreId || !(await this.directory.isMember(cart.webstoreId, accountId))) {
      throw new CheckoutError('INSUFFICIENT_ACCESS', "The effective account is not a member of the cart's store.", {});
    }
    return cartView(cart);
  }

  private async requireAccount(accountId: string): Promise<void> {
    const account = await this.directory.getAccount(accountId);
    if (!account || !account.active) throw new CheckoutError('INSUFFICIENT_ACCESS', 'The effective account is not valid.', {});
  }

  saveStore(webstoreId: string, name: string, settings: Partial<StoreSettings> = {}) {
    return this.directory.upsertStore(webstoreId, name, settings);
  }

  saveAccount(accountId: string, name: string, active: boolean) {
    return this.directory.upsertAccount(accountId, name, active);
  }

  addMember(webstoreId: string, accountId: string) {
    return this.directory.addMember(webstoreId, accountId);
  }

  // ---- Store integrations (issue 15): the provider of each checkout step of a store.

  /** Registers an http provider for a store's step, or (`{ "type": "builtin" }`) returns the step to builtin. */
  async saveIntegration(webstoreId: string, step: IntegrationStep, body: unknown): Promise<IntegrationView> {
    const parsed = providerSettingsOf(body);
    if (parsed.problem !== undefined) throw new CheckoutError('INVALID_INPUT', parsed.problem, { field: parsed.field });
    await this.requireStore(webstoreId);
    return this.integrations.put(webstoreId, step, parsed.settings);
  }

  async getIntegration(webstoreId: string, step: IntegrationStep): Promise<IntegrationView> {
    await this.requireStore(webstoreId);
    return this.integrations.view(webstoreId, step);
  }

  async removeIntegration(webstoreId: string, step: IntegrationStep): Promise<IntegrationView> {
    await this.requireStore(webstoreId);
    return this.integrations.remove(webstoreId, step);
  }

  // ---- The price book (issue 12): a store's prices, and the check of an item change against them.

  /** Sets a SKU's price in a store's book (one upsert: repeating it is the same as once). */
  async savePrice(webstoreId: string, sku: string, unitPrice: number): Promise<PriceView> {
    await this.requireStore(webstoreId);
    return storeCall(() => this.pricing.book.put(webstoreId, sku, unitPrice));
  }

  async getPrice(webstoreId: string, sku: string): Promise<PriceView> {
    await this.requireStore(webstoreId);
    const doc = await storeCall(() => this.pricing.book.get(webstoreId, sku));
    if (!doc) throw new CheckoutError('NOT_FOUND', PRICE_BOOK_MESSAGES.noEntry(webstoreId, sku), { webstoreId, sku });
    return priceView(doc);
  }

  /** Removes a SKU's price; removing one that is not there is not an error (`removed: false`). */
  async removePrice(webstoreId: string, sku: string): Promise<{ webstoreId: string; sku: string; removed: boolean }> {
    await this.requireStore(webstoreId);
    return { webstoreId, sku, removed: await storeCall(() => this.pricing.book.remove(webstoreId, sku)) };
  }

  /**
   * Refuses, before any workflow starts, an item change that the cart's store would refuse because its
   * book has no price for the SKU (PRICE_NOT_FOUND). The change's activity decides again, on the cart as it is then.
   */
  async checkBookPrice(cart: CartView, change: ItemChange): Promise<void> {
    if (change.op === 'remove') return;
    const book = await storeCall(() => this.pricing.bookFor(cart.webstoreId, [change.sku]));
    if (book) bookPricedItems(cart.cartId, applyChange(cart.items, change), change.sku, book);
  }

  private async requireStore(webstoreId: string): Promise<void> {
    if (!(await this.directory.getStore(webstoreId))) throw new CheckoutError('NOT_FOUND', `Webstore ${webstoreId} was not found.`, { webstoreId });
  }

  async ensureIndexes(): Promise<void> {
    await this.directory.ensureIndexes();
  }

  /** MongoDB answers (health checks). */
  async ping(): Promise<void> {
    await this.repo.carts.db.command({ ping: 1 });
  }
}

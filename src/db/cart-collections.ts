/** The cart store's collections and their indexes (names from the contract). */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS } from '../contract';
import type { CartDoc, SessionRecord } from './cart-docs';

export function cartsCollection(db: Db): Collection<CartDoc> {
  return db.collection<CartDoc>(COLLECTIONS.carts);
}

export function sessionsCollection(db: Db): Collection<SessionRecord> {
  return db.collection<SessionRecord>(COLLECTIONS.checkoutSessions);
}

export async function ensureCartIndexes(carts: Collection<CartDoc>): Promise<void> {
  await carts.createIndex({ 'checkout.sessionId': 1 }, { name: 'checkout_session' });
  await carts.createIndex({ accountId: 1, webstoreId: 1, status: 1 }, { name: 'account_store_status' });
  await sessionsCollection(carts.db).createIndex({ cartId: 1, archivedAt: 1 }, { name: 'cart_archived' });
}

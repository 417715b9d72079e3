/**
 * The cart store, one concern a file: the documents and their views (./cart-docs), the collections
 * and indexes (./cart-collections), malformed-cart detection (./cart-problems), the transitions
 * decided from the cart as read (./cart-transitions), what each write is made of (./cart-writes),
 * the repository that reads, decides and writes them (./cart-repository), and the step and item
 * computations (./totals, ./items). Callers import all of it from the store's index (src/db).
 */
export {
  APPLIED_CHANGES_KEPT,
  RECENT_SESSIONS_KEPT,
  cartView,
  type AppliedChange,
  type CartDoc,
  type CheckoutSessionDoc,
  type SessionRecord,
} from './cart-docs';
// The views are the contract's; still exported here so the store's callers keep one import path.
export type { CartView, SessionView, Totals } from '../contract';
export { cartsCollection, ensureCartIndexes, sessionsCollection } from './cart-collections';
export { cartProblem } from './cart-problems';
export { CartRepository, casBackoffMs, type CartRepositoryOptions } from './cart-repository';
export { applyChange } from './items';
export { DEFAULT_UNIT_PRICE_CENTS, computeTotals } from './totals';

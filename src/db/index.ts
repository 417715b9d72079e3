/**
 * The store: MongoDB behind a small interface, and its callers' one import path. Every cart
 * transition is one atomic single-document conditional write, one concern a file: the documents and
 * their views (./cart-docs), the collections and indexes (./cart-collections), malformed-cart
 * detection (./cart-problems), the transitions decided from the cart as read (./cart-transitions),
 * what each write is made of (./cart-writes), the repository that reads, decides and writes them
 * (./cart-repository), the step and item computations (./totals, ./items). The directory of
 * webstores and accounts, the stores' price books (./prices), the API's idempotency records, the connection and the outage detection sit
 * beside it. The store imports only the contract (src/contract) and the MongoDB driver, never the
 * Temporal SDK.
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
export { cartsCollection, ensureCartIndexes, sessionsCollection } from './cart-collections';
export { cartProblem } from './cart-problems';
export { CartRepository, casBackoffMs, type CartRepositoryOptions } from './cart-repository';
export { applyChange } from './items';
export { type OutboxEvent } from './cart-docs';
export { cancelRefusedEvent, canceledEvent, createdEvent, itemsChangedEvent, orderPlacedEvent, recalculatedEvent, startedEvent } from './cart-events';
export { EventLog, ensureEventIndexes, eventView, eventsCollection, type EventDoc } from './events';
export { EventRelay, type EventRelayOptions } from './event-relay';
export { DEFAULT_UNIT_PRICE_CENTS, computeTotals, unitPriceOf } from './totals';
export * from './directory';
export * from './integrations';
export * from './prices';
export * from './idempotency';
export * from './mongo';
export * from './unavailable';
export * from './webhooks';

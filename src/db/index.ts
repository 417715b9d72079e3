/**
 * The store: MongoDB behind a small interface. Every cart transition is one atomic single-document
 * conditional write (./carts); the directory of webstores and accounts, the API's idempotency
 * records, the connection and the outage detection sit beside it. Callers import from here.
 */
export * from './carts';
export * from './directory';
export * from './idempotency';
export * from './mongo';
export * from './unavailable';

/**
 * The names other services and our own parts rely on: task queue, workflow and activity types,
 * message names, workflow-ID schemes, collections and search attributes. Defined here only.
 */

export const TASK_QUEUE = 'b2b-checkout';

export const CHECKOUT_WORKFLOW_TYPE = 'checkoutWorkflow';
export const CART_ITEMS_WORKFLOW_TYPE = 'cartItemsWorkflow';
export const PROBE_WORKFLOW_TYPE = 'probeWorkflow';

/** The cross-language cancel: one JSON argument `{ reason, requestedBy? }`. */
export const CANCEL_SIGNAL_NAME = 'cancelCheckout';
export const CANCEL_UPDATE_NAME = 'cancelCheckoutAndWait';
export const PLACE_ORDER_UPDATE_NAME = 'placeOrder';
export const WAIT_FOR_LOCK_UPDATE_NAME = 'waitForLock';
export const CHECKOUT_STATE_QUERY_NAME = 'getCheckoutState';

export const CANCEL_ACTIVITY_TYPE = 'cancelCartAsyncOperation';

const CHECKOUT_PREFIX = 'checkout-';
const CART_ITEMS_PREFIX = 'cart-items-';
const UUID_SUFFIX = /-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The one place the checkout workflow-ID scheme lives: one checkout per cart. */
export function checkoutWorkflowId(cartId: string): string {
  return `${CHECKOUT_PREFIX}${cartId}`;
}

/**
 * An item change runs as its own workflow whose ID is derived from the request id, so a client or
 * HTTP retry of the same request joins the same workflow instead of changing the cart twice.
 */
export function cartItemsWorkflowId(cartId: string, requestId: string): string {
  return `${CART_ITEMS_PREFIX}${cartId}-${requestId}`;
}

/**
 * The cart a workflow ID belongs to, or undefined. Cart ids and request ids may both contain `-`,
 * so an item change's cart is known only when its request id is a generated UUID.
 */
export function cartIdOfWorkflowId(workflowId: unknown): string | undefined {
  if (typeof workflowId !== 'string') return undefined;
  if (workflowId.startsWith(CART_ITEMS_PREFIX)) {
    const rest = workflowId.slice(CART_ITEMS_PREFIX.length);
    const uuid = UUID_SUFFIX.exec(rest);
    return uuid && uuid.index > 0 ? rest.slice(0, uuid.index) : undefined;
  }
  if (workflowId.startsWith(CHECKOUT_PREFIX)) return workflowId.slice(CHECKOUT_PREFIX.length) || undefined;
  return undefined;
}

/** The MongoDB collections of the service (one database, MONGODB_DB). */
export const COLLECTIONS = {
  /** One document per cart: status, items, the running checkout session, the recent archived ones. */
  carts: 'carts',
  /** Every archived checkout session, one document each (`_id` = session id). */
  checkoutSessions: 'checkout_sessions',
  /** The HTTP API's Idempotency-Key records (TTL index). */
  idempotencyKeys: 'idempotency_keys',
  webstores: 'webstores',
  accounts: 'accounts',
  memberships: 'memberships',
  /** Round trips of the stack probe (health checks). */
  probes: 'probes',
  // Added by the store integrations (issue 15).
  /** The http providers stores registered, one document per store and step (`_id` = `<webstoreId>|<step>`). */
  storeIntegrations: 'store_integrations',
  // Added by the price book (issue 12).
  /** The stores' price books: one document per store and SKU (`_id` = `<webstoreId>|<sku>`), its unit price in currency units. */
  storePrices: 'store_prices',
  // Added by cart events (issue 12).
  /** The event feed: `_id` the global cursor (1, 2, 3, ... without gaps), `eventId` `<cartId>:<seq>` unique. */
  events: 'events',
  // Added by webhooks (issue 12).
  /** A store's webhook subscriptions, one document each (`_id` = `<webstoreId>|<name>`), with the cursor delivered so far. */
  webhookSubscriptions: 'webhook_subscriptions',
} as const;

/** Search attributes the project registers (name → type). */
export const SEARCH_ATTRIBUTES = {
  CartId: 'Keyword',
  WebstoreId: 'Keyword',
  CheckoutState: 'Keyword',
} as const;

// ---- Added by the entry-points change (issue 10): the cancel reason when a caller gives none,
// which the client, the HTTP API and the CLI each defaulted to with their own literal.
/** The reason recorded on a cancel that names none. */
export const DEFAULT_CANCEL_REASON = 'REQUESTED';

// ---- Added by the deploy change (issue 11): the Worker Deployment the workers join by default, which
// the worker's settings, the deploy procedure (docs/DEPLOY.md) and operators' commands name.
/** The default Worker Deployment name (WORKER_DEPLOYMENT_NAME); a version is `<name>.<buildId>`. */
export const DEFAULT_WORKER_DEPLOYMENT_NAME = 'b2b-checkout';

// ---- Added by the checkout policy (issue 12): the Update an item change sends to the running
// checkout of a store whose checkoutPolicy is `recalculate`.
/** Apply an item change through the running checkout and run its steps again from Confirm Price. */
export const RECALCULATE_UPDATE_NAME = 'recalculateCheckout';

/**
 * The client library for services: start a checkout, cancel it (signal, or wait for the outcome),
 * place the order, change items, read cart and checkout state. Results are plain typed objects;
 * failures are CheckoutErrors carrying the codes of DOMAIN.md.
 */
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  isGrpcDeadlineError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Collection } from 'mongodb';
import { randomUUID } from 'node:crypto';
import {
  CART_ITEMS_WORKFLOW_TYPE,
  CHECKOUT_WORKFLOW_TYPE,
  CLOSED_CART_MESSAGE,
  LOCK_LOST,
  REQUEST_ID_PATTERN,
  TASK_QUEUE,
  assertCartId,
  cancelRequestProblem,
  cartItemsWorkflowId,
  checkoutWorkflowId,
  itemChangeProblem,
  normalizeCancelRequest,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CartItem,
  type CartItemsRequest,
  type CartItemsResult,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutView,
  type ItemChange,
  type PlaceOrderResult,
} from './contract';
import { CartRepository, cartView, type CartDoc, type CartView } from './db/carts';
import { storeCall } from './db/unavailable';
import { CheckoutError, findCheckoutError } from './errors';
import type { cartItemsWorkflow, checkoutWorkflow } from '../workflows';
import {
  cancelCheckoutSignal,
  cancelCheckoutUpdate,
  getCheckoutStateQuery,
  placeOrderUpdate,
  waitForLockUpdate,
} from './contract/messages';
import { cartItemsSummary, checkoutSummary } from '../workflows/summaries';

export interface CheckoutClientOptions {
  client: Client;
  /** Needed for cart reads and for answering cancels when no checkout runs (Closed → INVALID_OPERATION). */
  carts?: Collection<CartDoc>;
  taskQueue?: string;
  /** Default lock lease for new checkouts. */
  leaseMs?: number;
}

export interface StartCheckoutOptions {
  requestedBy?: string;
  leaseMs?: number;
}

export interface StartedCheckout {
  checkoutId: string;
  runId: string;
  cartId: string;
  /** False when a checkout was already running: that one is returned. */
  started: boolean;
  view: CheckoutView;
}

export interface CancelOptions {
  reason?: string;
  requestedBy?: string;
  /** true (default): answer after the cart is unlocked (Update). false: answer once the signal is accepted. */
  wait?: boolean;
}

export type CancelAnswer =
  | (CancelOutcome & {
      /** True when no run held the lock any more (terminated, failed, removed) and the cancel released it itself. */
      staleLock?: boolean;
    })
  | { cartId: string; canceled: false; accepted: true; reason: string };

/** How often a start retries when the checkout it finds is ending (its cancel or order runs). */
const MAX_START_ATTEMPTS = 4;
/** How long a start waits for an ending checkout to close before it asks the caller to retry. */
const ENDING_WAIT_MS = 30_000;

/** How long a start waits for the running checkout to answer its query before it falls back to update-with-start. */
const QUERY_DEADLINE_MS = 5_000;

const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNAVAILABLE = 14;

/**
 * Temporal's per-run Update limits (in flight, and in total per run) and an unreachable frontend,
 * as the transient CheckoutErrors callers know how to retry; undefined for anything else.
 */
function transientTemporalError(err: unknown): CheckoutError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === GRPC_RESOURCE_EXHAUSTED) {
      return new CheckoutError('RATE_LIMITED', "Too many requests on this cart's checkout right now (Temporal's limit of concurrent or total updates); retry shortly.", {
        retryable: true,
      });
    }
    if (code === GRPC_UNAVAILABLE) return new CheckoutError('UNAVAILABLE', 'Temporal is unreachable right now; retry shortly.', { retryable: true });
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The CheckoutError a failure of Temporal stands for, or the failure itself. */
function asCheckoutError(err: unknown): unknown {
  return findCheckoutError(err) ?? transientTemporalError(err) ?? err;
}

/** The checkout holds the cart and will keep it until an order, a cancel or its lease. */
function holdsCart(view: CheckoutView): boolean {
  return (view.phase === 'PROCESSING' || view.phase === 'READY') && !view.cancelRequested;
}

/** The checkout is giving the cart up (a cancel or an order is under way, or it has ended). */
function isEnding(view: CheckoutView): boolean {
  return view.cancelRequested !== undefined || view.phase === 'CANCELING' || view.phase === 'PLACING_ORDER' || view.phase === 'DONE';
}

export interface ItemChangeOptions {
  /** Who changes the cart: recorded when a running checkout is cancelled for the change. */
  requestedBy?: string;
  /** Makes the change exactly-once (REQUEST_ID_PATTERN); the same id again answers the same result. */
  requestId?: string;
}

export type ItemChangeResult = CartItemsResult & { requestId: string };

/** What changeItemsWithin answers: the result, or that the change was started and goes on durably. */
export type ItemChangeAnswer = ItemChangeResult | { cartId: string; accepted: true; requestId: string; workflowId: string };

export interface NewCart {
  cartId?: string;
  webstoreId: string;
  accountId: string;
  ownerId?: string;
  items?: CartItem[];
}

/**
 * Creates a cart under a given id, idempotently: when the cart exists with the same store, account
 * and owner (and, while nobody has changed it yet, the same items) it is a retry, answered with the
 * cart as it is now; a cart with other fields under that id is CHECKOUT_CONFLICT.
 */
export async function createCartOnce(repo: CartRepository, cart: NewCart & { cartId: string }): Promise<CartDoc> {
  try {
    return await repo.create(cart);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 11000) throw err;
  }
  const existing = await repo.get(cart.cartId);
  const sameItems = (existing.version ?? 0) > 0 || JSON.stringify(existing.items ?? []) === JSON.stringify(cart.items ?? []);
  const same =
    existing.webstoreId === cart.webstoreId && existing.accountId === cart.accountId && existing.ownerId === cart.ownerId && sameItems;
  if (!same) throw new CheckoutError('CHECKOUT_CONFLICT', `Cart ${cart.cartId} already exists with other fields.`, { cartId: cart.cartId });
  return existing;
}

/** Maps Temporal failures to CheckoutErrors; anything else is rethrown as it is. */
async function codes<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw findCheckoutError(err) ?? err;
  }
}

export class CheckoutClient {
  readonly client: Client;
  readonly taskQueue: string;
  private readonly repo: CartRepository | undefined;
  private readonly leaseMs: number | undefined;

  constructor(options: CheckoutClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.repo = options.carts ? new CartRepository(options.carts) : undefined;
    this.leaseMs = options.leaseMs;
  }

  /**
   * Starts the checkout of a cart and answers once it holds the lock. Idempotent: when a checkout
   * already holds the cart, that one is returned (started: false). A checkout that is ending (a cancel
   * or an order under way) is never returned: the start waits for it to close and starts anew, a few
   * times at most. Fails with the lock's error (NOT_FOUND, INVALID_OPERATION for a Closed cart,
   * CHECKOUT_CONFLICT), or RATE_LIMITED / UNAVAILABLE when Temporal refuses for now.
   */
  async startCheckout(cartId: string, options: StartCheckoutOptions = {}): Promise<StartedCheckout> {
    assertCartId(cartId);
    const workflowId = checkoutWorkflowId(cartId);
    try {
      for (let attempt = 0; attempt < MAX_START_ATTEMPTS; attempt++) {
        // A run that already holds the cart is answered from a query: an Update per start would count
        // against Temporal's per-run limits (10 in flight, 2,000 in total) and exhaust them.
        const running = await this.runningView(workflowId);
        if (running && holdsCart(running)) return this.started(workflowId, cartId, running, undefined);
        if (running && isEnding(running)) {
          await this.waitForClose(workflowId, running.sessionId);
          continue;
        }
        const requestId = randomUUID();
        const view = await this.startOrJoin(cartId, options, requestId);
        if (isEnding(view)) {
          // Joined a run whose cancel (or order) came before us: it will not hold the cart for this caller.
          await this.waitForClose(workflowId, view.sessionId);
          continue;
        }
        return this.started(workflowId, cartId, view, requestId);
      }
    } catch (err) {
      throw asCheckoutError(err);
    }
    throw new CheckoutError('CHECKOUT_CONFLICT', `The checkout of cart ${cartId} kept ending while this start joined it; try again.`, { cartId });
  }

  private started(workflowId: string, cartId: string, view: CheckoutView, requestId: string | undefined): StartedCheckout {
    // The session id is the run's first execution run id (the workflow does not continue-as-new).
    return { checkoutId: workflowId, runId: view.sessionId, cartId, started: requestId !== undefined && view.requestId === requestId, view };
  }

  /** The running checkout's view, or undefined when none runs or it cannot answer a query now. */
  private async runningView(workflowId: string): Promise<CheckoutView | undefined> {
    const handle = this.client.workflow.getHandle(workflowId);
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return undefined;
      // Bounded: with no worker polling, a query waits for one; update-with-start below waits as well, and knows how.
      return await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(getCheckoutStateQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      if (transientTemporalError(err)) throw err;
      return undefined;
    }
  }

  /** Update-with-start: a new run, or the running one (USE_EXISTING), answering once it holds the lock. */
  private async startOrJoin(cartId: string, options: StartCheckoutOptions, requestId: string): Promise<CheckoutView> {
    const leaseMs = options.leaseMs ?? this.leaseMs;
    const input: CheckoutInput = {
      cartId,
      requestId,
      ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
      ...(leaseMs ? { leaseMs } : {}),
    };
    const startOp = new WithStartWorkflowOperation<typeof checkoutWorkflow>(CHECKOUT_WORKFLOW_TYPE, {
      workflowId: checkoutWorkflowId(cartId),
      taskQueue: this.taskQueue,
      args: [input],
      // A second start for the same cart joins the running checkout instead of failing.
      workflowIdConflictPolicy: 'USE_EXISTING',
      searchAttributes: { CartId: [cartId] },
      staticSummary: checkoutSummary(input),
    });
    return this.client.workflow.executeUpdateWithStart(waitForLockUpdate, { startWorkflowOperation: startOp });
  }

  /** Waits (bounded) for a run to close, whatever its outcome. */
  private async waitForClose(workflowId: string, runId: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ENDING_WAIT_MS);
    });
    try {
      const closed = this.client.workflow
        .getHandle(workflowId, runId)
        .result()
        .then(
          () => 'closed' as const,
          () => 'closed' as const,
        );
      if ((await Promise.race([closed, timedOut])) === 'timeout') {
        throw new CheckoutError('UNAVAILABLE', 'The previous checkout of this cart is still ending; retry shortly.', { retryable: true });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Cancels the running checkout of a cart. With wait (default) it answers after the cart is Active,
   * or fails with INVALID_OPERATION when the cart is Closed. With no checkout running it succeeds
   * without doing anything, except on a Closed cart (INVALID_OPERATION) or a missing one (NOT_FOUND),
   * which need the carts collection to be told apart. A lock whose holder is no longer running
   * (terminated, failed, removed) is released here (answer `staleLock: true`), with the collection.
   */
  async cancelCheckout(cartId: string, options: CancelOptions = {}, attempt = 0): Promise<CancelAnswer> {
    assertCartId(cartId);
    const req = { reason: options.reason ?? 'REQUESTED', ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}) };
    const problem = cancelRequestProblem(req);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { cartId });
    const request: CancelCheckoutRequest = normalizeCancelRequest(req);
    const handle = this.client.workflow.getHandle(checkoutWorkflowId(cartId));
    try {
      if (options.wait === false) {
        await handle.signal(cancelCheckoutSignal, request);
        return { cartId, canceled: false, accepted: true, reason: request.reason };
      }
      return await handle.executeUpdate(cancelCheckoutUpdate, { args: [request] });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw asCheckoutError(err);
    }
    const answer = await storeCall(() => this.nothingRunning(cartId, request));
    if (answer === 'holder-running' && attempt < 2) return this.cancelCheckout(cartId, options, attempt + 1);
    if (answer === 'holder-running') {
      throw new CheckoutError('CHECKOUT_CONFLICT', `A checkout of cart ${cartId} started while it was being cancelled; try again.`, { cartId });
    }
    return answer;
  }

  /**
   * No checkout run answered. The cart may still be locked by a session whose run is gone: nobody
   * else will ever unlock it, so release it here, fenced by that session id. 'holder-running' when
   * a run (a new one, started meanwhile) holds the cart: cancel through it instead.
   */
  private async nothingRunning(cartId: string, request: CancelCheckoutRequest): Promise<CancelAnswer | 'holder-running'> {
    const reason = request.reason;
    // Without the carts collection a Closed or missing cart can't be told apart: say nothing of its status.
    if (!this.repo) return { cartId, canceled: false, reason };
    const doc = await this.repo.get(cartId);
    if (doc.status === 'Closed') {
      throw new CheckoutError('INVALID_OPERATION', CLOSED_CART_MESSAGE, { cartId, status: doc.status });
    }
    const holder = doc.status === 'Checkout' ? doc.checkout : undefined;
    if (!holder) return { cartId, canceled: false, reason, status: doc.status };
    if (await this.isRunning(holder.workflowId || checkoutWorkflowId(cartId), holder.runId ?? holder.sessionId)) return 'holder-running';
    // The store's own cancel, fenced by that session: the same bounded archive and session record as
    // any cancel, and it never touches a cart that another session holds.
    const released = await this.repo.cancel({ cartId, sessionId: holder.sessionId, ...request });
    if (released.canceled) return { cartId, canceled: true, reason, status: released.doc.status, staleLock: true };
    // The cart changed under us (another cancel released it, or a new checkout took it); the store's
    // cancel read it again and refused a Closed one with INVALID_OPERATION.
    const now = released.doc;
    return now.status === 'Checkout' ? 'holder-running' : { cartId, canceled: false, reason, status: now.status };
  }

  private async isRunning(workflowId: string, runId: string): Promise<boolean> {
    try {
      return (await this.client.workflow.getHandle(workflowId, runId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw asCheckoutError(err);
    }
  }

  /** Places the order of the running checkout: the cart becomes Closed. */
  async placeOrder(cartId: string, requestedBy?: string): Promise<PlaceOrderResult> {
    assertCartId(cartId);
    const handle = this.client.workflow.getHandle(checkoutWorkflowId(cartId));
    try {
      return await handle.executeUpdate(placeOrderUpdate, { args: [requestedBy ? { requestedBy } : {}] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new CheckoutError('INVALID_OPERATION', 'No checkout is running for this cart.', { cartId });
      }
      throw asCheckoutError(err);
    }
  }

  /** The running checkout's state, or undefined when none runs. */
  async getCheckout(cartId: string): Promise<CheckoutView | undefined> {
    assertCartId(cartId);
    const handle = this.client.workflow.getHandle(checkoutWorkflowId(cartId));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return undefined;
      return await handle.query(getCheckoutStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw asCheckoutError(err);
    }
  }

  /** Waits for the checkout run to end and returns its result (or its business failure as a CheckoutError). */
  async checkoutResult(cartId: string, runId?: string): Promise<CheckoutResult> {
    try {
      return await this.client.workflow.getHandle<typeof checkoutWorkflow>(checkoutWorkflowId(cartId), runId).result();
    } catch (err) {
      const lockLost = err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === LOCK_LOST;
      // A run whose cart was taken from it: the conflict its failure's details name.
      if (lockLost) throw new CheckoutError('CHECKOUT_CONFLICT', (err.cause as ApplicationFailure).message, { cartId, reason: LOCK_LOST });
      throw asCheckoutError(err);
    }
  }

  async getCart(cartId: string): Promise<CartView> {
    return cartView(await storeCall(() => this.requireRepo().get(cartId)));
  }

  /** Creates an Active cart; with a cartId, idempotent (see createCartOnce). */
  async createCart(cart: NewCart): Promise<CartView> {
    return cartView(await storeCall(() => createCartOnce(this.requireRepo(), { ...cart, cartId: cart.cartId ?? randomUUID() })));
  }

  addItem(cartId: string, sku: string, quantity: number, opts: ItemChangeOptions & { unitPrice?: number } = {}) {
    const { unitPrice, ...options } = opts;
    return this.changeItems(cartId, { op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) }, options);
  }

  setItemQuantity(cartId: string, sku: string, quantity: number, options?: string | ItemChangeOptions) {
    return this.changeItems(cartId, { op: 'set', sku, quantity }, options);
  }

  removeItem(cartId: string, sku: string, options?: string | ItemChangeOptions) {
    return this.changeItems(cartId, { op: 'remove', sku }, options);
  }

  /**
   * Runs an item change durably and answers its result; a running checkout is cancelled first
   * (result.canceledCheckout). Exactly once per request id: repeating a request id (a retry) joins
   * the change still running or answers the result of the one that completed, never a second change.
   * Without a request id one is made. `options` may be the requestedBy string (older callers).
   */
  async changeItems(cartId: string, change: ItemChange, options?: string | ItemChangeOptions): Promise<ItemChangeResult> {
    const started = await this.startItemChange(cartId, change, typeof options === 'string' ? { requestedBy: options } : (options ?? {}));
    return { ...(await started.result()), requestId: started.requestId };
  }

  /**
   * The same change, waiting at most `waitMs` for its result. When the change has been started but
   * not finished by then, it answers `{ accepted: true, requestId }`: the change completes durably,
   * and calling again with the same request id answers its result. A start that does not get through
   * by the deadline fails as it is (a gRPC deadline error): the change may or may not have started,
   * and a retry with the same request id is safe either way.
   */
  async changeItemsWithin(cartId: string, change: ItemChange, waitMs: number, options: ItemChangeOptions = {}): Promise<ItemChangeAnswer> {
    const deadline = Date.now() + waitMs;
    const started = await this.client.withDeadline(deadline, () => this.startItemChange(cartId, change, options));
    try {
      const result = await this.client.withDeadline(deadline, () => started.result());
      return { ...result, requestId: started.requestId };
    } catch (err) {
      if (!isGrpcDeadlineError(err)) throw err;
      return { cartId, accepted: true, requestId: started.requestId, workflowId: started.workflowId };
    }
  }

  private async startItemChange(
    cartId: string,
    change: ItemChange,
    options: ItemChangeOptions,
  ): Promise<{ requestId: string; workflowId: string; result: () => Promise<CartItemsResult> }> {
    assertCartId(cartId);
    // Checked here too, so a malformed change never starts a workflow; the activity checks again.
    const problem = itemChangeProblem(change);
    if (problem) throw new CheckoutError('INVALID_INPUT', problem, { cartId, field: 'change' });
    const requestId = options.requestId ?? randomUUID();
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw new CheckoutError('INVALID_INPUT', 'requestId must be 1-128 letters, digits or _ . : - starting with a letter or digit', {
        cartId,
        field: 'requestId',
      });
    }
    const workflowId = cartItemsWorkflowId(cartId, requestId);
    const input: CartItemsRequest = { cartId, change, requestId, ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}) };
    try {
      const handle = await this.client.workflow.start<typeof cartItemsWorkflow>(CART_ITEMS_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        // A retry while the change runs joins it; a retry after it completed is refused by the
        // reuse policy (never a second run) and answered below with that run's result. A run that
        // failed, was terminated or timed out may run again: the cart store applies a request id once.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        searchAttributes: { CartId: [cartId] },
        staticSummary: cartItemsSummary({ cartId, change }),
      });
      return { requestId, workflowId, result: () => codes(() => handle.result()) };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw findCheckoutError(err) ?? err;
      const handle = this.client.workflow.getHandle<typeof cartItemsWorkflow>(workflowId);
      return { requestId, workflowId, result: () => codes(() => handle.result()) };
    }
  }

  private requireRepo(): CartRepository {
    if (!this.repo) throw new Error('this CheckoutClient was made without a carts collection');
    return this.repo;
  }
}

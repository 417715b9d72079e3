/**
 * The client library for services: start a checkout, cancel it (signal, or wait for the outcome),
 * place the order, change items, read cart and checkout state. Results are plain typed objects;
 * failures are CheckoutErrors carrying the codes of DOMAIN.md.
 */
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  isGrpcDeadlineError,
  type Client,
} from '@temporalio/client';
import type { Collection } from 'mongodb';
import { randomUUID } from 'node:crypto';
import {
  REQUEST_ID_PATTERN,
  TASK_QUEUE,
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
import { CartRepository, assertCartId, cartView, type CartDoc, type CartView } from './db/carts';
import { CheckoutError, findCheckoutError } from './errors';
import type { cartItemsWorkflow, checkoutWorkflow } from '../workflows';
import {
  cancelCheckoutSignal,
  cancelCheckoutUpdate,
  getCheckoutStateQuery,
  placeOrderUpdate,
  waitForLockUpdate,
} from '../workflows/messages';
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
  stepDelayMs?: number;
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

export type CancelAnswer = CancelOutcome | { cartId: string; canceled: false; accepted: true; reason: string };

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
   * Starts the checkout of a cart and answers once it holds the lock (update-with-start). Idempotent:
   * when a checkout already runs for the cart, that one is returned. Fails with the lock's error
   * (NOT_FOUND, INVALID_OPERATION for a Closed cart, CHECKOUT_CONFLICT).
   */
  async startCheckout(cartId: string, options: StartCheckoutOptions = {}, attempt = 0): Promise<StartedCheckout> {
    assertCartId(cartId);
    const requestId = randomUUID();
    const leaseMs = options.leaseMs ?? this.leaseMs;
    const input: CheckoutInput = {
      cartId,
      requestId,
      ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
      ...(leaseMs ? { leaseMs } : {}),
      ...(options.stepDelayMs ? { stepDelayMs: options.stepDelayMs } : {}),
    };
    const workflowId = checkoutWorkflowId(cartId);
    const startOp = new WithStartWorkflowOperation<typeof checkoutWorkflow>('checkoutWorkflow', {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input],
      // A second start for the same cart joins the running checkout instead of failing.
      workflowIdConflictPolicy: 'USE_EXISTING',
      searchAttributes: { CartId: [cartId] },
      staticSummary: checkoutSummary(input),
    });
    const view = await codes(() => this.client.workflow.executeUpdateWithStart(waitForLockUpdate, { startWorkflowOperation: startOp }));
    if (view.phase === 'DONE' && attempt < 3) {
      // We joined a run that is just finishing (its cancel has run): wait for it to close, then start anew.
      await this.client.workflow.getHandle(workflowId, view.sessionId).result().catch(() => undefined);
      return this.startCheckout(cartId, options, attempt + 1);
    }
    // The session id is the run's first execution run id (the workflow does not continue-as-new).
    return { checkoutId: workflowId, runId: view.sessionId, cartId, started: view.requestId === requestId, view };
  }

  /**
   * Cancels the running checkout of a cart. With wait (default) it answers after the cart is Active,
   * or fails with INVALID_OPERATION when the cart is Closed. With no checkout running it succeeds
   * without doing anything, except on a Closed cart (INVALID_OPERATION) or a missing one (NOT_FOUND),
   * which need the carts collection to be told apart.
   */
  async cancelCheckout(cartId: string, options: CancelOptions = {}): Promise<CancelAnswer> {
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
      if (err instanceof WorkflowNotFoundError) return this.nothingRunning(cartId, request.reason);
      throw findCheckoutError(err) ?? err;
    }
  }

  private async nothingRunning(cartId: string, reason: string): Promise<CancelOutcome> {
    // Without the carts collection a Closed or missing cart can't be told apart: say nothing of its status.
    if (!this.repo) return { cartId, canceled: false, reason };
    const doc = await this.repo.get(cartId);
    if (doc.status === 'Closed') {
      throw new CheckoutError('INVALID_OPERATION', "A cart can't be canceled after it's closed.", { cartId, status: doc.status });
    }
    return { cartId, canceled: false, reason, status: doc.status };
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
      throw findCheckoutError(err) ?? err;
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
      throw err;
    }
  }

  /** Waits for the checkout run to end and returns its result (or its business failure as a CheckoutError). */
  async checkoutResult(cartId: string, runId?: string): Promise<CheckoutResult> {
    return codes(() => this.client.workflow.getHandle<typeof checkoutWorkflow>(checkoutWorkflowId(cartId), runId).result());
  }

  async getCart(cartId: string): Promise<CartView> {
    return cartView(await this.requireRepo().get(cartId));
  }

  /** Creates an Active cart; with a cartId, idempotent (see createCartOnce). */
  async createCart(cart: NewCart): Promise<CartView> {
    return cartView(await createCartOnce(this.requireRepo(), { ...cart, cartId: cart.cartId ?? randomUUID() }));
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
      const handle = await this.client.workflow.start<typeof cartItemsWorkflow>('cartItemsWorkflow', {
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

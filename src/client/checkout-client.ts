/**
 * The client library for services: start a checkout, cancel it (signal, or wait for the outcome),
 * place the order, change items, read cart and checkout state. Results are plain typed objects;
 * failures are CheckoutErrors carrying the codes of the contract. Each operation lives in its own
 * module beside this one; cart reads and creation are the cart service's (src/carts.ts).
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CartService, type NewCart } from '../carts';
import {
  CheckoutError,
  LOCK_LOST,
  TASK_QUEUE,
  assertCartId,
  checkoutWorkflowId,
  type CartView,
  type CheckoutResult,
  type CheckoutView,
  type ItemChange,
  type PlaceOrderResult,
} from '../contract';
import { getCheckoutStateQuery, placeOrderUpdate } from '../contract/messages';
import { CartRepository } from '../db';
import type { checkoutWorkflow } from '../../workflows';
import { cancelCheckout } from './cancel';
import { changeItems, changeItemsWithin } from './items';
import { startCheckout } from './start';
import { asCheckoutError } from './temporal-errors';
import type {
  CancelAnswer,
  CancelOptions,
  CheckoutClientOptions,
  ItemChangeAnswer,
  ItemChangeOptions,
  ItemChangeResult,
  StartCheckoutOptions,
  StartedCheckout,
  TemporalTarget,
} from './types';

export class CheckoutClient {
  readonly client: Client;
  readonly taskQueue: string;
  private readonly target: TemporalTarget;
  private readonly repo: CartRepository | undefined;
  private readonly carts: CartService | undefined;

  constructor(options: CheckoutClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.target = { client: this.client, taskQueue: this.taskQueue, ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}) };
    this.repo = options.carts ? new CartRepository(options.carts) : undefined;
    this.carts = options.carts ? new CartService(options.carts) : undefined;
  }

  /**
   * Starts the checkout of a cart and answers once it holds the lock. Idempotent: when a checkout
   * already holds the cart, that one is returned (started: false). A checkout that is ending (a cancel
   * or an order under way) is never returned: the start waits for it to close and starts anew, a few
   * times at most. Fails with the lock's error (NOT_FOUND, INVALID_OPERATION for a Closed cart,
   * CHECKOUT_CONFLICT), or RATE_LIMITED / UNAVAILABLE when Temporal refuses for now.
   */
  startCheckout(cartId: string, options: StartCheckoutOptions = {}): Promise<StartedCheckout> {
    return startCheckout(this.target, cartId, options);
  }

  /**
   * Cancels the running checkout of a cart. With wait (default) it answers after the cart is Active,
   * or fails with INVALID_OPERATION when the cart is Closed. With no checkout running it succeeds
   * without doing anything, except on a Closed cart (INVALID_OPERATION) or a missing one (NOT_FOUND),
   * which need the carts collection to be told apart. A lock whose holder is no longer running
   * (terminated, failed, removed) is released here (answer `staleLock: true`), with the collection.
   */
  cancelCheckout(cartId: string, options: CancelOptions = {}): Promise<CancelAnswer> {
    return cancelCheckout(this.target, this.repo, cartId, options);
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

  /** The run id of the cart's running checkout (describe only, no worker needed), or undefined when none runs. */
  async runningRunId(cartId: string): Promise<string | undefined> {
    assertCartId(cartId);
    try {
      const description = await this.client.workflow.getHandle(checkoutWorkflowId(cartId)).describe();
      return description.status.name === 'RUNNING' ? description.runId : undefined;
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

  /** The cart service's read, for callers that hold only a CheckoutClient. */
  async getCart(cartId: string): Promise<CartView> {
    return this.cartService().getCart(cartId);
  }

  /** The cart service's create: an Active cart; with a cartId, idempotent. */
  async createCart(cart: NewCart): Promise<CartView> {
    return this.cartService().createCart(cart);
  }

  addItem(cartId: string, sku: string, quantity: number, opts: ItemChangeOptions & { unitPrice?: number } = {}): Promise<ItemChangeResult> {
    const { unitPrice, ...options } = opts;
    return this.changeItems(cartId, { op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) }, options);
  }

  setItemQuantity(cartId: string, sku: string, quantity: number, options?: string | ItemChangeOptions): Promise<ItemChangeResult> {
    return this.changeItems(cartId, { op: 'set', sku, quantity }, options);
  }

  removeItem(cartId: string, sku: string, options?: string | ItemChangeOptions): Promise<ItemChangeResult> {
    return this.changeItems(cartId, { op: 'remove', sku }, options);
  }

  /**
   * Runs an item change durably and answers its result; a running checkout is cancelled first
   * (result.canceledCheckout), or, when the cart's store has the checkoutPolicy `recalculate`, takes
   * the change and runs its steps again (result.recalculated; the cart stays in Checkout). Exactly once per request id: repeating a request id (a retry) joins
   * the change still running or answers the result of the one that completed, never a second change.
   * Without a request id one is made. `options` may be the requestedBy string (older callers).
   */
  changeItems(cartId: string, change: ItemChange, options?: string | ItemChangeOptions): Promise<ItemChangeResult> {
    return changeItems(this.target, cartId, change, typeof options === 'string' ? { requestedBy: options } : (options ?? {}));
  }

  /** changeItems waiting at most `waitMs`; then `{ accepted: true, requestId }` and the change completes durably (see ./items). */
  changeItemsWithin(cartId: string, change: ItemChange, waitMs: number, options: ItemChangeOptions = {}): Promise<ItemChangeAnswer> {
    return changeItemsWithin(this.target, cartId, change, waitMs, options);
  }

  private cartService(): CartService {
    if (!this.carts) throw new Error('this CheckoutClient was made without a carts collection');
    return this.carts;
  }
}

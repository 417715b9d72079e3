/** What every route module is given: the client for workflow operations, the cart service, the API's wait. */
import type { FastifyRequest } from 'fastify';
import type { CartService } from '../../carts';
import type { CheckoutClient } from '../../client';
import type { CartView } from '../../contract';
import { effectiveAccountId } from '../auth';

export interface RouteContext {
  checkout: CheckoutClient;
  carts: CartService;
  /** How long a request waits on a workflow before answering 202 or 503 (API_WAIT_MS). */
  waitMs: number;
  /** Runs fn with the API's deadline (or ms) on every Temporal call it makes, so no request waits on a lost worker for long. */
  withinWait<T>(fn: () => Promise<T>, ms?: number): Promise<T>;
}

/** What buyer routes read of a request, whatever their type provider: the cart id and the headers. */
export type CartRequest = Pick<FastifyRequest, 'headers' | 'auth' | 'idempotency' | 'id'> & { params: { cartId: string } };

/** The cart of a buyer route, after the platform's requirement checks (src/carts.ts); nothing has been written when one fails. */
export function buyerCart(ctx: RouteContext, req: CartRequest): Promise<CartView> {
  return ctx.carts.ownedCart(req.params.cartId, effectiveAccountId(req));
}

/** status: a cart (from MongoDB) and the state of its running checkout, if any. */
import type { Command } from 'commander';
import { waitExpired } from '../../client';
import type { CheckoutView } from '../../contract';
import { checkCartId } from '../args';
import { cartLines, checkoutLine } from '../output';
import { MONGO_ENV, TEMPORAL_ENV, defineCommand, type Prepare } from '../program';

/** Reading the checkout's state must not hold `status` up when no worker answers queries. */
const QUERY_TIMEOUT_MS = 10_000;

export function addStatusCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'status',
    summary: 'show a cart and its running checkout',
    description: 'Show a cart (from MongoDB) and the state of its running checkout, if any.',
    examples: ['b2b-checkout status cart-42', 'b2b-checkout --json status cart-42 | jq .cart.status'],
    env: [...TEMPORAL_ENV, ...MONGO_ENV],
  })
    .argument('<cartId>', 'the cart')
    .action(async (cartIdArg: string, _opts: unknown, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const carts = await conn.carts('status');
      const checkout = await conn.checkout('none');
      const cart = await carts.getCart(cartId);
      let view: CheckoutView | undefined;
      let unavailable: string | undefined;
      try {
        view = await conn.withDeadline(Math.min(globals.timeoutMs, QUERY_TIMEOUT_MS), () => checkout.getCheckout(cartId));
      } catch (err) {
        if (!waitExpired(err)) throw err;
        unavailable = 'no worker answered the checkout state query in time';
      }
      printer.result({ cart, checkout: view ?? null, ...(unavailable ? { checkoutUnavailable: unavailable } : {}) }, () => [
        ...cartLines(cart),
        view ? `  ${checkoutLine(view)}` : unavailable ? `  checkout: state unavailable (${unavailable})` : '  checkout: none running',
      ]);
    });
}

/** place-order: place the order of the running checkout; the cart becomes Closed. */
import type { Command } from 'commander';
import { checkCartId, checkRequestedBy } from '../args';
import { TEMPORAL_ENV, defineCommand, type Prepare } from '../program';

export function addPlaceOrderCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'place-order',
    summary: 'place the order: the cart becomes Closed',
    description: "Place the order of the cart's running checkout: the cart becomes Closed.",
    examples: ['b2b-checkout place-order cart-42'],
    env: TEMPORAL_ENV,
  })
    .argument('<cartId>', 'the cart')
    .option('--requested-by <who>', 'who places the order')
    .action(async (cartIdArg: string, opts: { requestedBy?: string }, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const checkout = await conn.checkout('none');
      const { orderId } = await conn.withDeadline(globals.timeoutMs, () => checkout.placeOrder(cartId, requestedBy));
      printer.result({ cartId, orderId }, () => [`order ${orderId} placed from cart ${cartId}; cart is Closed`]);
    });
}

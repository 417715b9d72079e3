/** start: start (or join) the checkout of a cart, which locks it. */
import type { Command } from 'commander';
import { checkCartId, checkRequestedBy, parsePositiveInteger } from '../args';
import { TEMPORAL_ENV, defineCommand, type Prepare } from '../program';

export function addStartCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'start',
    summary: 'start (or join) the checkout of a cart: locks it',
    description: 'Start the checkout of a cart (or join the one running): locks the cart (status Checkout).',
    examples: ['b2b-checkout start cart-42', 'b2b-checkout start cart-42 --lease-ms 900000 --requested-by ops-alice'],
    env: TEMPORAL_ENV,
  })
    .argument('<cartId>', 'the cart')
    .option('--lease-ms <n>', 'release the lock (reason EXPIRED) when no order is placed within n ms (default: 30 minutes)')
    .option('--requested-by <who>', 'who starts the checkout (recorded on the session)')
    .action(async (cartIdArg: string, opts: { leaseMs?: string; requestedBy?: string }, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const leaseMs = opts.leaseMs === undefined ? undefined : parsePositiveInteger(opts.leaseMs, '--lease-ms');
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const checkout = await conn.checkout('none');
      const started = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.startCheckout(cartId, { ...(leaseMs ? { leaseMs } : {}), ...(requestedBy ? { requestedBy } : {}) }),
      );
      printer.result(started, () => [
        `${started.started ? 'checkout started' : 'checkout already running'} on cart ${cartId}: ` +
          `workflow ${started.checkoutId}, session ${started.runId}, phase ${started.view.phase}, state ${started.view.state}`,
      ]);
    });
}

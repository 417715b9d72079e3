/** cancel: cancel the running checkout (cancelCartAsyncOperation); the cart is Active again. */
import type { Command } from 'commander';
import type { CancelAnswer } from '../../client';
import { DEFAULT_CANCEL_REASON, cancelRequestProblem } from '../../contract';
import { checkCartId, checkRequestedBy, invalidInput } from '../args';
import type { Printer } from '../output';
import { MONGO_ENV, TEMPORAL_ENV, defineCommand, type Prepare } from '../program';

export function addCancelCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'cancel',
    summary: 'cancel the running checkout: the cart is Active again',
    description:
      "Cancel the checkout running on a cart (cancelCartAsyncOperation): the cart goes back to Active. A Closed cart can't be canceled (INVALID_OPERATION).",
    examples: [
      'b2b-checkout cancel cart-42',
      'b2b-checkout cancel cart-42 --reason BUYER_LEFT --requested-by ops-alice',
      'b2b-checkout cancel cart-42 --no-wait   # send the cancelCheckout signal and return',
    ],
    env: [...TEMPORAL_ENV, ...MONGO_ENV],
  })
    .argument('<cartId>', 'the cart')
    .option('--reason <reason>', 'why (recorded on the archived session)', DEFAULT_CANCEL_REASON)
    .option('--requested-by <who>', 'who cancels (recorded on the archived session)')
    .option('--no-wait', 'return once the cancel signal is accepted, without waiting for the cart to be unlocked')
    .action(async (cartIdArg: string, opts: { reason: string; requestedBy?: string; wait: boolean }, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const problem = cancelRequestProblem({ reason: opts.reason, ...(requestedBy ? { requestedBy } : {}) });
      if (problem) throw invalidInput(problem, { field: 'reason' });
      const mongo = conn.mongoConfigured();
      const checkout = await conn.checkout('if-configured');
      const answer = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.cancelCheckout(cartId, { reason: opts.reason, wait: opts.wait, ...(requestedBy ? { requestedBy } : {}) }),
      );
      printAnswer(printer, cartId, answer, mongo);
    });
}

function printAnswer(printer: Printer, cartId: string, answer: CancelAnswer, mongo: boolean): void {
  if ('accepted' in answer) {
    printer.result(answer, () => [`cancel requested on cart ${cartId} (reason ${answer.reason}); the checkout unlocks the cart`]);
  } else if (answer.canceled) {
    printer.result(answer, () => [`checkout canceled on cart ${cartId} (reason ${answer.reason}); cart is ${answer.status}`]);
  } else if (mongo) {
    printer.result(answer, () => [`no checkout running on cart ${cartId}; nothing to cancel (cart is ${answer.status})`]);
  } else {
    // Without MongoDB the client cannot know the cart's status: don't claim one.
    const { status: _unknown, ...rest } = answer;
    printer.note('MONGODB_URI is not set: no checkout was running, but the cart itself was not checked (it may be Closed or missing).');
    printer.result(rest, () => [`no checkout running on cart ${cartId}; nothing to cancel`]);
  }
}

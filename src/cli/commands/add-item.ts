/** add-item: add an item to a cart; a running checkout is canceled first, or recalculated under the store's checkout policy. */
import type { Command } from 'commander';
import { checkCartId, checkChange, checkRequestId, checkRequestedBy, parseInteger, parseUnitPrice } from '../args';
import { itemsLine } from '../output';
import { TEMPORAL_ENV, defineCommand, type Prepare } from '../program';

interface Options {
  unitPrice?: string;
  requestedBy?: string;
  requestId?: string;
}

export function addAddItemCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'add-item',
    summary: 'add an item (cancels a running checkout first, or recalculates it)',
    description:
      "Add an item to a cart. A running checkout is canceled first (reason ADD_TO_CART), unless the store's checkoutPolicy is recalculate: then the checkout takes the change and runs its steps again (the cart stays in Checkout). A Closed cart is refused.",
    examples: [
      'b2b-checkout add-item cart-42 SKU-1 2',
      'b2b-checkout add-item cart-42 SKU-9 1 --unit-price 19.99 --requested-by buyer-7',
      'b2b-checkout add-item cart-42 SKU-1 2 --request-id ticket-1234   # run again: same result, added once',
    ],
    env: TEMPORAL_ENV,
  })
    .argument('<cartId>', 'the cart')
    .argument('<sku>', 'the item')
    .argument('<quantity>', 'how many to add (a positive integer)')
    .option('--unit-price <p>', 'unit price (a non-negative number)')
    .option('--requested-by <who>', 'who changes the cart (recorded if a checkout is canceled)')
    .option('--request-id <id>', 'makes the change exactly-once: repeating the command with this id answers the same result (default: a new id)')
    .action(async (cartIdArg: string, sku: string, quantityArg: string, opts: Options, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const quantity = parseInteger(quantityArg, 'quantity');
      const unitPrice = opts.unitPrice === undefined ? undefined : parseUnitPrice(opts.unitPrice);
      checkChange({ op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) });
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const requestId = checkRequestId(opts.requestId);
      const checkout = await conn.checkout('none');
      const result = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.addItem(cartId, sku, quantity, {
          ...(unitPrice !== undefined ? { unitPrice } : {}),
          ...(requestedBy ? { requestedBy } : {}),
          ...(requestId ? { requestId } : {}),
        }),
      );
      printer.result(result, () => [
        `added ${quantity} x ${sku} to cart ${cartId}; cart is ${result.status} (version ${result.version})` +
          (result.canceledCheckout ? '; the running checkout was canceled first' : '') +
          (result.recalculated ? '; the running checkout took the change and is being recalculated' : ''),
        `  ${itemsLine(result.items)}`,
        `  request id ${result.requestId} (repeat with --request-id ${result.requestId} to retry without adding twice)`,
      ]);
    });
}

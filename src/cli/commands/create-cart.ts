/** create-cart: an Active cart in MongoDB (no Temporal call). */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { CartService } from '../../carts';
import { checkCartId, checkOpaqueId, parseItemSpec } from '../args';
import { itemsLine } from '../output';
import { MONGO_ENV, defineCommand, type Prepare } from '../program';

interface Options {
  webstore: string;
  account: string;
  cartId?: string;
  item?: string[];
}

export function addCreateCartCommand(program: Command, prepare: Prepare): void {
  defineCommand(program, {
    name: 'create-cart',
    summary: 'create an Active cart in MongoDB',
    description: 'Create an Active cart in MongoDB (no Temporal call).',
    examples: [
      'b2b-checkout create-cart --webstore store-1 --account acct-1',
      'b2b-checkout create-cart --webstore store-1 --account acct-1 --cart-id cart-42 --item SKU-1:2 --item SKU-9:1',
    ],
    env: MONGO_ENV,
  })
    .requiredOption('--webstore <id>', 'webstore (store) id')
    .requiredOption('--account <id>', 'buyer account id')
    .option('--cart-id <id>', 'cart id (default: a new UUID)')
    .option('--item <sku:qty...>', 'an item to put in the cart; repeat for more (e.g. --item SKU-1:2 --item SKU-9:1)')
    .action(async (opts: Options, cmd: Command) => {
      const { printer, conn } = prepare(cmd);
      const cartId = checkCartId(opts.cartId ?? randomUUID());
      const webstoreId = checkOpaqueId(opts.webstore, 'webstore');
      const accountId = checkOpaqueId(opts.account, 'account');
      const items = CartService.itemsOf((opts.item ?? []).map(parseItemSpec));
      // Idempotent under its cart id: a retry with the same fields answers the cart; other fields exit 6.
      const cart = await (await conn.carts('create-cart')).createCart({ cartId, webstoreId, accountId, items });
      printer.result(cart, () => [`created cart ${cart.cartId}: ${cart.status}, webstore ${webstoreId}, account ${accountId}`, `  ${itemsLine(cart.items)}`]);
    });
}

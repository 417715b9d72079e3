/**
 * The operator CLI (src/cli/) on the real servers: main() runs in-process against this file's
 * worker (--task-queue), and its exit codes, printed codes and the carts in MongoDB are asserted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EXIT_CODES, main } from '../src/cli/main';
import { CLOSED_CART_MESSAGE, checkoutWorkflowId } from '../src/contract';
import { freePort } from '../stack/ports';
import { insertForeignCart, newCartId, setupTestEnv, type TestEnv } from './harness/env';

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('cli');
});
afterAll(async () => {
  await env?.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with this file's task queue; `env` entries replace (or, undefined, remove) variables. */
async function cli(args: string[], options: { env?: Record<string, string | undefined>; taskQueue?: string } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['--task-queue', options.taskQueue ?? env.taskQueue, ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { ...process.env, MONGODB_DB: env.mongoDb, ...options.env },
  });
  return { code, stdout, stderr };
}

/** Runs with --json and parses stdout, which must be exactly one JSON document. */
async function cliJson(args: string[], options: Parameters<typeof cli>[1] = {}): Promise<{ code: number; doc: Record<string, unknown>; stderr: string }> {
  const r = await cli(['--json', ...args], options);
  return { code: r.code, doc: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
}

const cartOf = async (cartId: string) => {
  const doc = await env.carts.findOne({ _id: cartId });
  if (!doc) throw new Error(`cart ${cartId} is missing`);
  return doc;
};

/** Servers nobody listens on: a command that reached for them would fail with exit 1, not 2. */
async function unreachableServers(): Promise<Record<string, string>> {
  const port = await freePort();
  return { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, MONGODB_URI: `mongodb://127.0.0.1:${port}` };
}

test('create-cart, start, status, add-item cancels the checkout, start, place-order; then cancel exits 4 with INVALID_OPERATION', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    let r = await cli(['create-cart', '--webstore', 'store-1', '--account', 'acct-1', '--cart-id', cartId, '--item', 'SKU-1:2']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`created cart ${cartId}: Active`);
    expect(await cartOf(cartId)).toMatchObject({
      status: 'Active',
      webstoreId: 'store-1',
      accountId: 'acct-1',
      items: [{ sku: 'SKU-1', quantity: 2 }],
      version: 0,
    });

    r = await cli(['start', cartId, '--requested-by', 'ops-alice']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`checkout started on cart ${cartId}: workflow ${checkoutWorkflowId(cartId)}`);
    const locked = await cartOf(cartId);
    expect(locked.status).toBe('Checkout');
    expect(locked.checkout).toMatchObject({ requestedBy: 'ops-alice', isArchived: false, backgroundOperation: { status: 'Running' } });

    r = await cli(['status', cartId]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^cart ${cartId}: Checkout \\(version \\d+\\)`));
    expect(r.stdout).toContain(`session ${locked.checkout!.sessionId}`);
    expect(r.stdout).toMatch(/checkout running: phase (PROCESSING|READY)/);

    r = await cli(['add-item', cartId, 'SKU-NEW', '3', '--requested-by', 'buyer-7']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`added 3 x SKU-NEW to cart ${cartId}; cart is Active`);
    expect(r.stdout).toContain('the running checkout was canceled first');
    const changed = await cartOf(cartId);
    expect(changed.status).toBe('Active');
    expect(changed.checkout ?? undefined).toBeUndefined();
    expect(changed.items).toEqual([
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-NEW', quantity: 3 },
    ]);
    expect(changed.archivedSessions).toHaveLength(1);
    expect(changed.archivedSessions![0]).toMatchObject({
      sessionId: locked.checkout!.sessionId,
      cancelReason: 'ADD_TO_CART',
      canceledBy: 'buyer-7',
      backgroundOperation: { status: 'Canceled' },
    });

    r = await cli(['status', cartId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^cart ${cartId}: Active `));
    expect(r.stdout).toContain('items: SKU-1 x2, SKU-NEW x3');

    r = await cli(['start', cartId]);
    expect(r.code).toBe(0);
    expect((await cartOf(cartId)).status).toBe('Checkout');

    r = await cli(['place-order', cartId]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const printed = /^order (order-\S+) placed from cart /.exec(r.stdout);
    expect(printed).not.toBeNull();
    const closed = await cartOf(cartId);
    expect(closed.status).toBe('Closed');
    expect(closed.orderId).toBe(printed![1]);

    r = await cli(['cancel', cartId]);
    expect(r).toEqual({ code: 4, stdout: '', stderr: `error INVALID_OPERATION: ${CLOSED_CART_MESSAGE}\n` });
    expect(EXIT_CODES.INVALID_OPERATION).toBe(4);
    const json = await cliJson(['cancel', cartId, '--requested-by', 'ops-bob']);
    expect(json.code).toBe(4);
    expect(json.doc).toEqual({ errorCode: 'INVALID_OPERATION', message: CLOSED_CART_MESSAGE, httpStatus: 403 });

    const after = await cartOf(cartId);
    expect(after.status).toBe('Closed');
    expect(after.orderId).toBe(printed![1]);
    // Each refusal is recorded on the Closed cart as its event (issue 12), in a write of its own; nothing else changes.
    expect(after.eventSeq).toBe((closed.eventSeq ?? 0) + 2);
    expect(after.version).toBe((closed.version ?? 0) + 2);
    expect(after.items).toEqual(closed.items);

    // A change to the Closed cart is refused the same way, and nothing lands.
    r = await cli(['add-item', cartId, 'SKU-LATE', '1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error INVALID_OPERATION: /);
    expect((await cartOf(cartId)).items).toEqual(closed.items);
  });
});

test('--json: every result is one parseable JSON document, before or after the command options', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    const created = await cliJson([
      'create-cart',
      '--webstore',
      'store-1',
      '--account',
      'acct-1',
      '--cart-id',
      cartId,
      '--item',
      'A:1',
      'B:2',
      '--item',
      'A:2',
    ]);
    expect(created.code).toBe(0);
    expect(created.doc).toMatchObject({
      cartId,
      status: 'Active',
      version: 0,
      items: [
        { sku: 'A', quantity: 3 },
        { sku: 'B', quantity: 2 },
      ],
    });

    const started = await cliJson(['start', cartId, '--lease-ms', '600000']);
    expect(started.code).toBe(0);
    expect(started.doc).toMatchObject({ checkoutId: checkoutWorkflowId(cartId), cartId, started: true });
    const again = await cliJson(['start', cartId]);
    expect(again.doc).toMatchObject({ started: false, runId: started.doc.runId });

    const status = await cliJson(['status', cartId]);
    expect(status.code).toBe(0);
    expect(status.doc).toMatchObject({
      cart: { cartId, status: 'Checkout', checkout: { sessionId: started.doc.runId } },
      checkout: { cartId, sessionId: started.doc.runId },
    });

    // --json after the subcommand's own options works too.
    const r = await cli(['cancel', cartId, '--reason', 'BUYER_LEFT', '--requested-by', 'ops-carol', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cartId, canceled: true, reason: 'BUYER_LEFT', status: 'Active' });
    const cart = await cartOf(cartId);
    expect(cart.status).toBe('Active');
    expect(cart.archivedSessions![0]).toMatchObject({ cancelReason: 'BUYER_LEFT', canceledBy: 'ops-carol', backgroundOperation: { status: 'Canceled' } });

    // Cancelling again is a successful no-op that writes nothing.
    const noop = await cliJson(['cancel', cartId]);
    expect(noop.code).toBe(0);
    expect(noop.doc).toEqual({ cartId, canceled: false, reason: 'REQUESTED', status: 'Active' });
    expect((await cartOf(cartId)).version).toBe(cart.version);

    const added = await cliJson(['add-item', cartId, 'C', '4', '--unit-price', '2.5']);
    expect(added.doc).toMatchObject({ cartId, status: 'Active', canceledCheckout: false });
    expect((await cartOf(cartId)).items).toContainEqual({ sku: 'C', quantity: 4, unitPrice: 2.5 });

    await cliJson(['start', cartId]);
    const order = await cliJson(['place-order', cartId]);
    expect(order.code).toBe(0);
    expect(order.doc).toEqual({ cartId, orderId: (await cartOf(cartId)).orderId });
  });
});

test('cancel --no-wait sends the signal and returns; the checkout then unlocks the cart', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    expect((await cli(['start', cartId])).code).toBe(0);
    const r = await cli(['cancel', cartId, '--no-wait', '--reason', 'ADMIN', '--requested-by', 'ops-dave']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`cancel requested on cart ${cartId} (reason ADMIN)`);
    const result = await env.client.workflow.getHandle(checkoutWorkflowId(cartId)).result();
    expect(result).toMatchObject({ outcome: 'CANCELED', cancel: { reason: 'ADMIN', requestedBy: 'ops-dave' } });
    expect((await cartOf(cartId)).status).toBe('Active');
  });
});

test('without MONGODB_URI, start, add-item and cancel still work through Temporal; cancel claims no cart status it could not read', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const noMongo = { env: { MONGODB_URI: undefined } };
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    expect((await cli(['start', cartId], noMongo)).code).toBe(0);
    const canceled = await cliJson(['cancel', cartId, '--reason', 'OPS'], noMongo);
    expect(canceled).toMatchObject({ code: 0, doc: { cartId, canceled: true, reason: 'OPS', status: 'Active' } });
    expect((await cartOf(cartId)).status).toBe('Active');
    expect((await cli(['add-item', cartId, 'SKU-2', '1'], noMongo)).code).toBe(0);
    expect((await cartOf(cartId)).items).toContainEqual({ sku: 'SKU-2', quantity: 1 });

    // Nothing runs for this cart (it does not even exist): cancel succeeds, says so, and names no status.
    const unknown = newCartId('missing');
    const r = await cliJson(['cancel', unknown], noMongo);
    expect(r.code).toBe(0);
    expect(r.doc).toEqual({ cartId: unknown, canceled: false, reason: 'REQUESTED' });
    expect(r.stderr).toContain('note: MONGODB_URI is not set');
  });
});

test('bad arguments exit 2 with INVALID_INPUT before any server call, and write nothing', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const before = await cartOf(cartId);
  const bad: string[][] = [
    ['add-item', cartId, 'SKU-1', '2.5'],
    ['add-item', cartId, 'SKU-1', 'abc'],
    ['add-item', cartId, 'SKU-1', '1e3'],
    ['add-item', cartId, 'SKU-1', '0'],
    ['add-item', cartId, 'SKU-1', '-3'],
    ['add-item', cartId, 'SKU-1', ''],
    ['add-item', cartId, 'SKU-1', '2000000'],
    ['add-item', cartId, 'bad sku', '1'],
    ['add-item', cartId, 'SKU-1', '1', '--unit-price', '-1'],
    ['add-item', cartId, 'SKU-1', '1', '--unit-price', 'free'],
    ['add-item', 'cart with spaces', 'SKU-1', '1'],
    ['add-item', cartId, 'SKU-1'],
    ['add-item', cartId, 'SKU-1', '1', '--request-id', 'has space'],
    ['add-item', cartId, 'SKU-1', '1', '--request-id', ''],
    ['start', cartId, '--lease-ms', '0'],
    ['start', cartId, '--lease-ms', 'soon'],
    ['cancel', cartId, '--reason', ''],
    ['status', '$where'],
    ['place-order', '../other'],
    ['status', cartId, '--unknown-flag'],
    ['frobnicate', cartId],
  ];
  const unreachable = await unreachableServers();
  for (const args of bad) {
    // Against servers that are not there: a command that called one would exit 1 (connection), not 2.
    const offline = await cli([...args, '--timeout-ms', '1000'], { env: unreachable });
    expect([args, offline.code, offline.stdout]).toEqual([args, 2, '']);
    expect(offline.stderr).toMatch(/^error INVALID_INPUT: \S/);
    // And against the real ones, with --json.
    const online = await cliJson(args);
    expect([args, online.code, online.doc.errorCode, online.doc.httpStatus]).toEqual([args, 2, 'INVALID_INPUT', 400]);
  }
  expect(await cartOf(cartId)).toEqual(before);

  // A malformed --item creates no cart.
  for (const spec of ['SKU-1', 'SKU-1:', ':2', 'SKU-1:two', 'SKU-1:1.5', 'SKU-1:0']) {
    const newId = newCartId();
    const r = await cli(['create-cart', '--webstore', 'store-1', '--account', 'acct-1', '--cart-id', newId, '--item', spec], { env: unreachable });
    expect([spec, r.code]).toEqual([spec, 2]);
    expect(r.stderr).toMatch(/^error INVALID_INPUT: /);
    expect(await env.carts.findOne({ _id: newId })).toBeNull();
  }
  const missing = await cliJson(['create-cart', '--account', 'acct-1'], { env: unreachable });
  expect(missing).toMatchObject({ code: 2, doc: { errorCode: 'INVALID_INPUT' } });
});

test('an unknown cart: cancel, status and start exit 3 with NOT_FOUND', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId('missing');
    const r = await cli(['cancel', cartId]);
    expect(r).toEqual({ code: 3, stdout: '', stderr: `error NOT_FOUND: Cart ${cartId} was not found.\n` });
    const json = await cliJson(['cancel', cartId]);
    expect(json).toMatchObject({ code: 3, doc: { errorCode: 'NOT_FOUND', httpStatus: 404, message: `Cart ${cartId} was not found.` } });
    expect((await cli(['status', cartId])).code).toBe(3);
    const start = await cli(['start', cartId]);
    expect(start.code).toBe(3);
    expect(start.stderr).toMatch(/^error NOT_FOUND: /);
    expect(await env.carts.findOne({ _id: cartId })).toBeNull();
  });
});

test('create-cart with an id that exists: the same fields again answer the cart (a retry), other fields exit 6 with CHECKOUT_CONFLICT', async () => {
  const cartId = newCartId();
  const args = ['create-cart', '--webstore', 'store-1', '--account', 'acct-1', '--cart-id', cartId, '--item', 'SKU-1:2'];
  const first = await cliJson(args);
  expect(first.code).toBe(0);
  const again = await cliJson(args);
  expect(again).toEqual(first);
  expect(await env.carts.countDocuments({ _id: cartId })).toBe(1);

  const before = await cartOf(cartId);
  const r = await cli(['create-cart', '--webstore', 'store-2', '--account', 'acct-2', '--cart-id', cartId]);
  expect(r).toEqual({ code: 6, stdout: '', stderr: `error CHECKOUT_CONFLICT: Cart ${cartId} already exists with other fields.\n` });
  expect(await cartOf(cartId)).toEqual(before);
});

test('add-item --request-id: running the command again answers the same result and adds once', async () => {
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const cartId = newCartId();
    await insertForeignCart(env.carts, cartId);
    const args = ['add-item', cartId, 'SKU-7', '3', '--request-id', `ticket-${cartId}`];
    const first = await cliJson(args);
    expect(first).toMatchObject({
      code: 0,
      doc: {
        requestId: `ticket-${cartId}`,
        items: [
          { sku: 'SKU-1', quantity: 2 },
          { sku: 'SKU-7', quantity: 3 },
        ],
      },
    });
    const again = await cliJson(args);
    expect(again).toEqual(first);
    expect((await cartOf(cartId)).items).toEqual([
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-7', quantity: 3 },
    ]);
    // Without one, the command says which id it used, so an operator can repeat it safely.
    const human = await cli(['add-item', cartId, 'SKU-8', '1']);
    expect(human.stdout).toMatch(/request id \S+ \(repeat with --request-id \S+ to retry without adding twice\)/);
  });
});

test('configuration and connection problems exit 1 with a clear code', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  for (const args of [
    ['status', cartId],
    ['create-cart', '--webstore', 's', '--account', 'a'],
  ]) {
    const r = await cli(args, { env: { MONGODB_URI: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_CONFIGURATION: MONGODB_URI is not set; /);
  }
  const json = await cliJson(['status', cartId], { env: { MONGODB_URI: '' } });
  expect(json.code).toBe(1);
  expect(json.doc).toMatchObject({ errorCode: 'INVALID_CONFIGURATION' });

  const { TEMPORAL_ADDRESS } = await unreachableServers();
  const r = await cli(['start', cartId, '--timeout-ms', '1000'], { env: { TEMPORAL_ADDRESS } });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^error CONNECTION_FAILED: cannot connect to Temporal at ${TEMPORAL_ADDRESS} `));
  expect((await cartOf(cartId)).status).toBe('Active');
});

test('with no worker on the task queue, start gives up after --timeout-ms with TIMEOUT (exit 1)', async () => {
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const idleQueue = `${env.taskQueue}-idle`;
  try {
    const r = await cli(['start', cartId, '--timeout-ms', '1500'], { taskQueue: idleQueue });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error TIMEOUT: no answer within 1500 ms; is a worker polling task queue ${idleQueue}\\?`));
    expect((await cartOf(cartId)).status).toBe('Active');
  } finally {
    await env.client.workflow
      .getHandle(checkoutWorkflowId(cartId))
      .terminate('test cleanup')
      .catch(() => undefined);
  }
});

test('--help on the program and on every subcommand: description, examples, environment', async () => {
  const subcommands = ['create-cart', 'start', 'cancel', 'add-item', 'place-order', 'status'];
  const top = await cli(['--help']);
  expect(top.code).toBe(0);
  expect(top.stderr).toBe('');
  for (const name of subcommands) expect(top.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  for (const v of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'MONGODB_URI', 'MONGODB_DB']) expect(top.stdout).toContain(v);
  expect(top.stdout).toContain('Examples:');
  expect(top.stdout).toContain('--json');

  for (const name of subcommands) {
    const r = await cli([name, '--help']);
    expect([name, r.code, r.stderr]).toEqual([name, 0, '']);
    expect(r.stdout).toContain(`Usage: b2b-checkout ${name} `);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain(`$ b2b-checkout ${name} `);
    expect(r.stdout).toContain('Environment:');
    expect(r.stdout).toContain(name === 'create-cart' ? 'MONGODB_URI' : 'TEMPORAL_ADDRESS');
    expect((await cli(['help', name])).stdout).toBe(r.stdout);
  }
  for (const name of ['create-cart', 'cancel', 'status']) expect((await cli([name, '--help'])).stdout).toContain('MONGODB_URI');

  // No command at all: a usage error.
  const none = await cli([]);
  expect(none.code).toBe(2);
  expect(none.stderr).toContain('error INVALID_INPUT: a command is required');
});

test('the built executable runs a command and exits by itself (connections closed)', async () => {
  const bin = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  const cartId = newCartId();
  await insertForeignCart(env.carts, cartId);
  const r = spawnSync(process.execPath, [bin, '--json', 'status', cartId], {
    encoding: 'utf8',
    env: { ...process.env, MONGODB_DB: env.mongoDb },
    timeout: 30000,
  });
  expect(r.error).toBeUndefined();
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ cart: { cartId, status: 'Active' }, checkout: null });

  const missing = spawnSync(process.execPath, [bin, 'cancel', newCartId('missing')], {
    encoding: 'utf8',
    env: { ...process.env, MONGODB_DB: env.mongoDb },
    timeout: 30000,
  });
  expect(missing.signal).toBeNull();
  expect(missing.status).toBe(3);
  expect(missing.stderr).toMatch(/^error NOT_FOUND: /);
});

#!/usr/bin/env node
/**
 * b2b-checkout: the operator CLI. Creates carts, starts, cancels and completes checkouts, changes
 * items and shows a cart with its running checkout, through the same CheckoutClient services use.
 *
 * Exit codes: 0 success; 2 INVALID_INPUT (also bad arguments, before any server call); 3 NOT_FOUND;
 * 4 INVALID_OPERATION; 5 INSUFFICIENT_ACCESS; 6 CHECKOUT_CONFLICT; 7 IDEMPOTENCY_KEY_REUSED;
 * 8 RATE_LIMITED; 9 UNAVAILABLE; 1 configuration, connection, timeout and unexpected errors.
 *
 * `main(argv, io)` runs one command in-process and returns its exit code (tests call it directly);
 * it opens only the connections the command needs and always closes them before returning.
 */
import { Command, CommanderError, Option } from 'commander';
import { WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcDeadlineError, isGrpcServiceError, type Client } from '@temporalio/client';
import type { Collection } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { CheckoutClient, createCartOnce, type CancelAnswer, type StartedCheckout } from './client';
import { ConfigError, appSettings, temporalSettings, type TemporalSettings } from './config';
import {
  ERROR_CODES,
  REQUEST_ID_PATTERN,
  TASK_QUEUE,
  cancelRequestProblem,
  cartIdProblem,
  itemChangeProblem,
  type CartItem,
  type CartItemsResult,
  type CheckoutView,
  type ErrorCode,
  type ItemChange,
} from './contract';
import { CartRepository, applyChange, cartView, cartsCollection, type CartDoc, type CartView } from './db/carts';
import { connectMongo, type MongoConnection } from './db/mongo';
import { CheckoutError } from './errors';
import { connectClient } from './temporal';

/** The exit code of each business error code. Keyed by ErrorCode, so a new code cannot be forgotten. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_INPUT: 2,
  NOT_FOUND: 3,
  INVALID_OPERATION: 4,
  INSUFFICIENT_ACCESS: 5,
  CHECKOUT_CONFLICT: 6,
  IDEMPOTENCY_KEY_REUSED: 7,
  RATE_LIMITED: 8,
  UNAVAILABLE: 9,
};
/** Configuration, connection, timeout and unexpected errors. */
export const EXIT_FAILURE = 1;

const DEFAULT_TIMEOUT_MS = 60_000;
/** Reading the checkout's state must not hold `status` up when no worker answers queries. */
const QUERY_TIMEOUT_MS = 10_000;
const MAX_ID_LENGTH = 128;
const MAX_REQUESTED_BY_LENGTH = 200;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment to read settings from (default process.env). */
  env: Record<string, string | undefined>;
}

/** A failure that is not a business error: configuration, connection, timeout. Exits 1. */
class CliFailure extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

interface Failure {
  errorCode: string;
  message: string;
  httpStatus?: number;
  exitCode: number;
}

interface AddItemOptions {
  unitPrice?: string;
  requestedBy?: string;
  requestId?: string;
}

interface GlobalOptions {
  json: boolean;
  taskQueue: string;
  timeoutMs: number;
}

const invalidInput = (message: string, details: Record<string, unknown> = {}) => new CheckoutError('INVALID_INPUT', message, details);

// ---------------------------------------------------------------------------------------------
// Argument checks: all run before any connection is opened.

function checkCartId(cartId: string): string {
  const problem = cartIdProblem(cartId);
  if (problem) throw invalidInput(problem, { field: 'cartId' });
  return cartId;
}

/** Webstore and account ids: opaque, but non-empty, bounded and free of whitespace and operators. */
function checkOpaqueId(value: string, field: string): string {
  if (value.length === 0 || value.length > MAX_ID_LENGTH || /[\s\p{Cc}]/u.test(value) || value.startsWith('$')) {
    throw invalidInput(`${field} must be 1-${MAX_ID_LENGTH} characters without whitespace, not starting with $`, { field });
  }
  return value;
}

function checkRequestId(value: string | undefined): string | undefined {
  if (value !== undefined && !REQUEST_ID_PATTERN.test(value)) {
    throw invalidInput('--request-id must be 1-128 letters, digits or _ . : - starting with a letter or digit', { field: 'requestId' });
  }
  return value;
}

function checkRequestedBy(value: string | undefined): string | undefined {
  if (value !== undefined && (value.length === 0 || value.length > MAX_REQUESTED_BY_LENGTH)) {
    throw invalidInput(`--requested-by must be 1-${MAX_REQUESTED_BY_LENGTH} characters`, { field: 'requestedBy' });
  }
  return value;
}

/** A whole number written in decimal digits: "3" yes; "3.0", "1e3", "0x3", "", " 3" no. */
function parseInteger(raw: string, what: string): number {
  if (!/^[+-]?\d+$/.test(raw)) throw invalidInput(`${what} must be an integer, got "${raw}"`, { field: what });
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidInput(`${what} is out of range: ${raw}`, { field: what });
  return n;
}

function parsePositiveInteger(raw: string, what: string): number {
  const n = parseInteger(raw, what);
  if (n <= 0) throw invalidInput(`${what} must be a positive integer, got ${raw}`, { field: what });
  return n;
}

function checkChange(change: ItemChange): ItemChange {
  const problem = itemChangeProblem(change);
  if (problem) throw invalidInput(problem, { field: 'item', sku: change.sku });
  return change;
}

/** `sku:qty`. The quantity follows the last colon, since SKUs may contain colons. */
export function parseItemSpec(spec: string): ItemChange & { op: 'add' } {
  const at = spec.lastIndexOf(':');
  if (at <= 0 || at === spec.length - 1) {
    throw invalidInput(`--item must be sku:quantity (e.g. SKU-1:2), got "${spec}"`, { field: 'item' });
  }
  const change: ItemChange & { op: 'add' } = { op: 'add', sku: spec.slice(0, at), quantity: parseInteger(spec.slice(at + 1), 'quantity') };
  checkChange(change);
  return change;
}

function parseUnitPrice(raw: string): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw invalidInput(`--unit-price must be a non-negative number, got "${raw}"`, { field: 'unitPrice' });
  return n;
}

// ---------------------------------------------------------------------------------------------
// Connections: opened on first use, closed by close().

class Connections {
  private temporal: Client | undefined;
  private mongo: MongoConnection | undefined;

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly globals: GlobalOptions,
  ) {}

  /** MONGODB_URI is set (MongoDB can be used). */
  mongoConfigured(): boolean {
    return this.settings().mongoUri !== undefined;
  }

  private settings() {
    return appSettings(this.env);
  }

  async carts(why: string): Promise<Collection<CartDoc>> {
    if (!this.mongo) {
      const { mongoUri, mongoDb } = this.settings();
      if (!mongoUri) throw new CliFailure('INVALID_CONFIGURATION', `MONGODB_URI is not set; ${why} needs MongoDB`);
      try {
        this.mongo = await connectMongo(mongoUri, mongoDb);
      } catch (err) {
        // The URI may hold credentials: name the variable, never print it.
        const code = (err as Error).name === 'MongoParseError' ? 'INVALID_CONFIGURATION' : 'CONNECTION_FAILED';
        throw new CliFailure(code, `cannot connect to MongoDB (MONGODB_URI, database ${mongoDb}): ${(err as Error).message}`);
      }
    }
    return cartsCollection(this.mongo.db);
  }

  async client(): Promise<Client> {
    if (!this.temporal) {
      let settings: TemporalSettings;
      try {
        settings = temporalSettings(this.env);
      } catch (err) {
        throw new CliFailure('INVALID_CONFIGURATION', `Temporal connection settings: ${(err as Error).message}`);
      }
      const where = `${settings.connectionOptions.address} (namespace ${settings.namespace})`;
      try {
        // connectClient hands connectionOptions to Connection.connect, which honours connectTimeout
        // (TemporalSettings types them as the worker's NativeConnectionOptions, which lack it).
        const connectionOptions = { ...settings.connectionOptions, connectTimeout: Math.min(this.globals.timeoutMs, 10_000) };
        this.temporal = await connectClient({ ...settings, connectionOptions: connectionOptions as TemporalSettings['connectionOptions'] });
      } catch (err) {
        throw new CliFailure('CONNECTION_FAILED', `cannot connect to Temporal at ${where}: ${(err as Error).message}`);
      }
    }
    return this.temporal;
  }

  /**
   * A CheckoutClient on the task queue: with the carts collection when the command needs it
   * ({ required: command }), when MongoDB is configured ('if-configured'), or without ('none').
   */
  async checkout(mongo: { required: string } | 'if-configured' | 'none'): Promise<CheckoutClient> {
    let carts: Collection<CartDoc> | undefined;
    if (typeof mongo === 'object') carts = await this.carts(mongo.required);
    else if (mongo === 'if-configured' && this.mongoConfigured()) carts = await this.carts('this command');
    return new CheckoutClient({ client: await this.client(), taskQueue: this.globals.taskQueue, ...(carts ? { carts } : {}) });
  }

  /** Runs fn with a deadline on every Temporal call it makes, so no command waits forever for a worker. */
  async withDeadline<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const client = await this.client();
    return client.withDeadline(Date.now() + timeoutMs, fn);
  }

  async close(): Promise<void> {
    const temporal = this.temporal;
    const mongo = this.mongo;
    this.temporal = undefined;
    this.mongo = undefined;
    await Promise.all([temporal?.connection.close().catch(() => undefined), mongo?.close().catch(() => undefined)]);
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

class Printer {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: one JSON document with --json, else the human lines. */
  result(value: unknown, lines: () => string[]): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else this.io.stdout.write(lines().map((l) => `${l}\n`).join(''));
  }

  /** A remark for humans (stderr), never part of the JSON document. */
  note(text: string): void {
    this.io.stderr.write(`note: ${text}\n`);
  }

  failure(f: Failure): void {
    if (this.json) {
      const doc = { errorCode: f.errorCode, message: f.message, ...(f.httpStatus !== undefined ? { httpStatus: f.httpStatus } : {}) };
      this.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      this.io.stderr.write(`error ${f.errorCode}: ${f.message}\n`);
    }
  }
}

function itemsLine(items: CartItem[]): string {
  if (items.length === 0) return 'items: none';
  return `items: ${items.map((i) => `${i.sku} x${i.quantity}${i.unitPrice !== undefined ? ` @ ${i.unitPrice}` : ''}`).join(', ')}`;
}

function cartLines(cart: CartView): string[] {
  const lines = [`cart ${cart.cartId}: ${cart.status} (version ${cart.version})`];
  const owner = [cart.webstoreId && `webstore ${cart.webstoreId}`, cart.accountId && `account ${cart.accountId}`].filter(Boolean);
  if (owner.length > 0) lines.push(`  ${owner.join(', ')}`);
  lines.push(`  ${itemsLine(cart.items)}`);
  if (cart.checkout) {
    const s = cart.checkout;
    lines.push(
      `  session ${s.sessionId}: state ${s.state}, next ${s.nextState}${s.isProcessing ? ', processing' : ''}${s.isError ? ', error' : ''}, ` +
        `background operation ${s.backgroundOperation.status}${s.requestedBy ? `, started by ${s.requestedBy}` : ''}`,
    );
  }
  if (cart.orderId) lines.push(`  order ${cart.orderId}`);
  if (cart.archivedSessions.length > 0) {
    const last = cart.archivedSessions[cart.archivedSessions.length - 1];
    const how = last.orderId ? `order ${last.orderId}` : `${last.backgroundOperation.status}${last.cancelReason ? ` (${last.cancelReason})` : ''}`;
    lines.push(`  archived sessions: ${cart.archivedSessionCount}, last ${last.sessionId}: ${how}`);
  }
  return lines;
}

function checkoutLine(view: CheckoutView): string {
  const extra = [
    view.cancelRequested && `cancel requested (${view.cancelRequested.reason})`,
    view.outcome && `outcome ${view.outcome}`,
    view.orderId && `order ${view.orderId}`,
  ].filter(Boolean);
  return `checkout running: phase ${view.phase}, state ${view.state}${extra.length > 0 ? `, ${extra.join(', ')}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Errors.

function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (isGrpcServiceError(e) && e.code === 14 /* UNAVAILABLE */) return true;
    const name = (e as Error).name;
    if (name === 'MongoNetworkError' || name === 'MongoServerSelectionError' || name === 'MongoNotConnectedError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function toFailure(err: unknown, globals: GlobalOptions | undefined): Failure {
  if (err instanceof CheckoutError) {
    return { errorCode: err.errorCode, message: err.message, httpStatus: err.httpStatus, exitCode: EXIT_CODES[err.errorCode] ?? EXIT_FAILURE };
  }
  if (err instanceof CliFailure) return { errorCode: err.errorCode, message: err.message, exitCode: EXIT_FAILURE };
  if (err instanceof ConfigError) return { errorCode: err.errorCode, message: err.message, exitCode: EXIT_FAILURE };
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err)) {
    const queue = globals?.taskQueue ?? TASK_QUEUE;
    return {
      errorCode: 'TIMEOUT',
      message:
        `no answer within ${globals?.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms; is a worker polling task queue ${queue}? ` +
        'The request may still complete: check with `b2b-checkout status <cartId>`.',
      exitCode: EXIT_FAILURE,
    };
  }
  if (isConnectionError(err)) return { errorCode: 'CONNECTION_FAILED', message: (err as Error).message, exitCode: EXIT_FAILURE };
  return { errorCode: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err), exitCode: EXIT_FAILURE };
}

// ---------------------------------------------------------------------------------------------
// The program.

const ENVIRONMENT = {
  TEMPORAL_ADDRESS: 'Temporal frontend host:port (default 127.0.0.1:7233), read through @temporalio/envconfig',
  TEMPORAL_NAMESPACE: 'Temporal namespace (default "default"), read through envconfig',
  TEMPORAL_API_KEY: 'API key for Temporal Cloud, read through envconfig (TLS and profiles too: TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE)',
  MONGODB_URI: 'MongoDB connection string; required by create-cart and status, and by cancel to tell a Closed or missing cart apart',
  MONGODB_DB: 'MongoDB database (default b2b_checkout)',
} as const;
type EnvName = keyof typeof ENVIRONMENT;
const TEMPORAL_ENV: EnvName[] = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY'];
const MONGO_ENV: EnvName[] = ['MONGODB_URI', 'MONGODB_DB'];

function helpText(examples: string[], env: EnvName[]): string {
  const width = Math.max(...env.map((e) => e.length));
  return [
    '',
    'Examples:',
    ...examples.map((e) => `  $ ${e}`),
    '',
    'Environment:',
    ...env.map((e) => `  ${e.padEnd(width)}  ${ENVIRONMENT[e]}`),
    '',
  ].join('\n');
}

/**
 * Options every command accepts, before or after the command name. Defined on the program (shown as
 * global options) and, hidden, on each subcommand, so `b2b-checkout cancel c1 --reason x --json` works too.
 */
function addGlobalOptions(cmd: Command, hidden: boolean): Command {
  const json = new Option('--json', 'print the result (or the error) as one JSON document on stdout');
  const timeout = new Option('--timeout-ms <n>', `give up waiting for the server after n ms (default: ${DEFAULT_TIMEOUT_MS})`);
  // Advanced: the task queue of the workers to use (tests run their own); not shown in help.
  const taskQueue = new Option('--task-queue <name>', `task queue of the b2b-checkout workers (default: ${TASK_QUEUE})`).hideHelp();
  return cmd.addOption(hidden ? json.hideHelp() : json).addOption(hidden ? timeout.hideHelp() : timeout).addOption(taskQueue);
}

interface Runner {
  printer: Printer;
  globals?: GlobalOptions;
  conn?: Connections;
}

export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo: CliIo = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, env: io.env ?? process.env };
  const dashDash = argv.indexOf('--');
  // Known before parsing, so that even a bad command line gets its error as JSON.
  const jsonRequested = (dashDash === -1 ? argv : argv.slice(0, dashDash)).includes('--json');
  let runner: Runner | undefined;

  const program = new Command('b2b-checkout');
  program
    .description('Operate B2B checkouts: create carts, start, cancel and complete checkouts, change items, show a cart.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => fullIo.stdout.write(text),
      writeErr: (text) => fullIo.stderr.write(text),
      // Errors are printed once, by main, in the CLI's own format (or as JSON).
      outputError: () => undefined,
    })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      helpText(
        [
          'b2b-checkout create-cart --webstore store-1 --account acct-1 --item SKU-1:2',
          'b2b-checkout start cart-42 --requested-by ops-alice',
          'b2b-checkout status cart-42',
          'b2b-checkout cancel cart-42 --reason BUYER_LEFT --requested-by ops-alice',
          'b2b-checkout --json status cart-42',
        ],
        [...TEMPORAL_ENV, ...MONGO_ENV],
      ) +
        '\nExit codes: 0 ok, 2 INVALID_INPUT, 3 NOT_FOUND, 4 INVALID_OPERATION, 5 INSUFFICIENT_ACCESS, 6 CHECKOUT_CONFLICT,\n' +
        '            7 IDEMPOTENCY_KEY_REUSED, 8 RATE_LIMITED, 9 UNAVAILABLE,\n' +
        '            1 configuration, connection or timeout error (INVALID_CONFIGURATION, CONNECTION_FAILED, TIMEOUT).\n',
    );
  addGlobalOptions(program, false);

  /** Prepares a run: global options (from the program or the subcommand), printer, connections. */
  const prepare = (cmd: Command): { printer: Printer; globals: GlobalOptions; conn: Connections } => {
    const local = cmd.opts<{ json?: boolean; taskQueue?: string; timeoutMs?: string }>();
    const global = program.opts<{ json?: boolean; taskQueue?: string; timeoutMs?: string }>();
    const json = Boolean(local.json || global.json || jsonRequested);
    runner = { printer: new Printer(fullIo, json) };
    const taskQueue = local.taskQueue ?? global.taskQueue ?? TASK_QUEUE;
    if (taskQueue.trim() === '') throw invalidInput('--task-queue must not be empty', { field: 'taskQueue' });
    const timeoutRaw = local.timeoutMs ?? global.timeoutMs;
    const timeoutMs = timeoutRaw === undefined ? DEFAULT_TIMEOUT_MS : parsePositiveInteger(timeoutRaw, '--timeout-ms');
    const globals: GlobalOptions = { json, taskQueue, timeoutMs };
    const conn = new Connections(fullIo.env, globals);
    runner = { printer: runner.printer, globals, conn };
    return { printer: runner.printer, globals, conn };
  };

  const sub = (name: string, summary: string, description: string, examples: string[], env: EnvName[]) =>
    addGlobalOptions(program.command(name).summary(summary).description(description).addHelpText('after', helpText(examples, env)), true);

  sub(
    'create-cart',
    'create an Active cart in MongoDB',
    'Create an Active cart in MongoDB (no Temporal call).',
    [
      'b2b-checkout create-cart --webstore store-1 --account acct-1',
      'b2b-checkout create-cart --webstore store-1 --account acct-1 --cart-id cart-42 --item SKU-1:2 --item SKU-9:1',
    ],
    MONGO_ENV,
  )
    .requiredOption('--webstore <id>', 'webstore (store) id')
    .requiredOption('--account <id>', 'buyer account id')
    .option('--cart-id <id>', 'cart id (default: a new UUID)')
    .option('--item <sku:qty...>', 'an item to put in the cart; repeat for more (e.g. --item SKU-1:2 --item SKU-9:1)')
    .action(async (opts: { webstore: string; account: string; cartId?: string; item?: string[] }, cmd: Command) => {
      const { printer, conn } = prepare(cmd);
      const cartId = checkCartId(opts.cartId ?? randomUUID());
      const webstoreId = checkOpaqueId(opts.webstore, 'webstore');
      const accountId = checkOpaqueId(opts.account, 'account');
      const items = (opts.item ?? []).map(parseItemSpec).reduce<CartItem[]>((acc, change) => applyChange(acc, change), []);
      // Idempotent under its cart id: a retry with the same fields answers the cart; other fields exit 6.
      const doc = await createCartOnce(new CartRepository(await conn.carts('create-cart')), { cartId, webstoreId, accountId, items });
      const cart = cartView(doc);
      printer.result(cart, () => [`created cart ${cart.cartId}: ${cart.status}, webstore ${webstoreId}, account ${accountId}`, `  ${itemsLine(cart.items)}`]);
    });

  sub(
    'start',
    'start (or join) the checkout of a cart: locks it',
    'Start the checkout of a cart (or join the one running): locks the cart (status Checkout).',
    ['b2b-checkout start cart-42', 'b2b-checkout start cart-42 --lease-ms 900000 --requested-by ops-alice'],
    TEMPORAL_ENV,
  )
    .argument('<cartId>', 'the cart')
    .option('--lease-ms <n>', 'release the lock (reason EXPIRED) when no order is placed within n ms (default: 30 minutes)')
    .option('--requested-by <who>', 'who starts the checkout (recorded on the session)')
    .action(async (cartIdArg: string, opts: { leaseMs?: string; requestedBy?: string }, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const leaseMs = opts.leaseMs === undefined ? undefined : parsePositiveInteger(opts.leaseMs, '--lease-ms');
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const checkout = await conn.checkout('none');
      const started: StartedCheckout = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.startCheckout(cartId, { ...(leaseMs ? { leaseMs } : {}), ...(requestedBy ? { requestedBy } : {}) }),
      );
      printer.result(started, () => [
        `${started.started ? 'checkout started' : 'checkout already running'} on cart ${cartId}: ` +
          `workflow ${started.checkoutId}, session ${started.runId}, phase ${started.view.phase}, state ${started.view.state}`,
      ]);
    });

  sub(
    'cancel',
    'cancel the running checkout: the cart is Active again',
    "Cancel the checkout running on a cart (cancelCartAsyncOperation): the cart goes back to Active. A Closed cart can't be canceled (INVALID_OPERATION).",
    [
      'b2b-checkout cancel cart-42',
      'b2b-checkout cancel cart-42 --reason BUYER_LEFT --requested-by ops-alice',
      'b2b-checkout cancel cart-42 --no-wait   # send the cancelCheckout signal and return',
    ],
    [...TEMPORAL_ENV, ...MONGO_ENV],
  )
    .argument('<cartId>', 'the cart')
    .option('--reason <reason>', 'why (recorded on the archived session)', 'REQUESTED')
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
      const answer: CancelAnswer = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.cancelCheckout(cartId, { reason: opts.reason, wait: opts.wait, ...(requestedBy ? { requestedBy } : {}) }),
      );
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
    });

  sub(
    'add-item',
    'add an item (cancels a running checkout first)',
    'Add an item to a cart. A running checkout is canceled first (reason ADD_TO_CART); a Closed cart is refused.',
    [
      'b2b-checkout add-item cart-42 SKU-1 2',
      'b2b-checkout add-item cart-42 SKU-9 1 --unit-price 19.99 --requested-by buyer-7',
      'b2b-checkout add-item cart-42 SKU-1 2 --request-id ticket-1234   # run again: same result, added once',
    ],
    TEMPORAL_ENV,
  )
    .argument('<cartId>', 'the cart')
    .argument('<sku>', 'the item')
    .argument('<quantity>', 'how many to add (a positive integer)')
    .option('--unit-price <p>', 'unit price (a non-negative number)')
    .option('--requested-by <who>', 'who changes the cart (recorded if a checkout is canceled)')
    .option('--request-id <id>', 'makes the change exactly-once: repeating the command with this id answers the same result (default: a new id)')
    .action(async (cartIdArg: string, sku: string, quantityArg: string, opts: AddItemOptions, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const quantity = parseInteger(quantityArg, 'quantity');
      const unitPrice = opts.unitPrice === undefined ? undefined : parseUnitPrice(opts.unitPrice);
      checkChange({ op: 'add', sku, quantity, ...(unitPrice !== undefined ? { unitPrice } : {}) });
      const requestedBy = checkRequestedBy(opts.requestedBy);
      const requestId = checkRequestId(opts.requestId);
      const checkout = await conn.checkout('none');
      const result: CartItemsResult & { requestId: string } = await conn.withDeadline(globals.timeoutMs, () =>
        checkout.addItem(cartId, sku, quantity, {
          ...(unitPrice !== undefined ? { unitPrice } : {}),
          ...(requestedBy ? { requestedBy } : {}),
          ...(requestId ? { requestId } : {}),
        }),
      );
      printer.result(result, () => [
        `added ${quantity} x ${sku} to cart ${cartId}; cart is ${result.status} (version ${result.version})` +
          (result.canceledCheckout ? '; the running checkout was canceled first' : ''),
        `  ${itemsLine(result.items)}`,
        `  request id ${result.requestId} (repeat with --request-id ${result.requestId} to retry without adding twice)`,
      ]);
    });

  sub(
    'place-order',
    'place the order: the cart becomes Closed',
    "Place the order of the cart's running checkout: the cart becomes Closed.",
    ['b2b-checkout place-order cart-42'],
    TEMPORAL_ENV,
  )
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

  sub(
    'status',
    'show a cart and its running checkout',
    "Show a cart (from MongoDB) and the state of its running checkout, if any.",
    ['b2b-checkout status cart-42', 'b2b-checkout --json status cart-42 | jq .cart.status'],
    [...TEMPORAL_ENV, ...MONGO_ENV],
  )
    .argument('<cartId>', 'the cart')
    .action(async (cartIdArg: string, _opts: unknown, cmd: Command) => {
      const { printer, conn, globals } = prepare(cmd);
      const cartId = checkCartId(cartIdArg);
      const checkout = await conn.checkout({ required: 'status' });
      const cart = await checkout.getCart(cartId);
      let view: CheckoutView | undefined;
      let unavailable: string | undefined;
      try {
        view = await conn.withDeadline(Math.min(globals.timeoutMs, QUERY_TIMEOUT_MS), () => checkout.getCheckout(cartId));
      } catch (err) {
        const f = toFailure(err, globals);
        if (f.errorCode !== 'TIMEOUT') throw err;
        unavailable = 'no worker answered the checkout state query in time';
      }
      printer.result({ cart, checkout: view ?? null, ...(unavailable ? { checkoutUnavailable: unavailable } : {}) }, () => [
        ...cartLines(cart),
        view ? `  ${checkoutLine(view)}` : unavailable ? `  checkout: state unavailable (${unavailable})` : '  checkout: none running',
      ]);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const printer = runner?.printer ?? new Printer(fullIo, jsonRequested);
    if (err instanceof CommanderError) {
      // --help and `help`: done. A command line commander refuses: bad arguments.
      if (err.exitCode === 0) return 0;
      const message = err.code === 'commander.help' ? 'a command is required (see b2b-checkout --help)' : err.message.replace(/^error: /, '');
      printer.failure({ errorCode: 'INVALID_INPUT', message, httpStatus: ERROR_CODES.INVALID_INPUT, exitCode: EXIT_CODES.INVALID_INPUT });
      return EXIT_CODES.INVALID_INPUT;
    }
    const failure = toFailure(err, runner?.globals);
    printer.failure(failure);
    return failure.exitCode;
  } finally {
    await runner?.conn?.close();
  }
}

if (require.main === module) {
  // Output piped into a reader that stops early (`| head`): stop quietly, not with an EPIPE stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      // main closed every connection it opened, so the process ends by itself once output is flushed.
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error INTERNAL_ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}

#!/usr/bin/env node
/**
 * b2b-checkout: the operator CLI. Creates carts, starts, cancels and completes checkouts, changes
 * items and shows a cart with its running checkout, through the same CheckoutClient services use and
 * the cart service. One file per command (./commands); shared argument checks (./args), output and
 * exit codes (./output), connections (./connections).
 *
 * Exit codes: 0 success; 2 INVALID_INPUT (also bad arguments, before any server call); 3 NOT_FOUND;
 * 4 INVALID_OPERATION; 5 INSUFFICIENT_ACCESS; 6 CHECKOUT_CONFLICT; 7 IDEMPOTENCY_KEY_REUSED;
 * 8 RATE_LIMITED; 9 UNAVAILABLE; 1 configuration, connection, timeout and unexpected errors.
 *
 * `main(argv, io)` runs one command in-process and returns its exit code (tests call it directly);
 * it opens only the connections the command needs and always closes them before returning.
 */
import { Command, CommanderError } from 'commander';
import { ERROR_CODES, TASK_QUEUE } from '../contract';
// tsc copies package.json into dist/ beside the compiled code.
import { version as PACKAGE_VERSION } from '../../package.json';
import { parseGlobals, type GlobalOptions } from './args';
import { addAddItemCommand } from './commands/add-item';
import { addCancelCommand } from './commands/cancel';
import { addCreateCartCommand } from './commands/create-cart';
import { addPlaceOrderCommand } from './commands/place-order';
import { addStartCommand } from './commands/start';
import { addStatusCommand } from './commands/status';
import { Connections } from './connections';
import { EXIT_CODES, EXIT_FAILURE, Printer, toFailure, type CliIo } from './output';
import { MONGO_ENV, TEMPORAL_ENV, addGlobalOptions, helpText, type Prepare } from './program';

export { EXIT_CODES, EXIT_FAILURE, type CliIo } from './output';
export { parseItemSpec } from './args';

const COMMANDS = [addCreateCartCommand, addStartCommand, addCancelCommand, addAddItemCommand, addPlaceOrderCommand, addStatusCommand];

const PROGRAM_EXAMPLES = [
  'b2b-checkout create-cart --webstore store-1 --account acct-1 --item SKU-1:2',
  'b2b-checkout start cart-42 --requested-by ops-alice',
  'b2b-checkout status cart-42',
  'b2b-checkout cancel cart-42 --reason BUYER_LEFT --requested-by ops-alice',
  'b2b-checkout --json status cart-42',
];

const EXIT_CODES_HELP =
  '\nExit codes: 0 ok, 2 INVALID_INPUT, 3 NOT_FOUND, 4 INVALID_OPERATION, 5 INSUFFICIENT_ACCESS, 6 CHECKOUT_CONFLICT,\n' +
  '            7 IDEMPOTENCY_KEY_REUSED, 8 RATE_LIMITED, 9 UNAVAILABLE,\n' +
  '            1 configuration, connection or timeout error (INVALID_CONFIGURATION, CONNECTION_FAILED, TIMEOUT).\n';

/** What a run has set up so far: main reports with its printer and closes its connections. */
interface Runner {
  printer: Printer;
  globals?: GlobalOptions;
  conn?: Connections;
}

function buildProgram(io: CliIo): Command {
  const program = new Command('b2b-checkout');
  program
    .description('Operate B2B checkouts: create carts, start, cancel and complete checkouts, change items, show a cart.')
    .version(PACKAGE_VERSION, '-V, --version', "print b2b-checkout's version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are printed once, by main, in the CLI's own format (or as JSON).
      outputError: () => undefined,
    })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', helpText(PROGRAM_EXAMPLES, [...TEMPORAL_ENV, ...MONGO_ENV]) + EXIT_CODES_HELP);
  return addGlobalOptions(program, false);
}

/** The exit code of a failed run, after printing the failure. */
function report(err: unknown, printer: Printer, globals: GlobalOptions | undefined): number {
  if (err instanceof CommanderError) {
    // --help and `help`: done. A command line commander refuses: bad arguments.
    if (err.exitCode === 0) return 0;
    const message = err.code === 'commander.help' ? 'a command is required (see b2b-checkout --help)' : err.message.replace(/^error: /, '');
    printer.failure({ errorCode: 'INVALID_INPUT', message, httpStatus: ERROR_CODES.INVALID_INPUT, exitCode: EXIT_CODES.INVALID_INPUT });
    return EXIT_CODES.INVALID_INPUT;
  }
  const failure = toFailure(err, globals);
  printer.failure(failure);
  return failure.exitCode;
}

export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo: CliIo = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, env: io.env ?? process.env };
  const dashDash = argv.indexOf('--');
  // Known before parsing, so that even a bad command line gets its error as JSON.
  const jsonRequested = (dashDash === -1 ? argv : argv.slice(0, dashDash)).includes('--json');
  let runner: Runner | undefined;
  const program = buildProgram(fullIo);
  const prepare: Prepare = (cmd) => {
    type Raw = { json?: boolean; taskQueue?: string; timeoutMs?: string };
    const local = cmd.opts<Raw>();
    const global = program.opts<Raw>();
    // The printer first, so that a bad global option is reported as --json asked.
    runner = { printer: new Printer(fullIo, Boolean(local.json || global.json || jsonRequested)) };
    const globals = parseGlobals(local, global, jsonRequested, TASK_QUEUE);
    const conn = new Connections(fullIo.env, globals);
    runner = { printer: runner.printer, globals, conn };
    return { printer: runner.printer, globals, conn };
  };
  for (const add of COMMANDS) add(program, prepare);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return report(err, runner?.printer ?? new Printer(fullIo, jsonRequested), runner?.globals);
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

/**
 * The shape every command shares: its help (examples and the environment it reads), the global
 * options it accepts before or after its name, and the run it gets (printer, options, connections).
 */
import { Command, Option } from 'commander';
import { TASK_QUEUE } from '../contract';
import { DEFAULT_TIMEOUT_MS, type GlobalOptions } from './args';
import type { Connections } from './connections';
import type { Printer } from './output';

const ENVIRONMENT = {
  TEMPORAL_ADDRESS: 'Temporal frontend host:port (default 127.0.0.1:7233), read through @temporalio/envconfig',
  TEMPORAL_NAMESPACE: 'Temporal namespace (default "default"), read through envconfig',
  TEMPORAL_API_KEY: 'API key for Temporal Cloud, read through envconfig (TLS and profiles too: TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE)',
  MONGODB_URI: 'MongoDB connection string; required by create-cart and status, and by cancel to tell a Closed or missing cart apart',
  MONGODB_DB: 'MongoDB database (default b2b_checkout)',
} as const;
export type EnvName = keyof typeof ENVIRONMENT;
export const TEMPORAL_ENV: EnvName[] = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY'];
export const MONGO_ENV: EnvName[] = ['MONGODB_URI', 'MONGODB_DB'];

/** What a command's action works with. */
export interface Run {
  printer: Printer;
  globals: GlobalOptions;
  conn: Connections;
}

/** Turns the command being run into its Run (global options from the program or the subcommand). */
export type Prepare = (cmd: Command) => Run;

export interface CommandSpec {
  name: string;
  summary: string;
  description: string;
  examples: string[];
  env: EnvName[];
}

export function helpText(examples: string[], env: EnvName[]): string {
  const width = Math.max(...env.map((e) => e.length));
  return ['', 'Examples:', ...examples.map((e) => `  $ ${e}`), '', 'Environment:', ...env.map((e) => `  ${e.padEnd(width)}  ${ENVIRONMENT[e]}`), ''].join('\n');
}

/**
 * Options every command accepts, before or after the command name. Defined on the program (shown as
 * global options) and, hidden, on each subcommand, so `b2b-checkout cancel c1 --reason x --json` works too.
 */
export function addGlobalOptions(cmd: Command, hidden: boolean): Command {
  const json = new Option('--json', 'print the result (or the error) as one JSON document on stdout');
  const timeout = new Option('--timeout-ms <n>', `give up waiting for the server after n ms (default: ${DEFAULT_TIMEOUT_MS})`);
  // Advanced: the task queue of the workers to use (tests run their own); not shown in help.
  const taskQueue = new Option('--task-queue <name>', `task queue of the b2b-checkout workers (default: ${TASK_QUEUE})`).hideHelp();
  return cmd
    .addOption(hidden ? json.hideHelp() : json)
    .addOption(hidden ? timeout.hideHelp() : timeout)
    .addOption(taskQueue);
}

/** A subcommand of the program with its help and the (hidden) global options. */
export function defineCommand(program: Command, spec: CommandSpec): Command {
  const cmd = program.command(spec.name).summary(spec.summary).description(spec.description).addHelpText('after', helpText(spec.examples, spec.env));
  return addGlobalOptions(cmd, true);
}

/**
 * `npm run faults [-- --quick] [--seed N] [--only a,b] [--operations N] [--keep] [--help]`: starts the stack as
 * separate processes (see stack.ts), runs the fault scenarios one after the other, checks the
 * invariants after each, prints the tables and writes faults/results/<time>-<mode>.json. The exit code
 * is 1 when an invariant was violated or a scenario could not run, 0 otherwise. See docs/RELIABILITY.md.
 *
 * --quick: a bounded subset (a worker killed mid-step with a second worker alive, one killed in READY
 * with a restart, a MongoDB outage, a store's provider down for 6 s, a random run of 150 operations) in
 * a few minutes; `npm test` runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../stack/paths';
import { Ledger } from './ledger';
import { say } from './log';
import { buildReport, printReport, writeReport } from './report';
import type { Options, ScenarioResult } from './scenario';
import { randomRun } from './scenarios/random';
import { providerOutage } from './scenarios/provider-outage';
import { mongoOutage, stackKill, temporalKill } from './scenarios/servers';
import { PHASES, scenarioName, workerKill, type Mode, type Phase } from './scenarios/worker-kill';
import { FaultStack, announce } from './stack';
import { Traffic } from './traffic';

interface Args extends Options {
  only: string[];
  keep: boolean;
}

/** A bad command line: exit 2 with the usage, no stack started. */
class UsageError extends Error {}

const USAGE = `Usage: npm run faults [-- options]

Starts its own stack (Temporal, MongoDB, the API, two worker processes) in a temporary directory,
runs the fault scenarios and checks the invariants after each (docs/RELIABILITY.md).

  --quick            the bounded subset npm test runs (5 scenarios, a few minutes)
  --only a,b         only the scenarios whose name contains one of these
  --seed N           the random scenario's seed (default 20261127)
  --operations N     operations of the random scenario (default 1000, quick 150)
  --clients N        concurrent clients of the random scenario (default 8)
  --carts N          carts of the random scenario (default 50, quick 10)
  --keep             keep the servers' data and logs even when nothing was violated
  --help             this text

Exit code: 0 no violation, 1 an invariant was violated or a scenario could not run, 2 bad options.`;

const FLAGS = new Set(['--quick', '--keep', '--help']);
const VALUED = new Set(['--only', '--seed', '--operations', '--clients', '--carts']);

function parseArgs(argv: string[]): Args {
  for (let i = 0; i < argv.length; i++) {
    if (VALUED.has(argv[i])) i++;
    else if (!FLAGS.has(argv[i])) throw new UsageError(`unknown option ${argv[i]}`);
  }
  const quick = argv.includes('--quick');
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${name} needs a positive integer, got ${v}`);
    return n;
  };
  return {
    quick,
    seed: number('--seed', 20261127),
    operations: number('--operations', quick ? 150 : 1000),
    clients: number('--clients', 8),
    carts: number('--carts', quick ? 10 : 50),
    only: (value('--only') ?? '').split(',').filter(Boolean),
    keep: argv.includes('--keep'),
  };
}

type Scenario = { name: string; run: (stack: FaultStack) => Promise<ScenarioResult> };

function scenarios(a: Args): Scenario[] {
  const wk = (phase: Phase, mode: Mode): Scenario => ({ name: scenarioName(phase, mode), run: (st) => workerKill(st, phase, mode, a) });
  if (a.quick) {
    return [
      wk('Taxes', 'second'),
      wk('READY', 'restart'),
      { name: 'mongo-outage', run: (st) => mongoOutage(st, a, 10000) },
      { name: 'provider-outage', run: (st) => providerOutage(st, a, 6000) },
      { name: 'random', run: (st) => randomRun(st, a) },
    ];
  }
  return [
    ...PHASES.flatMap((p) => [wk(p, 'second'), wk(p, 'restart')]),
    { name: 'temporal-kill', run: (st) => temporalKill(st, a) },
    { name: 'mongo-outage', run: (st) => mongoOutage(st, a, 15000) },
    { name: 'provider-outage', run: (st) => providerOutage(st, a, 20000) },
    { name: 'stack-kill', run: (st) => stackKill(st, a) },
    { name: 'random', run: (st) => randomRun(st, a) },
  ];
}

async function main(): Promise<number> {
  if (process.argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  const command = `npm run faults --${args.quick ? ' --quick' : ''} --seed ${args.seed}`;
  const chosen = scenarios(args).filter((sc) => args.only.length === 0 || args.only.some((o) => sc.name.includes(o)));
  if (chosen.length === 0) throw new Error(`no scenario matches --only ${args.only.join(',')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'b2b-faults-'));
  const stack = new FaultStack(dir);
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    say(`${signal}: stopping the stack; its data and logs stay in ${dir}`);
    void stack.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: ScenarioResult[] = [];
  try {
    say(`${args.quick ? 'quick' : 'full'} run, seed ${args.seed}: ${chosen.length} scenarios (${chosen.map((c) => c.name).join(', ')})`);
    await stack.start(2);
    announce(stack);
    await new Traffic(stack, new Ledger()).setupDirectory();
    for (const sc of chosen) results.push(await sc.run(stack));
  } finally {
    await stack.stop();
  }
  const report = buildReport(args.quick ? 'quick' : 'full', args.seed, startedAt, command, results);
  printReport(report, (l) => process.stdout.write(`${l}\n`));
  const file = writeReport(path.join(ROOT, 'faults', 'results'), report);
  const failed = report.totals.violations > 0 || report.totals.scenarioErrors > 0;
  if (failed || args.keep) say(`servers' data and logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  say(`results: ${path.relative(process.cwd(), file)}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);

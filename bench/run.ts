/**
 * `npm run bench [-- --quick]`: cancel latency, lifecycle throughput and scale of b2b-checkout, beside
 * the floor (the bare MongoDB write, the bare Temporal round trip) measured in the same run against the
 * same servers. Prints a table and writes bench/results/<timestamp>.json. See docs/PERFORMANCE.md.
 *
 * Options: --quick (small counts, under a minute: 1 and 10 in flight, 2 s per client count, scale 20 and 100), --only floor,cancel,add,lifecycle,scale,
 * --in-flight 1,10,100, --clients 1,10,50, --seconds 30, --scale 100,1000,10000, --label <text>,
 * --poll-gap-ms <ms> (pause between the watcher's reads, default 2; 0 = back to back),
 * --dev-server-config key=value,... (dynamic config for the dev server it starts: to measure a setting),
 * --compare key=value,... (after the run, the same phases but scale again on a fresh stack whose dev
 * server has these settings: before and after in one run).
 * --stack dev,server (which Temporal: the dev server, Temporal Server on PostgreSQL, or both one after
 * the other, each pass on a stack of its own: side by side in one run), --methods signal,update,http,
 * --persistent (then the same phases but scale on the dev server's SQLite file and mongo-java-server's
 * H2 file, as `npm start` keeps them: with the SQLite pragmas before this change, and with today's;
 * --persistent-pragmas a=b,c=d measures another set as the after).
 * --durability [--writes N]: only the H2 file's cost of keeping every acknowledged write (bench/durability.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from './context';
import { Aborted, abortFlag, say } from './log';
import { measureAddToCart, type AddMethod, type AddToCartResult } from './phases/add-to-cart';
import { measureCancel, measureFloor, type CancelMethod, type Cell, type FloorKind } from './phases/cancel';
import { measureLifecycles, type LifecycleResult } from './phases/lifecycle';
import { measureScale, type ScaleResult } from './phases/scale';
import { machine } from './probes';
import { printReport, targets } from './report';
import { bundleBenchWorkflows, installRuntime, newRunId, startStack, type BenchStack } from './stack';
import { CartWatcher } from './watcher';
import { runDurabilityBench } from './durability';
import { STACK_PROFILES, type StackProfile } from '../stack/profile';
import { sqlitePragmasFromEnv } from '../stack/temporal-server';

/** What `npm start` opened its SQLite file with before WAL (stack/temporal-server.ts): rollback journal, every commit synced. */
export const SQLITE_PRAGMAS_BEFORE = ['synchronous=FULL'];

export const PHASES = ['floor', 'cancel', 'add', 'lifecycle', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export interface Config {
  quick: boolean;
  phases: Phase[];
  inFlight: number[];
  methods: CancelMethod[];
  floors: FloorKind[];
  clients: number[];
  seconds: number;
  scale: number[];
  addMethods: AddMethod[];
  addInFlight: number[];
  pollGapMs: number;
  /** Dynamic config values for the dev server this run starts (--dev-server-config k=v,k=v). */
  devServerConfig: string[];
  /** A second pass on a dev server with these values (--compare k=v,k=v); empty: none. */
  compare: string[];
  /** One pass per profile, in this order (--stack). */
  stacks: StackProfile[];
  /** Persistent passes (--persistent): SQLite pragmas before, and one or more sets after. */
  persistent?: { before: string[]; after: string[][] };
  label?: string;
}

export type Pct = { p50: number; p95: number; p99: number; max: number; n: number };

/** What one pass measures (the run's, and the --compare pass's). */
export interface Measurements {
  /** What ran, in a few words (profile, storage). */
  title?: string;
  versions?: BenchStack['versions'];
  /** Dynamic config of the dev server this pass ran on (empty: as stack/ starts it). */
  devServerConfig: string[];
  /** in flight → method → send until the cart is seen Active. */
  cancelLatencyMs: Record<string, Partial<Record<CancelMethod, Pct>>>;
  /** Floor kind → at 1 in flight. */
  floorMs: Partial<Record<FloorKind, { p50: number; p99: number }>>;
  floorByInFlightMs: Record<string, Partial<Record<FloorKind, Pct>>>;
  lifecyclesPerSecond: Record<string, number>;
  /** The floor lifecycle (bench workflow, no-op activities), same clients and window. */
  floorLifecyclesPerSecond: Record<string, number>;
  scale: Record<string, ScaleResult>;
  addToCartMs?: Pct;
  ratios: Record<string, unknown>;
  targets: Array<{ target: string; measured: string; met: boolean }>;
  details: {
    cancel: Record<string, Partial<Record<CancelMethod, Cell>>>;
    floor: Record<string, Partial<Record<FloorKind, Cell>>>;
    lifecycle: Record<string, LifecycleResult>;
    floorLifecycle: Record<string, LifecycleResult>;
    addToCart: Record<string, Record<string, AddToCartResult>>;
    watcher?: { reads: number; meanReadMs: number; gapMs: number };
    workerLogLines?: number;
  };
}

export interface Results extends Measurements {
  runId: string;
  mode: 'quick' | 'full';
  label?: string;
  startedAt: string;
  finishedAt?: string;
  aborted?: boolean;
  error?: string;
  config: Config;
  machine: ReturnType<typeof machine>;
  /** The --compare pass: the same phases (but scale) on a dev server with the settings proposed. */
  compare?: Measurements;
  /** The passes after the first (the first is the top level): further profiles, persistent before/after. */
  passes?: Record<string, Measurements>;
}

export const pct = (s: Pct): Pct => ({ p50: s.p50, p95: s.p95, p99: s.p99, max: s.max, n: s.n });

function emptyMeasurements(devServerConfig: string[], title?: string): Measurements {
  return {
    ...(title ? { title } : {}),
    devServerConfig,
    cancelLatencyMs: {},
    floorMs: {},
    floorByInFlightMs: {},
    lifecyclesPerSecond: {},
    floorLifecyclesPerSecond: {},
    scale: {},
    ratios: {},
    targets: [],
    details: { cancel: {}, floor: {}, lifecycle: {}, floorLifecycle: {}, addToCart: {} },
  };
}

function parseArgs(argv: string[]): Config {
  const get = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    const a = argv[i];
    return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
  };
  const list = (name: string, fallback: number[]) => {
    const v = get(name);
    if (v === undefined) return fallback;
    const nums = v.split(',').map((x) => Number(x.trim()));
    if (nums.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`--${name}: a comma-separated list of positive integers, got "${v}"`);
    return nums;
  };
  const kvs = (name: string) =>
    (get(name) ?? '')
      .split(',')
      .map((kv) => kv.trim())
      .filter(Boolean);
  const known = new Set([
    'quick',
    'only',
    'in-flight',
    'clients',
    'seconds',
    'scale',
    'label',
    'poll-gap-ms',
    'dev-server-config',
    'compare',
    'help',
    'stack',
    'methods',
    'persistent',
    'persistent-pragmas',
  ]);
  for (const a of argv) {
    if (a.startsWith('--') && !known.has(a.slice(2).split('=')[0])) throw new Error(`unknown option ${a} (npm run bench -- --help)`);
  }
  const quick = argv.includes('--quick');
  const only = get('only');
  const phases = only ? (only.split(',').map((p) => p.trim()) as Phase[]) : [...PHASES];
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`--only: phases are ${PHASES.join(', ')}; got "${p}"`);
  const seconds = Number(get('seconds') ?? (quick ? 2 : 30));
  // 2 ms between reads: measured to cost the Temporal round trip under 1 ms at 1 in flight (back to back: ~8 ms).
  const pollGapMs = Number(get('poll-gap-ms') ?? 2);
  if (!(seconds > 0) || !(pollGapMs >= 0)) throw new Error('--seconds must be positive and --poll-gap-ms not negative');
  const compare = kvs('compare');
  if (compare.length && process.env.TEMPORAL_ADDRESS) throw new Error('--compare starts dev servers of its own: unset TEMPORAL_ADDRESS');
  for (const kv of [...compare, ...kvs('dev-server-config')]) {
    if (!/^[A-Za-z][\w.]*=.+$/.test(kv)) throw new Error(`dynamic config values are key=value (value JSON), got "${kv}"`);
  }
  const label = get('label');
  const stacks = (get('stack') ?? 'dev').split(',').map((p) => p.trim()) as StackProfile[];
  for (const p of stacks) if (!STACK_PROFILES.includes(p)) throw new Error(`--stack: profiles are ${STACK_PROFILES.join(', ')}; got "${p}"`);
  if (stacks.includes('server') && process.env.TEMPORAL_ADDRESS) throw new Error('--stack server starts Temporal Server: unset TEMPORAL_ADDRESS');
  const methods = (get('methods') ?? 'signal,update,http').split(',').map((m) => m.trim()) as CancelMethod[];
  for (const m of methods) if (!['signal', 'update', 'http'].includes(m)) throw new Error(`--methods: signal, update, http; got "${m}"`);
  const persistent = argv.includes('--persistent') || get('persistent-pragmas') !== undefined;
  if (persistent && (process.env.TEMPORAL_ADDRESS || process.env.MONGODB_URI))
    throw new Error('--persistent starts servers of its own: unset TEMPORAL_ADDRESS and MONGODB_URI');
  // Sets separated by ';': one persistent pass each after the before pass.
  const after = (get('persistent-pragmas') ?? '')
    .split(';')
    .map((set) =>
      set
        .split(',')
        .map((kv) => kv.trim())
        .filter(Boolean),
    )
    .filter((set) => set.length > 0);
  return {
    quick,
    phases,
    inFlight: list('in-flight', quick ? [1, 10] : [1, 10, 100]),
    methods,
    floors: ['mongoCancel', 'mongoCancelRead', 'mongoWrite', 'temporalSignal', 'temporalSignalPolled', 'temporalUpdate'],
    clients: list('clients', [1, 10, 50]),
    seconds,
    scale: list('scale', quick ? [20, 100] : [100, 1000, 10000]),
    addMethods: ['client', 'http'],
    addInFlight: quick ? [1] : [1, 10],
    pollGapMs,
    devServerConfig: kvs('dev-server-config'),
    compare,
    stacks,
    ...(persistent ? { persistent: { before: SQLITE_PRAGMAS_BEFORE, after: after.length ? after : [sqlitePragmasFromEnv(process.env)] } } : {}),
    ...(label ? { label } : {}),
  };
}

const USAGE =
  'usage: npm run bench [-- --quick] [--only floor,cancel,add,lifecycle,scale] [--in-flight 1,10,100] [--clients 1,10,50] ' +
  '[--seconds 30] [--scale 100,1000,10000] [--label text] [--poll-gap-ms 2] [--dev-server-config key=value,...] [--compare key=value,...]\n' +
  '       [--stack dev,server] [--methods signal,update,http] [--persistent [--persistent-pragmas "journal_mode=WAL,synchronous=FULL;journal_mode=WAL,synchronous=NORMAL"]]\n' +
  '       npm run bench -- --durability [--writes 2000]   (mongo-java-server H2: acknowledged writes per durability mode)';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  if (argv.includes('--durability')) return runDurabilityBench(argv);
  const config = parseArgs(argv);
  const runId = newRunId();
  const controller = new AbortController();
  const abort = abortFlag(controller.signal);
  let stopStack: (() => Promise<void>) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      say(`${signal} again: exiting now (the servers stop with us: they run under guards)`);
      process.exit(130);
    }
    say(`${signal}: stopping after the calls in flight; the partial results are kept`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: Results = {
    runId,
    mode: config.quick ? 'quick' : 'full',
    ...(config.label ? { label: config.label } : {}),
    startedAt: new Date().toISOString(),
    config,
    machine: machine(),
    ...emptyMeasurements(config.devServerConfig),
  };
  say(
    `run ${runId} (${results.mode}${config.label ? `, ${config.label}` : ''}): ${results.machine.cores} cores, ${results.machine.memoryMb} MB, load ${results.machine.loadAverageAtStart.join(' ')}`,
  );
  let exitCode = 0;
  try {
    const runtime = await installRuntime();
    const bundle = await bundleBenchWorkflows();
    // One pass: a stack of its own, the phases, the stack stopped (also when a phase fails).
    const pass = async (name: string, spec: PassSpec, phases: Phase[], into: Measurements): Promise<void> => {
      let watcher: CartWatcher | undefined;
      let stack: BenchStack | undefined;
      try {
        stack = await startStack(runId, { runtime, bundle, name, ...spec }, (s) => (stopStack = s));
        into.versions = stack.versions;
        abort.check();
        watcher = new CartWatcher(stack.carts, config.pollGapMs);
        const ctx: Ctx = { stack, watcher, runId: `${runId}-${name}`, abort, quick: config.quick };
        await runPhases(ctx, { ...config, phases }, into);
      } finally {
        if (watcher) {
          into.details.watcher = {
            reads: watcher.reads,
            meanReadMs: Math.round((watcher.readMs / Math.max(1, watcher.reads)) * 100) / 100,
            gapMs: config.pollGapMs,
          };
          await watcher.stop();
        }
        if (stack) into.details.workerLogLines = stack.workerLogLines();
        say('stopping the stack');
        await stopStack?.();
        stopStack = undefined;
      }
    };
    const passes = passesOf(config);
    abort.check();
    const [first, ...rest] = passes;
    results.title = first.title;
    say(`pass ${first.name}: ${first.title}`);
    await pass(first.name, first.spec, first.phases, results);
    for (const p of rest) {
      abort.check();
      const into = emptyMeasurements(p.spec.devServerConfig, p.title);
      (results.passes ??= {})[p.name] = into;
      say(`pass ${p.name}: ${p.title}`);
      await pass(p.name, p.spec, p.phases, into);
    }
    if (config.compare.length) {
      const compare = emptyMeasurements(config.compare);
      results.compare = compare;
      say(`--compare: the same phases again on a fresh stack, dev server with ${config.compare.join(', ')}`);
      await pass(
        'compare',
        { profile: 'dev', devServerConfig: config.compare },
        config.phases.filter((p) => p !== 'scale'),
        compare,
      );
    }
  } catch (err) {
    if (err instanceof Aborted || controller.signal.aborted) {
      results.aborted = true;
      exitCode = 130;
    } else {
      results.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      say(`failed: ${err instanceof Error ? err.message : String(err)}`);
      exitCode = 1;
    }
  }
  results.finishedAt = new Date().toISOString();
  results.targets = targets(results);
  if (results.compare) results.compare.targets = targets(results.compare);
  for (const p of Object.values(results.passes ?? {})) p.targets = targets(p);
  printReport(results);
  const dir = path.join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${runId}${config.label ? `-${config.label.replace(/[^A-Za-z0-9_.-]/g, '_')}` : ''}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  say(`results: ${path.relative(process.cwd(), file)}`);
  return exitCode;
}

type PassSpec = { profile: StackProfile; devServerConfig: string[]; persistent?: { sqlitePragmas: string[] } };

/** The passes of a run: one per profile (--stack), then the persistent ones (--persistent), each on a stack of its own. */
function passesOf(config: Config): Array<{ name: string; title: string; spec: PassSpec; phases: Phase[] }> {
  const out = config.stacks.map((profile) => ({
    name: profile as string,
    title:
      profile === 'server'
        ? 'server profile: Temporal Server on PostgreSQL, mongo-java-server in memory'
        : 'dev profile: Temporal dev server on in-memory SQLite, mongo-java-server in memory',
    spec: { profile, devServerConfig: config.devServerConfig } as PassSpec,
    phases: config.phases,
  }));
  if (config.persistent) {
    // Scale is left out: 10,000 checkouts on a file measure the disk more than the stack.
    const phases = config.phases.filter((p) => p !== 'scale');
    const sets: Array<[string, string[]]> = [
      ['persistent-before', config.persistent.before],
      ...config.persistent.after.map((set, i): [string, string[]] => [
        config.persistent!.after.length > 1 ? `persistent-after-${i + 1}` : 'persistent-after',
        set,
      ]),
    ];
    for (const [name, pragmas] of sets) {
      out.push({
        name,
        title: `as npm start keeps its data: dev server on a SQLite file (${pragmas.join(', ')}), mongo-java-server on an H2 file (MONGO_SYNC=${process.env.MONGO_SYNC ?? 'on'})`,
        spec: { profile: 'dev', devServerConfig: config.devServerConfig, persistent: { sqlitePragmas: [...pragmas] } },
        phases,
      });
    }
  }
  return out;
}

async function runPhases(ctx: Ctx, config: Config, into: Measurements): Promise<void> {
  const on = (p: Phase) => config.phases.includes(p);
  for (const n of config.inFlight) {
    const key = String(n);
    if (on('floor')) {
      for (const kind of config.floors) {
        say(`floor ${kind}, ${n} in flight`);
        const cell = await measureFloor(ctx, kind, n);
        (into.details.floor[key] ??= {})[kind] = cell;
        (into.floorByInFlightMs[key] ??= {})[kind] = pct(cell.latency);
        if (n === 1) into.floorMs[kind] = { p50: cell.latency.p50, p99: cell.latency.p99 };
        say(`  p50 ${cell.latency.p50} ms, p99 ${cell.latency.p99} ms (${cell.latency.n} samples${cell.errors ? `, ${cell.errors} errors` : ''})`);
      }
    }
    if (on('cancel')) {
      for (const method of config.methods) {
        say(`cancel by ${method}, ${n} in flight`);
        const cell = await measureCancel(ctx, method, n);
        (into.details.cancel[key] ??= {})[method] = cell;
        (into.cancelLatencyMs[key] ??= {})[method] = pct(cell.latency);
        say(
          `  p50 ${cell.latency.p50} ms, p99 ${cell.latency.p99} ms (${cell.latency.n} samples${cell.errors ? `, ${cell.errors} errors: ${cell.firstError}` : ''})`,
        );
      }
    }
  }
  if (on('add')) {
    for (const method of config.addMethods) {
      for (const n of config.addInFlight) {
        say(`add to cart during checkout by ${method}, ${n} in flight`);
        const r = await measureAddToCart(ctx, method, n);
        (into.details.addToCart[method] ??= {})[String(n)] = r;
        if (method === 'client' && n === 1) into.addToCartMs = pct(r.latency);
        say(`  p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (${r.latency.n} samples${r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''})`);
      }
    }
  }
  if (on('lifecycle')) {
    for (const clients of config.clients) {
      for (const kind of ['checkout', 'floor'] as const) {
        say(`${kind === 'floor' ? 'floor lifecycles (bench workflow, no-op activities)' : 'lifecycles'}: ${clients} clients for ${config.seconds} s`);
        const r = await measureLifecycles(ctx, clients, config.seconds, kind);
        if (kind === 'checkout') {
          into.details.lifecycle[String(clients)] = r;
          into.lifecyclesPerSecond[String(clients)] = r.perSecond;
        } else {
          into.details.floorLifecycle[String(clients)] = r;
          into.floorLifecyclesPerSecond[String(clients)] = r.perSecond;
        }
        say(
          `  ${r.perSecond}/s (${r.lifecycles} lifecycles, p50 ${r.lifecycleMs.p50} ms${r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''}, left locked ${r.leftLocked})`,
        );
      }
    }
  }
  if (on('scale')) {
    for (const n of config.scale) {
      say(`scale: ${n} open checkouts`);
      const r = await measureScale(ctx, n);
      into.scale[String(n)] = r;
      say(`  RSS ${r.rssMb} MB, heap ${r.heapMb} MB; cancel all ${r.cancelAllSeconds} s, p99 ${r.p99Ms} ms, left locked ${r.leftLocked}`);
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);

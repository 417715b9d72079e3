/** The printed tables and the JSON file of a run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INVARIANTS, type InvariantName } from './invariants';
import type { ScenarioResult } from './scenario';

export interface RunReport {
  mode: 'quick' | 'full';
  seed: number;
  startedAt: string;
  durationMs: number;
  command: string;
  scenarios: ScenarioResult[];
  totals: {
    scenarios: number;
    operations: number;
    acknowledged: number;
    faults: number;
    violations: number;
    recoveryTargetMissed: number;
    scenarioErrors: number;
  };
  violationsByInvariant: Record<InvariantName, number>;
}

const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r, j) => r.map((c, i) => c.padEnd(widths[i])).join('  ') + (j === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : '')).join('\n');
}

export function buildReport(mode: 'quick' | 'full', seed: number, startedAt: number, command: string, scenarios: ScenarioResult[]): RunReport {
  const byInvariant = Object.fromEntries(Object.keys(INVARIANTS).map((k) => [k, 0])) as Record<InvariantName, number>;
  for (const sc of scenarios) for (const v of sc.violations) byInvariant[v.invariant]++;
  const faults = scenarios.flatMap((sc) => sc.faults);
  return {
    mode,
    seed,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    command,
    scenarios,
    totals: {
      scenarios: scenarios.length,
      operations: scenarios.reduce((n, sc) => n + sc.ledger.operations, 0),
      acknowledged: scenarios.reduce((n, sc) => n + sc.ledger.acknowledged, 0),
      faults: faults.length,
      violations: scenarios.reduce((n, sc) => n + sc.violations.length, 0),
      recoveryTargetMissed: faults.filter((f) => f.met === false).length,
      scenarioErrors: scenarios.filter((sc) => sc.error).length,
    },
    violationsByInvariant: byInvariant,
  };
}

export function printReport(r: RunReport, out: (line: string) => void): void {
  out('');
  out(
    `Fault suite (${r.mode}, seed ${r.seed}): ${r.totals.scenarios} scenarios, ${r.totals.operations} operations (${r.totals.acknowledged} acknowledged), ${r.totals.faults} faults injected, ${r.totals.violations} violations, ${(r.durationMs / 1000).toFixed(0)} s`,
  );
  out('');
  const rows = [['scenario', 'faults', 'ops', 'acked', 'answers seen', 'recovery s (target)', 'quiet s', 'violations']];
  for (const sc of r.scenarios) {
    const answers = Object.entries(sc.ledger.answersByCode)
      .filter(([k]) => k !== 'ok' && !/^2\d\d$/.test(k))
      .map(([k, n]) => `${k}:${n}`)
      .join(' ');
    const recovery = sc.faults.map((f) => `${s(f.recoveredMs)}${f.met === false ? '!' : ''}`).join(' ');
    const target = sc.faults[0]?.targetMs;
    rows.push([
      sc.name,
      String(sc.faults.length),
      String(sc.ledger.operations),
      String(sc.ledger.acknowledged),
      answers || '-',
      `${recovery || '-'}${target ? ` (${target / 1000})` : ''}`,
      s(sc.quietAfterMs),
      sc.error ? `${sc.violations.length} + ERROR` : String(sc.violations.length),
    ]);
  }
  out(table(rows));
  out('');
  out(
    'recovery: seconds from a live worker (or the restarted server) until the interrupted work ran again; "!" = over the target, "-" = not within the deadline',
  );
  out('');
  const inv = [['invariant', 'violations', 'carts (first 5)']];
  for (const [k, text] of Object.entries(INVARIANTS) as Array<[InvariantName, string]>) {
    const carts = [...new Set(r.scenarios.flatMap((sc) => sc.violations.filter((v) => v.invariant === k).flatMap((v) => v.cartIds)))];
    inv.push([text, String(r.violationsByInvariant[k]), carts.slice(0, 5).join(' ') || '-']);
  }
  out(table(inv));
  const errors = r.scenarios.filter((sc) => sc.error);
  for (const sc of errors) out(`scenario ${sc.name} did not run to its end: ${sc.error}`);
  if (r.totals.violations > 0) {
    out('');
    out('violations (first 40; all in the JSON file):');
    for (const sc of r.scenarios)
      for (const v of sc.violations.slice(0, 40)) out(`  ${sc.name}  ${INVARIANTS[v.invariant]}  [${v.cartIds.join(' ')}]  ${v.detail}`);
  }
}

export function writeReport(dir: string, r: RunReport): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${r.startedAt.replace(/[:.]/g, '-')}-${r.mode}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

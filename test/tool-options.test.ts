/**
 * The fault suite's and the benchmark's command lines: `--help` prints the options and starts
 * nothing, an unknown option is refused with exit 2 before any server starts (a typo must not start
 * a half-hour run with defaults).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const dist = path.join(__dirname, '..', 'dist');
const tools = [
  { name: 'npm run faults', file: path.join(dist, 'faults', 'run.js') },
  { name: 'npm run bench', file: path.join(dist, 'bench', 'run.js') },
];

const run = (file: string, args: string[]) => spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 20000 });

describe.each(tools)('$name', ({ file }) => {
  test('--help prints the usage and exits 0', () => {
    const r = run(file, ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage/i);
    expect(r.stdout).toContain('--quick');
  });

  test('an unknown option is refused, naming it', () => {
    const r = run(file, ['--sede', '7']);
    expect(r.status).not.toBe(0);
    expect(r.signal).toBeNull();
    expect(`${r.stdout}${r.stderr}`).toContain('--sede');
  });
});

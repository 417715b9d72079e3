/**
 * A bad setting ends each entry point (the worker, the HTTP API, `npm start`'s launcher) with one line
 * naming the setting and its code, and a non-zero exit: no stack trace. Configuration is read before
 * anything connects, so these runs need neither Temporal nor MongoDB.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const dist = path.join(__dirname, '..', 'dist');
const entryPoints = [
  { name: 'worker', file: path.join(dist, 'src', 'worker.js') },
  { name: 'api', file: path.join(dist, 'src', 'api', 'server.js') },
  { name: 'npm start', file: path.join(dist, 'stack', 'start.js') },
];
const badSettings = [
  { setting: 'API_TOKENS', value: 'too-short=service' },
  { setting: 'API_PORT', value: 'http' },
  { setting: 'LOG_LEVEL', value: 'loud' },
  { setting: 'WORKER_SHUTDOWN_GRACE_S', value: '-1' },
  { setting: 'WORKER_VERSIONING', value: 'maybe' },
  { setting: 'WORKER_DEPLOYMENT_NAME', value: 'b2b.checkout' },
  { setting: 'WORKER_BUILD_ID', value: 'has space' },
  { setting: 'WORKER_SET_CURRENT', value: 'sometimes' },
  { setting: 'RATE_LIMIT_PER_MIN', value: 'lots' },
];

function run(file: string, env: Record<string, string>) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  // Servers that do not exist: should a bad setting slip through, the run fails on them instead of starting anything.
  const base = { ...process.env, MONGODB_URI: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500', TEMPORAL_ADDRESS: '127.0.0.1:9' };
  return spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...base, ...env }, timeout: 30000 });
}

describe.each(entryPoints)('$name', ({ name, file }) => {
  test.each(badSettings)('a bad $setting ends it with one line naming the setting and its code', ({ setting, value }) => {
    // A valid API_TOKENS beside the bad setting, so the API gets as far as reading that setting.
    const r = run(file, { API_TOKENS: `${'x'.repeat(16)}=service`, [setting]: value });
    expect(r.error).toBeUndefined();
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${name}: ${setting}\\b.*\\(INVALID_CONFIGURATION\\)$`));
    // Tokens are secrets: the line says which entry is wrong, never the token itself.
    if (setting === 'API_TOKENS') expect(lines[0]).not.toContain(value.split('=')[0]);
    else expect(lines[0]).toContain(`"${value}"`);
  });
});

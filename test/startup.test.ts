/**
 * What an operator sees when a process starts: `b2b-checkout --version`, and the HTTP API process
 * (`node dist/src/api/server.js`, as in the image and under the fault suite) starting on this run's
 * servers with no deprecation or experimental warning on stderr (fastify used to warn about
 * maxParamLength on every start) and only JSON lines on stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../stack/ports';

const dist = path.join(__dirname, '..', 'dist');
const { version } = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

test('b2b-checkout --version prints the package version and exits 0', () => {
  for (const flag of ['--version', '-V']) {
    const r = spawnSync(process.execPath, [path.join(dist, 'src', 'cli', 'main.js'), flag], { encoding: 'utf8', timeout: 30000 });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
  }
});

test('the API process starts without a deprecation or experimental warning, logging JSON lines only', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(dist, 'src', 'api', 'server.js')], {
    env: { ...process.env, API_PORT: String(port), API_HOST: '127.0.0.1', API_TOKENS: `${'s'.repeat(20)}=service`, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the API did not start: ${stdout}\n${stderr}`)), 60000);
      const check = () => {
        if (/listening on/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      void exited.then((code) => reject(new Error(`the API exited (${code}): ${stdout}\n${stderr}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  expect(stderr).not.toMatch(/DeprecationWarning|FSTDEP|ExperimentalWarning|Warning:/);
  const lines = stdout.split('\n').filter(Boolean);
  for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
    expect.objectContaining({ level: 'info', component: 'api', msg: expect.stringMatching(/^listening on http:\/\/127\.0\.0\.1:/) }),
  );
});

/**
 * The client library as another TypeScript service installs it: `npm pack` (its prepack builds the
 * JavaScript with type declarations), then a scratch project `npm install`s the tarball (the
 * dependencies from npm's cache where it has them), type-checks a file that imports CheckoutClient,
 * and runs one that requires and imports it, without loading the worker, the launcher or the API.
 *
 * The pack runs in a copy of the sources (with this repository's node_modules linked), so its build
 * never touches the dist/ the other test files run.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'b2b-checkout-pack-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

test('npm pack, install the tarball in a scratch project: CheckoutClient type-checks, requires and imports, without the worker', () => {
  // 1. Pack from a copy of what the package is built from.
  const source = path.join(tmp, 'source');
  mkdirSync(source);
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'workflows', 'activities']) {
    cpSync(path.join(repo, entry), path.join(source, entry), { recursive: true });
  }
  symlinkSync(path.join(repo, 'node_modules'), path.join(source, 'node_modules'), 'dir');
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', tmp], source)) as { filename: string; files: { path: string }[] }[];
  const tarball = path.join(tmp, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/contract/index.d.ts']));
  expect(files.filter((f) => /^(test|stack|bench|faults|src)\//.test(f) || f.endsWith('.map'))).toEqual([]);

  // 2. A scratch project installs it.
  const app = path.join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-service', version: '1.0.0', private: true }));
  run(npm, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], app);
  expect(existsSync(path.join(app, 'node_modules', 'b2b-checkout', 'dist', 'src', 'client', 'index.d.ts'))).toBe(true);

  // 3. TypeScript sees the real types (a wrong argument is an error), through `exports`.
  writeFileSync(
    path.join(app, 'service.ts'),
    [
      "import { CheckoutClient, type StartedCheckout } from 'b2b-checkout';",
      "import { CART_ID_PATTERN, checkoutWorkflowId } from 'b2b-checkout/contract';",
      'export function client(options: ConstructorParameters<typeof CheckoutClient>[0]): CheckoutClient {',
      '  return new CheckoutClient(options);',
      '}',
      'export const started = (s: StartedCheckout): string => s.checkoutId;',
      "export const id: string = checkoutWorkflowId('cart-1');",
      'export const pattern: RegExp = CART_ID_PATTERN;',
      '// @ts-expect-error a number is not the client options',
      'export const wrong = new CheckoutClient(42);',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [path.join(repo, 'node_modules', '@types')],
      },
      files: ['service.ts'],
    }),
  );
  run(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);

  // 4. Node requires and imports it; neither loads the worker, the launcher, the API or the logger.
  const probe = [
    "const { CheckoutClient } = require('b2b-checkout');",
    'const loaded = Object.keys(require.cache);',
    'const heavy = loaded.filter((f) => /@temporalio[\\\\/]worker|[\\\\/]stack[\\\\/]|[\\\\/]api[\\\\/]|fastify|pino|[\\\\/]src[\\\\/]worker\\.js/.test(f));',
    'console.log(JSON.stringify({ type: typeof CheckoutClient, heavy }));',
  ].join('\n');
  expect(JSON.parse(run(process.execPath, ['-e', probe], app))).toEqual({ type: 'function', heavy: [] });
  const esm = "import { CheckoutClient } from 'b2b-checkout'; console.log(typeof CheckoutClient);";
  expect(run(process.execPath, ['--input-type=module', '-e', esm], app).trim()).toBe('function');
}, 300_000);

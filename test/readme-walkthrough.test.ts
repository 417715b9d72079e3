/**
 * The README's walkthrough, as a new user follows it: the line `npm start` prints for a second shell
 * (stack/walkthrough.ts), then every shell block of the "Walkthrough" section, in order, in one bash,
 * against the API, a worker on the product's task queue, and the `temporal` CLI of this machine.
 * Asserts what the blocks say they do: the status codes the comments name, and the carts and
 * checkouts in MongoDB and Temporal afterwards. Needs `npm run build` first (`npm test` does it):
 * the blocks run `npx b2b-checkout`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildApi, type FastifyInstance } from '../src/api/app';
import type { ApiRole } from '../src/config';
import { TASK_QUEUE, checkoutWorkflowId, type CheckoutResult } from '../src/contract';
import { which } from '../stack/exec';
import { TOOLS_DIR } from '../stack/paths';
import { pasteLine } from '../stack/walkthrough';
import type { CheckoutWorker } from '../src/worker';
import { setupTestEnv, type TestEnv } from './harness/env';

const ROOT = path.join(__dirname, '..');
const TOKENS = { service: 'walkthrough-service-token-0123456789', admin: 'walkthrough-admin-token-0123456789' };

function temporalCli(): string | undefined {
  const candidates = [process.env.TEMPORAL_CLI_PATH, path.join(TOOLS_DIR, 'bin', 'temporal'), which('temporal')];
  return candidates.find((c): c is string => !!c && existsSync(c));
}
const cli = temporalCli();
const built = existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
if (!cli) console.warn('readme-walkthrough: no temporal CLI here (.tools/bin, TEMPORAL_CLI_PATH or PATH): skipped');
if (!built) console.warn('readme-walkthrough: dist/ is not built (npm run build): skipped');

/** The shell blocks of the README's Walkthrough section, in order. */
function walkthroughBlocks(readme: string): string[] {
  const start = readme.indexOf('\n## Walkthrough\n');
  if (start < 0) throw new Error('README.md has no "## Walkthrough" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

let env: TestEnv;
let api: FastifyInstance;
let worker: CheckoutWorker;
let running: Promise<void>;
beforeAll(async () => {
  env = await setupTestEnv('readme', { ownDatabase: true, taskQueue: TASK_QUEUE });
  worker = await env.newWorker();
  running = worker.worker.run();
  api = await buildApi({
    checkout: env.checkout,
    temporal: env.client,
    db: env.mongo.db,
    tokens: new Map<string, ApiRole>([
      [TOKENS.service, 'service'],
      [TOKENS.admin, 'admin'],
    ]),
  });
  await api.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await api?.close();
  worker?.worker.shutdown();
  await running;
  await env?.close();
});

(cli && built ? test : test.skip)(
  'every block of the README walkthrough runs after the line npm start prints, and does what its comments say',
  async () => {
    const blocks = walkthroughBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const line = pasteLine({
      api: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`,
      tokens: TOKENS,
      temporal: process.env.TEMPORAL_ADDRESS!,
      mongoUri: env.mongoUri,
      mongoDb: env.mongoDb,
      cli: { kind: 'binary', path: cli!, source: 'tools' },
    });
    const script = ['set -euo pipefail', line, ...blocks].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });

    // The HTTP story: every status its comments name, in order (the cart's creation is read by sed, not printed).
    const statuses = stdout
      .split('\n')
      .map((l) => / (\d{3})$/.exec(l)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number);
    expect(statuses).toEqual([200, 200, 200, 201, 201, 202, 201, 202, 201, 403, 200]);
    const httpCart = await env.carts.findOne({ accountId: 'acct-1', _id: { $nin: ['cart-42', 'CART123'] } });
    expect(httpCart?.status).toBe('Closed');
    expect(httpCart?.items?.map((i) => `${i.sku}:${i.quantity}`).sort()).toEqual(['SKU-1:2', 'SKU-2:1', 'SKU-9:1']);

    // The CLI: the add-item repeated with one request id added once; the cancel found nothing running.
    const cart42 = await env.carts.findOne({ _id: 'cart-42' });
    expect(cart42?.status).toBe('Active');
    expect(cart42?.items?.map((i) => `${i.sku}:${i.quantity}`).sort()).toEqual(['SKU-1:2', 'SKU-2:1', 'SKU-3:1']);
    expect(cart42?.archivedSessions?.at(-1)?.cancelReason).toBe('ADD_TO_CART');

    // Through Temporal alone: the signal cancelled the checkout and the cart is Active again.
    const result = (await env.client.workflow.getHandle(checkoutWorkflowId('CART123')).result()) as CheckoutResult;
    expect(result.outcome).toBe('CANCELED');
    const cart123 = await env.carts.findOne({ _id: 'CART123' });
    expect(cart123?.status).toBe('Active');
    expect(cart123?.archivedSessions?.at(-1)).toMatchObject({ cancelReason: 'REQUESTED', canceledBy: 'billing-service' });
  },
  240_000,
);

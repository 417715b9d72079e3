/**
 * A store's own system down (issue 15): the store's Inventory and Taxes providers (one http server
 * of the suite's, checking every call's signature) refuse connections, then answer 503, then come
 * back. Checkouts started meanwhile wait in their step (retried with backoff), orders sent meanwhile
 * wait for the steps, item changes cancel the checkouts stuck on the provider; once it is up every
 * checkout completes its steps with the provider's tax, and the invariants hold.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { checkoutWorkflowId } from '../../src/contract';
import { getCheckoutStateQuery } from '../../src/contract/messages';
import { freePort } from '../../stack/ports';
import { say, sleep, waitFor } from '../log';
import { ScenarioRun, ensureWorkers, type Options, type ScenarioResult } from '../scenario';
import type { FaultStack } from '../stack';
import { ACCOUNT } from '../traffic';
import { guarded } from './servers';

const STORE = 'faults-integrations-store';
/** What the provider answers for Taxes once it is up: every order's session must carry it. */
const TAX_CENTS = 321;

type ProviderState = 'refusing' | 'failing' | 'up';

/** The store's provider: not listening (connection refused), answering 503, or answering the contract's JSON. */
class OutageProvider {
  state: ProviderState = 'refusing';
  readonly secret = randomUUID();
  calls = 0;
  badSignatures = 0;
  private server?: Server;

  private constructor(readonly port: number) {}

  static async reserve(): Promise<OutageProvider> {
    return new OutageProvider(await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/step`;
  }

  async listen(state: Exclude<ProviderState, 'refusing'>): Promise<void> {
    this.state = state;
    if (this.server) return;
    const server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    this.calls++;
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const given = Buffer.from(String(req.headers['x-signature'] ?? '').replace(/^sha256=/, ''), 'hex');
    const expected = createHmac('sha256', this.secret).update(raw).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.badSignatures++;
      return reply(401, { message: 'bad signature' });
    }
    if (this.state !== 'up') return reply(503, { message: 'maintenance' });
    const step = (JSON.parse(raw.toString('utf8')) as { step?: string }).step;
    reply(200, step === 'Taxes' ? { tax: TAX_CENTS } : { available: true });
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function phaseOf(stack: FaultStack, cartId: string): Promise<string | undefined> {
  return (
    await stack.client.workflow
      .getHandle(checkoutWorkflowId(cartId))
      .query(getCheckoutStateQuery)
      .catch(() => undefined)
  )?.phase;
}

export function providerOutage(stack: FaultStack, options: Options, outageMs: number): Promise<ScenarioResult> {
  const run = new ScenarioRun(
    stack,
    'provider-outage',
    `the store's Inventory and Taxes providers down for ${outageMs / 1000} s (connection refused, then 503) with checkouts, orders and item changes in flight, then up`,
    options,
  );
  return guarded(run, async () => {
    await ensureWorkers(stack, 2);
    const provider = await OutageProvider.reserve();
    try {
      await run.traffic.admin('PUT', `/webstores/${STORE}`, { name: 'Fault suite store with its own systems' });
      await run.traffic.admin('PUT', `/webstores/${STORE}/members/${ACCOUNT}`);
      for (const step of ['Inventory', 'Taxes']) {
        await run.traffic.admin('PUT', `/webstores/${STORE}/integrations/${step}`, {
          type: 'http',
          url: provider.url,
          secret: provider.secret,
          timeoutMs: 1000,
        });
      }
      const n = options.quick ? 3 : 6;
      const carts: string[] = [];
      for (let i = 0; i < n; i++) carts.push(await run.traffic.newCart('setup', STORE));

      const downAt = Date.now();
      const fault = run.fault('outage', 'store provider (Inventory, Taxes)', downAt, { phase: `${n} checkouts started during it` });
      for (const cartId of carts) await run.traffic.start('buyer', cartId, { retryForMs: 30000 });
      // Meanwhile: an order waits for the steps; an item change cancels the checkout stuck on the provider, then checks out again.
      const inFlight = carts.map(async (cartId, i) => {
        if (i % 3 === 0) return run.traffic.order(`buyer-${i}`, cartId, { retryForMs: outageMs + 120000 });
        if (i % 3 === 1) {
          await run.traffic.changeItem(`buyer-${i}`, cartId, 'add', `buyer-${i}-a`, 1, { key: `outage-${cartId}`, retryForMs: 60000 });
          return run.traffic.start(`buyer-${i}`, cartId, { retryForMs: 30000 });
        }
        return undefined;
      });
      await sleep(outageMs / 2);
      await provider.listen('failing');
      await sleep(outageMs / 2);
      await provider.listen('up');
      const liveAt = Date.now();
      await Promise.all(inFlight);
      const doneAt = await waitFor(
        async () => {
          for (const cartId of carts) {
            const doc = await stack.carts.findOne({ _id: cartId });
            if (doc?.status !== 'Closed' && (await phaseOf(stack, cartId)) !== 'READY') return undefined;
          }
          return Date.now();
        },
        120000,
        250,
      );
      run.recovered(fault, downAt, liveAt, doneAt);
      for (const [i, cartId] of carts.entries()) if (i % 3 !== 0) await run.traffic.order(`buyer-${i}`, cartId, { retryForMs: 60000 });
      // Every order carries the provider's tax, not the builtin's.
      const closed = await stack.carts.find({ _id: { $in: carts }, status: 'Closed' }).toArray();
      const wrongTax = closed.filter((doc) => doc.archivedSessions?.find((s) => s.orderId === doc.orderId)?.totals?.tax !== TAX_CENTS).map((d) => d._id);
      say(`  provider: ${provider.calls} calls, ${provider.badSignatures} with a bad signature; ${closed.length} orders, ${wrongTax.length} without its tax`);
      if (provider.badSignatures > 0) throw new Error(`${provider.badSignatures} calls to the provider carried a bad signature`);
      if (wrongTax.length > 0) throw new Error(`orders without the provider's tax: ${wrongTax.join(', ')}`);
    } finally {
      await provider.close();
    }
  });
}

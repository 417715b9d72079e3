/**
 * Webhooks (issue 12) on the real stack: a store subscribes through the admin routes, and the
 * subscription's workflow POSTs the store's events to a local receiver (node:http on 127.0.0.1) that
 * checks every signature and records what it got. Outcomes: what the receiver got and answered, the
 * subscription as GET shows it, the workflow's history. The pause after a day of failures runs in
 * the time-skipping test server, with the real activities, MongoDB and receiver.
 */
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookActivities } from '../activities/webhooks';
import { CART_EVENT_TYPES, WEBHOOK_DELIVERY, webhookWorkflowId, type WebhookDelivery, type CartEventType } from '../src/contract';
import { dataConverter } from '../src/data-converter';
import { Directory, WebhookStore, type EventDoc } from '../src/db';
import { WebhookService } from '../src/webhooks';
import { eventually, setupTestEnv, type TestEnv } from './harness/env';
import { runsOf, type ActivityRun } from './harness/history';
import { ADMIN_TOKEN, SERVICE_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';
import { signatureMatches } from './harness/provider';
import { setupTimeSkipping, type TimeSkippingEnv } from './harness/timeskip';

const SECRET = 'webhook-secret-0123456789';

/** One POST as the receiver got it. */
interface Received {
  id: string | undefined;
  body: WebhookDelivery;
  signatureOk: boolean;
  /** What it answered; undefined while held (or when the sender gave up first). */
  status?: number;
}

/** What the receiver answers a POST: a status, or `hold` (no answer until `release()`). */
type Answer = number | 'hold';

/** A store's webhook receiver: checks each signature under its secret, records every POST. */
class Receiver {
  readonly received: Received[] = [];
  private held: (() => void)[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(respond: (r: Received, nth: number) => Answer = () => 200, secret = SECRET): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void receiver.handle(req, res, secret, respond));
    receivers.push(receiver);
    return receiver;
  }

  /** The ids answered 2xx, in order. */
  get delivered(): string[] {
    return this.received.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300).map((r) => r.id!);
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  private async handle(req: IncomingMessage, res: ServerResponse, secret: string, respond: (r: Received, nth: number) => Answer) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const r: Received = {
      id: req.headers['webhook-id'] as string | undefined,
      body: JSON.parse(raw.toString('utf8')) as WebhookDelivery,
      signatureOk: signatureMatches(req.headers['webhook-signature'], raw, secret),
    };
    this.received.push(r);
    const answer = r.signatureOk ? respond(r, this.received.filter((x) => x.id === r.id).length) : 401;
    const send = (status: number) => {
      r.status = status;
      res.writeHead(status).end();
    };
    if (answer === 'hold') this.held.push(() => send(200));
    else send(answer);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let env: TestEnv;
let api: RunningTestApi;
let feed: WebhookStore;
const receivers: Receiver[] = [];
const workflowIds: string[] = [];

beforeAll(async () => {
  // A database of its own: the tests append to the event feed, whose cursor no other file may share.
  env = await setupTestEnv('webhooks', { ownDatabase: true });
  feed = new WebhookStore(env.mongo.db);
  await feed.ensureIndexes();
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db });
});
afterAll(async () => {
  // Subscriptions outlive a test; their workflows are ended here so none waits on a queue nobody polls.
  for (const id of workflowIds)
    await env?.client.workflow
      .getHandle(id)
      .terminate('test file done')
      .catch(() => undefined);
  await api?.close();
  for (const r of receivers) await r.close();
  await env?.close();
});

const admin = (method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) =>
  call(api.base, path, { method, token, account: null, body });

async function newStore(buyers: string[] = []): Promise<string> {
  const store = `store-wh-${randomUUID().slice(0, 8)}`;
  await setupDirectory(api.base, store, buyers);
  return store;
}

async function subscribe(store: string, name: string, url: string, types: CartEventType[] = ['checkout.started', 'order.placed']) {
  const res = await admin('PUT', `/webstores/${store}/webhooks/${name}`, { url, secret: SECRET, types });
  expect(res.status).toBe(200);
  workflowIds.push(webhookWorkflowId(store, name));
  return res.body;
}

/** Appends events to the feed the way the relay does: the next cursors, no gaps. */
async function appendEvents(events: { type: CartEventType; cartId: string; webstoreId?: string }[]): Promise<EventDoc[]> {
  const docs: EventDoc[] = [];
  let cursor = await feed.latestCursor();
  const seq = new Map<string, number>();
  for (const e of events) {
    const n = (seq.get(e.cartId) ?? (await feed.feed.countDocuments({ cartId: e.cartId }))) + 1;
    seq.set(e.cartId, n);
    const doc: EventDoc = { _id: ++cursor, eventId: `${e.cartId}:${n}`, type: e.type, cartId: e.cartId, at: new Date(), data: { n } };
    if (e.webstoreId !== undefined) doc.webstoreId = e.webstoreId;
    await feed.feed.insertOne(doc);
    docs.push(doc);
  }
  return docs;
}

const idsOf = (docs: EventDoc[]) => docs.map((d) => d.eventId);
const getHook = async (store: string, name: string) => (await admin('GET', `/webstores/${store}/webhooks/${name}`)).body;
const until = (what: string, check: () => boolean, timeoutMs?: number) => eventually(what, async () => (check() ? true : undefined), timeoutMs);

describe('routes', () => {
  test('admin only; bad input is 400; GET never shows the secret; list; DELETE', async () => {
    const store = await newStore();
    const path = `/webstores/${store}/webhooks/erp`;
    const good = { url: 'https://erp.example.com/hooks', secret: SECRET, types: ['order.placed'] };

    expect((await admin('PUT', path, good, SERVICE_TOKEN)).body).toEqual([{ errorCode: 'INSUFFICIENT_ACCESS', message: 'This route needs an admin token.' }]);
    expect((await admin('PUT', path, good, null)).status).toBe(401);
    for (const [body, why] of [
      [{ ...good, url: 'ftp://erp.example.com' }, /url must be an absolute http/],
      [{ ...good, url: 'https://user:pw@erp.example.com' }, /credentials/],
      [{ ...good, secret: 'short' }, /secret/],
      [{ ...good, types: ['cart.exploded'] }, /types/],
      [{ ...good, types: [] }, /types/],
      [{ ...good, extra: 1 }, /additional/],
      [{ url: good.url, types: good.types }, /secret/],
    ] as const) {
      const res = await admin('PUT', path, body);
      expect(res.status).toBe(400);
      expect(res.body[0].errorCode).toBe('INVALID_INPUT');
      expect(res.body[0].message).toMatch(why);
    }
    expect((await admin('PUT', `/webstores/${store}/webhooks/bad:name`, good)).status).toBe(400);
    expect((await admin('PUT', `/webstores/store-nobody-made/webhooks/erp`, good)).body[0].errorCode).toBe('NOT_FOUND');
    expect((await admin('GET', path)).status).toBe(404);

    workflowIds.push(webhookWorkflowId(store, 'erp'));
    const put = await admin('PUT', path, good);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      webstoreId: store,
      name: 'erp',
      url: good.url,
      types: ['order.placed'],
      status: 'active',
      workflowId: `webhook-${store}:erp`,
    });
    const got = await admin('GET', path);
    expect(got.body).toEqual(put.body);
    expect(JSON.stringify(got.body)).not.toContain(SECRET);
    expect((await admin('GET', `/webstores/${store}/webhooks`)).body).toEqual({ webhooks: [put.body] });
    // Resume answers the subscription (an active one is only woken); an unknown one is 404.
    expect(await admin('POST', `${path}/resume`)).toMatchObject({ status: 200, body: { name: 'erp', status: 'active' } });
    expect((await admin('POST', `/webstores/${store}/webhooks/nobody/resume`)).status).toBe(404);

    expect((await admin('DELETE', path)).body).toEqual({ webstoreId: store, name: 'erp', deleted: true });
    expect((await admin('DELETE', path)).body).toEqual({ webstoreId: store, name: 'erp', deleted: false });
    expect((await admin('GET', path)).status).toBe(404);
    expect((await admin('GET', `/webstores/${store}/webhooks`)).body).toEqual({ webhooks: [] });
  });
});

describe('delivery', () => {
  test('events of the subscribed types and store, in cursor order, signed, with their ids; the cursor shows on GET', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore();
      const receiver = await Receiver.start();
      await subscribe(store, 'orders', receiver.url);
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const events = await appendEvents([
        { type: 'checkout.started', cartId: a, webstoreId: store },
        { type: 'checkout.started', cartId: b, webstoreId: store },
        { type: 'cart.items_changed', cartId: a, webstoreId: store },
        { type: 'checkout.started', cartId: c, webstoreId: 'another-store' },
        { type: 'order.placed', cartId: b, webstoreId: store },
        { type: 'checkout.canceled', cartId: a, webstoreId: store },
        { type: 'checkout.started', cartId: a, webstoreId: store },
        { type: 'order.placed', cartId: a, webstoreId: store },
      ]);
      const expected = events.filter((e) => e.webstoreId === store && ['checkout.started', 'order.placed'].includes(e.type));

      await until('every matching event', () => receiver.delivered.length >= expected.length);
      expect(receiver.delivered).toEqual(idsOf(expected));
      expect(receiver.received.every((r) => r.signatureOk && r.id === r.body.id)).toBe(true);
      expect(receiver.received[0].body).toEqual({
        id: expected[0].eventId,
        type: 'checkout.started',
        cartId: a,
        webstoreId: store,
        at: expected[0].at.toISOString(),
        data: { n: 1 },
      });
      await eventually('the cursor on GET', async () => ((await getHook(store, 'orders')).cursor === String(expected.at(-1)!._id) ? true : undefined));

      // The types filter follows a PUT: now only checkout.canceled, from the cursor on.
      await subscribe(store, 'orders', receiver.url, ['checkout.canceled']);
      const more = await appendEvents([
        { type: 'order.placed', cartId: b, webstoreId: store },
        { type: 'checkout.canceled', cartId: c, webstoreId: store },
      ]);
      await until('the canceled event', () => receiver.delivered.length === expected.length + 1);
      expect(receiver.delivered.at(-1)).toBe(more[1].eventId);
    });
  });

  test('a 500 is redelivered with the same id, and nothing after it goes before it', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore();
      // The 1st and the 3rd event are refused once each.
      const receiver = await Receiver.start((r, nth) => ([1, 3].includes(r.body.data.n as number) && nth === 1 ? 500 : 200));
      await subscribe(store, 'erp', receiver.url, ['checkout.started']);
      const cartId = randomUUID();
      const events = await appendEvents([1, 2, 3, 4].map(() => ({ type: 'checkout.started' as const, cartId, webstoreId: store })));

      await until('all four', () => receiver.delivered.length === 4);
      const ids = idsOf(events);
      expect(receiver.received.map((r) => [r.id, r.status])).toEqual([
        [ids[0], 500],
        [ids[0], 200],
        [ids[1], 200],
        [ids[2], 500],
        [ids[2], 200],
        [ids[3], 200],
      ]);
      const runs = runsOf(await env.client.workflow.getHandle(webhookWorkflowId(store, 'erp')).fetchHistory(), 'deliverWebhookEvents');
      // A failure before any progress fails the activity: Temporal retried it after its backoff.
      const retried = runs.find((r) => Number(r.started?.activityTaskStartedEventAttributes?.attempt) === 2);
      expect(retried?.started?.activityTaskStartedEventAttributes?.lastFailure).toMatchObject({
        message: `${ids[0]}: answered 500`,
        applicationFailureInfo: { type: 'WEBHOOK_DELIVERY_FAILED', nonRetryable: false },
      });
      // A failure after some progress ends the run with that progress; the next run starts at the failed event.
      const results = runs.map((r) => {
        const data = r.completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
        return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
      });
      expect(results).toContainEqual(
        expect.objectContaining({
          delivered: 2,
          cursor: events[1]._id,
          more: true,
          failure: expect.objectContaining({ eventId: ids[2], message: 'answered 500' }),
        }),
      );
    });
  });

  test('a worker stopped mid-stream: a new worker delivers the rest, nothing lost, only same-id redeliveries', async () => {
    const store = await newStore();
    const cartIds = [randomUUID(), randomUUID()];
    // The 8th event is held unanswered the first time: the stop comes while it is in flight.
    const receiver = await Receiver.start((r, nth) => (r.id === held && nth === 1 ? 'hold' : 200));
    await subscribe(store, 'wms', receiver.url, ['cart.items_changed']);
    const events = await appendEvents(
      Array.from({ length: 16 }, (_, i) => ({ type: 'cart.items_changed' as const, cartId: cartIds[i % 2], webstoreId: store })),
    );
    const held = events[7].eventId;

    // runUntil stops the worker once the held event is in flight (and also when the wait fails).
    const first = await env.newWorker();
    await first.worker.runUntil(until('the held event', () => receiver.received.some((r) => r.id === held)));
    receiver.release();

    const second = await env.newWorker();
    await second.worker.runUntil(until('every event', () => new Set(receiver.delivered).size === events.length, 60_000));
    const firstSeen = [...new Set(receiver.received.map((r) => r.id))];
    expect(firstSeen).toEqual(idsOf(events));
    // Order per cart in what was answered 2xx, once duplicates (same-id redeliveries) are set aside.
    for (const cartId of cartIds) {
      const delivered = [...new Set(receiver.delivered)].filter((id) => id.startsWith(cartId));
      expect(delivered).toEqual(idsOf(events.filter((e) => e.cartId === cartId)));
    }
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
  });

  test('deleting a subscription ends its workflow', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore();
      const receiver = await Receiver.start();
      await subscribe(store, 'gone', receiver.url);
      const handle = env.client.workflow.getHandle(webhookWorkflowId(store, 'gone'));
      expect((await admin('DELETE', `/webstores/${store}/webhooks/gone`)).body.deleted).toBe(true);
      expect(await handle.result()).toMatchObject({ webstoreId: store, name: 'gone', ended: 'DELETED' });
    });
  });
});

describe('an idle subscription: one delivery activity waits for the next event', () => {
  const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

  /** The subscription's delivery activity while it runs (waiting for events, once caught up). */
  const waitingDelivery = (store: string, name: string) =>
    eventually('the delivery run waiting', async () => {
      const { raw } = await env.client.workflow.getHandle(webhookWorkflowId(store, name)).describe();
      return raw.pendingActivities?.find((a) => a.activityType?.name === 'deliverWebhookEvents' && a.state === STARTED) ?? undefined;
    });

  const resultOf = (run: ActivityRun) => {
    const data = run.completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
    return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { delivered: number; more: boolean }) : undefined;
  };

  test('caught up for ten reads of the feed: at most one more delivery activity, and no timers', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore();
      const receiver = await Receiver.start();
      await subscribe(store, 'idle', receiver.url, ['order.placed']);
      await appendEvents([{ type: 'order.placed', cartId: randomUUID(), webstoreId: store }]);
      await until('the event', () => receiver.delivered.length === 1);
      const handle = env.client.workflow.getHandle(webhookWorkflowId(store, 'idle'));
      const scheduled = async () => runsOf(await handle.fetchHistory(), 'deliverWebhookEvents').length;
      const before = await scheduled();

      // Waited on the run's own progress: its heartbeats count the feed reads it made while waiting.
      // Ten reads (about 3 s) with a 1 s poll on a timer would have been 3 new activities and 3 timers.
      await eventually('the waiting run has read the feed 10 times', async () => {
        const pending = await waitingDelivery(store, 'idle');
        const data = pending.heartbeatDetails?.payloads?.[0]?.data;
        const beat = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { reads?: number }) : undefined;
        return (beat?.reads ?? 0) >= 10 ? true : undefined;
      });
      expect((await scheduled()) - before).toBeLessThanOrEqual(1);
      const history = await handle.fetchHistory();
      expect(history.events?.filter((e) => e.timerStartedEventAttributes)).toEqual([]);
    });
  });

  test('an event recorded while the run waits is delivered by that same run, with no new activity first', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const store = await newStore();
      const receiver = await Receiver.start();
      await subscribe(store, 'waits', receiver.url, ['order.placed']);
      const waiting = await waitingDelivery(store, 'waits');
      const [event] = await appendEvents([{ type: 'order.placed', cartId: randomUUID(), webstoreId: store }]);
      await until('the event', () => receiver.delivered.length === 1);
      expect(receiver.delivered).toEqual([event.eventId]);

      const handle = env.client.workflow.getHandle(webhookWorkflowId(store, 'waits'));
      const runs = await eventually('the delivering run completed', async () => {
        const all = runsOf(await handle.fetchHistory(), 'deliverWebhookEvents');
        return all.some((r) => resultOf(r)?.delivered === 1) ? all : undefined;
      });
      // The first delivery activity of the subscription, on its first attempt, is the one that waited and delivered it.
      const history = await handle.fetchHistory();
      const scheduledAs = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityId === waiting.activityId);
      expect(Number(scheduledAs?.eventId)).toBe(runs[0].scheduledEventId);
      expect(resultOf(runs[0])).toMatchObject({ delivered: 1, cursor: event._id, more: false });
      expect(Number(runs[0].started?.activityTaskStartedEventAttributes?.attempt)).toBe(1);
    });
  });

  // Well under the run's 60 s wait: the shutdown cancels the waiting run instead of waiting it out.
  test(
    'a worker shut down while its subscription waits stops promptly',
    async () => {
      const w = await env.newWorker();
      const running = w.worker.run();
      const store = await newStore();
      const receiver = await Receiver.start();
      await subscribe(store, 'shutdown', receiver.url, ['order.placed']);
      await waitingDelivery(store, 'shutdown');
      w.worker.shutdown();
      await running;
      expect(w.worker.getState()).toBe('STOPPED');
    },
    WEBHOOK_DELIVERY.idleWaitMs / 2,
  );
});

describe('end to end: real checkouts, the relay, and a worker restart', () => {
  test("a cart's story reaches the receiver in the feed's order, nothing lost across the restart", async () => {
    const store = await newStore(['acct-1']);
    const receiver = await Receiver.start();
    await subscribe(store, 'all', receiver.url, [...CART_EVENT_TYPES]);
    const buyer = (method: string, path: string, body?: unknown) => call(api.base, path, { method, body });
    const relayOften = { relayEvents: { pollMs: 50 } };

    // First half: a checkout that an add to cart cancels.
    const first = await env.newWorker(relayOften);
    const cartId = (await buyer('POST', `/webstores/${store}/carts`)).body.cartId as string;
    await first.worker.runUntil(async () => {
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-1', quantity: 2 })).status).toBe(201);
      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      expect((await buyer('POST', `/carts/${cartId}/items`, { sku: 'SKU-2', quantity: 1 })).body.canceledCheckout).toBe(true);
      await until('the cancel delivered', () => receiver.received.some((r) => r.body.type === 'checkout.canceled'));
    });

    // Second half, on a new worker: a checkout that ends in an order.
    const second = await env.newWorker(relayOften);
    await second.worker.runUntil(async () => {
      expect((await buyer('POST', `/carts/${cartId}/checkouts`)).status).toBe(202);
      expect((await buyer('POST', `/carts/${cartId}/checkouts/active/orders`)).status).toBe(201);
      await until('the order delivered', () => receiver.delivered.some((id) => receiver.received.find((r) => r.id === id)?.body.type === 'order.placed'));
    });

    const feedEvents = await feed.feed.find({ cartId }).sort({ _id: 1 }).toArray();
    expect(feedEvents.map((e) => e.type)).toEqual(expect.arrayContaining(['checkout.started', 'checkout.canceled', 'order.placed']));
    expect([...new Set(receiver.delivered)]).toEqual(idsOf(feedEvents));
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
    const order = receiver.received.find((r) => r.body.type === 'order.placed')!;
    expect(order.body).toMatchObject({ cartId, webstoreId: store, data: { orderId: expect.any(String) } });
  });
});

describe('a subscription failing for a day (time-skipping server)', () => {
  let ts: TimeSkippingEnv;
  beforeAll(async () => {
    ts = await setupTimeSkipping();
  });
  afterAll(async () => {
    await ts?.close();
  });

  /** The webhook service on the time-skipping server, and a worker of the real webhook activities (MongoDB, HTTP). */
  async function timeSkippingWebhooks(deps: { maxWaiting?: number } = {}) {
    const taskQueue = `timeskip-webhooks-${randomUUID().slice(0, 8)}`;
    const service = new WebhookService(feed, new Directory(env.mongo.db), ts.env.client, taskQueue);
    const worker = await Worker.create({
      connection: ts.env.nativeConnection,
      namespace: ts.env.namespace ?? 'default',
      taskQueue,
      workflowBundle: ts.bundle,
      // Caught up, a run waits only briefly: skipped time does not pass while the test server runs an activity.
      activities: createWebhookActivities({ webhooks: feed, idleWaitMs: 100, ...deps }),
      dataConverter,
    });
    return { service, worker };
  }

  test('is paused (status, pausedAt, lastError), and a PUT with a working url resumes it from the failed event', async () => {
    const store = await newStore();
    const failing = await Receiver.start(() => 503);
    const { service, worker } = await timeSkippingWebhooks();
    await worker.runUntil(async () => {
      const settings = { url: failing.url, secret: SECRET, types: ['order.placed'] };
      await service.put(store, 'erp', settings);
      const events = await appendEvents([1, 2].map(() => ({ type: 'order.placed' as const, cartId: randomUUID(), webstoreId: store })));
      await until('a first failed delivery', () => failing.received.length > 0);

      await ts.env.sleep(WEBHOOK_DELIVERY.pauseAfterMs - 60 * 60 * 1000);
      expect((await service.get(store, 'erp')).status).toBe('active');
      await ts.env.sleep(2 * 60 * 60 * 1000);
      const paused = await eventually('the pause', async () => {
        const view = await service.get(store, 'erp');
        return view.status === 'paused' ? view : undefined;
      });
      expect(paused).toMatchObject({ cursor: String(events[0]._id - 1), lastError: { eventId: events[0].eventId, message: 'answered 503' } });
      expect(paused.pausedAt).toBeDefined();
      // Retried all day, about once a minute once the backoff reached its maximum; then no more.
      expect(failing.received.length).toBeGreaterThan(20 * 60);
      expect(new Set(failing.received.map((r) => r.id))).toEqual(new Set([events[0].eventId]));
      const attempts = failing.received.length;
      await ts.env.sleep(60 * 60 * 1000);
      expect(failing.received.length).toBe(attempts);

      const working = await Receiver.start();
      await service.put(store, 'erp', { ...settings, url: working.url });
      await until('both events', () => working.delivered.length === 2);
      expect(working.delivered).toEqual(idsOf(events));
      const resumed = await eventually('active again', async () => {
        const view = await service.get(store, 'erp');
        return view.status === 'active' && view.cursor === String(events[1]._id) ? view : undefined;
      });
      expect(resumed.pausedAt).toBeUndefined();
      expect(resumed.lastError).toBeUndefined();

      await service.remove(store, 'erp');
      const result = await ts.env.client.workflow.getHandle(webhookWorkflowId(store, 'erp')).result();
      expect(result).toMatchObject({ ended: 'DELETED' });
    });
    // About 1,500 failed attempts run for real, each in skipped time: longer than the other tests.
  }, 300_000);

  test('continues as new after its rounds, carrying its cursor; the new run delivers on', async () => {
    const store = await newStore();
    const receiver = await Receiver.start();
    const { service, worker } = await timeSkippingWebhooks();
    await worker.runUntil(async () => {
      await service.put(store, 'can', { url: receiver.url, secret: SECRET, types: ['order.placed'] });
      const handle = ts.env.client.workflow.getHandle(webhookWorkflowId(store, 'can'));
      const firstRunId = (await handle.describe()).runId;
      const [first] = await appendEvents([{ type: 'order.placed', cartId: randomUUID(), webstoreId: store }]);
      await until('the first event', () => receiver.delivered.length === 1);

      // Caught up, each run waits 100 ms (this worker's idleWaitMs) and the next starts at once: soon more rounds than a run holds.
      await eventually('a new run', async () => ((await handle.describe()).runId !== firstRunId ? true : undefined), 90_000);
      const history = await ts.env.client.workflow.getHandle(webhookWorkflowId(store, 'can'), firstRunId).fetchHistory();
      const continued = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
      const input = JSON.parse(Buffer.from(continued!.input!.payloads![0].data!).toString('utf8'));
      expect(input).toEqual({ webstoreId: store, name: 'can', cursor: first._id });

      const [second] = await appendEvents([{ type: 'order.placed', cartId: randomUUID(), webstoreId: store }]);
      await until('the second event', () => receiver.delivered.length === 2);
      expect(receiver.delivered).toEqual([first.eventId, second.eventId]);
      await service.remove(store, 'can');
      expect(await handle.result()).toMatchObject({ ended: 'DELETED', cursor: second._id });
    });
  });

  test('a worker with no room for another waiting run: the subscription polls on a timer instead, and delivers on', async () => {
    const store = await newStore();
    const receiver = await Receiver.start();
    const { service, worker } = await timeSkippingWebhooks({ maxWaiting: 0 });
    await worker.runUntil(async () => {
      await service.put(store, 'busy', { url: receiver.url, secret: SECRET, types: ['order.placed'] });
      const handle = ts.env.client.workflow.getHandle(webhookWorkflowId(store, 'busy'));
      await ts.env.sleep(5 * WEBHOOK_DELIVERY.busyPollMs);
      const [event] = await appendEvents([{ type: 'order.placed', cartId: randomUUID(), webstoreId: store }]);
      await until('the event', () => receiver.delivered.length === 1);
      expect(receiver.delivered).toEqual([event.eventId]);

      const history = await handle.fetchHistory();
      const results = runsOf(history, 'deliverWebhookEvents').map((r) => {
        const data = r.completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
        return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
      });
      expect(results).toContainEqual(expect.objectContaining({ busy: true, delivered: 0 }));
      expect(history.events?.some((e) => e.timerStartedEventAttributes)).toBe(true);
      await service.remove(store, 'busy');
      expect(await handle.result()).toMatchObject({ ended: 'DELETED', cursor: event._id });
    });
  });
});

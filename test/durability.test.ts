/**
 * Crash durability of the servers `npm start` keeps its data in: every write a server acknowledged is
 * there after the server process is SIGKILLed (no shutdown hook, no final commit) and restarted on
 * the same file. Each test starts servers of its own on temporary files, also when MONGODB_URI /
 * TEMPORAL_ADDRESS name other servers; without the binaries to start them it is skipped.
 */
import { Client, Connection } from '@temporalio/client';
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CartRepository, cartsCollection, ensureCartIndexes, type CartDoc, connectMongo, durableWrites } from '../src/db';
import { which } from '../stack/exec';
import { startMongoServer, type MongoServerHandle } from '../stack/mongo-server';
import { TOOLS_DIR } from '../stack/paths';
import { freePort } from '../stack/ports';
import { ensureMongoServer, ensureTemporalCli, machineCacheDir, TEMPORAL_CLI_VERSION } from '../stack/provision';
import { startTemporalDevServer, type DevServer } from '../stack/temporal-server';
import { crash } from './harness/crash';
import type { DurabilityActivities } from './harness/durability-workflows';
import { newCartId, quietRuntime } from './harness/env';

const quiet = () => undefined;
const canRunJavaMongo = !!which('java') && (existsSync(path.join(TOOLS_DIR, 'mongo-java-server', 'stamp')) || (!!which('mvn') && !!which('javac')));
const canRunDevServer =
  !!process.env.TEMPORAL_CLI_PATH ||
  existsSync(path.join(TOOLS_DIR, 'bin', 'temporal')) ||
  existsSync(path.join(machineCacheDir(process.env), `temporal-${TEMPORAL_CLI_VERSION}`)) ||
  !!which('temporal') ||
  !!which('go');
if (!canRunJavaMongo) console.warn('durability: mongo-java-server cannot be started here (needs java, and mvn + javac to build it): its crash test is skipped');
if (!canRunDevServer) console.warn('durability: no Temporal CLI and no Go to build one: the dev server crash test is skipped');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'b2b-durability-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `work` over `items`, `inFlight` at a time. */
async function inParallel<T>(items: T[], inFlight: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: inFlight }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}

(canRunJavaMongo ? test : test.skip)('mongo-java-server (H2 file) keeps every acknowledged write through a SIGKILL', async () => {
  // mongo-java-server even when MONGODB_URI names another server or a mongod is on PATH: it is the one under test.
  const spec = await ensureMongoServer({ ...process.env, MONGODB_URI: undefined, MONGO_SERVER: 'java' }, quiet);
  if (spec.kind !== 'java') throw new Error(`expected mongo-java-server, got ${spec.kind}`);
  const dataDir = path.join(dir, 'mongo');
  // The durability npm start gets (MONGO_SYNC unset: fsync; off: commit without fsync, which a process crash doesn't lose either).
  let server: MongoServerHandle | undefined = await startMongoServer({ spec, host: '127.0.0.1', port: 0, dataDir });
  try {
    const acked = { inserts: [] as string[], carts: new Map<string, CartDoc>() };
    const conn = await connectMongo(server.uri, 'b2b_checkout_durability');
    try {
      const carts = cartsCollection(conn.db);
      await ensureCartIndexes(carts);
      const repo = new CartRepository(carts);
      const cartIds = Array.from({ length: 150 }, () => newCartId('durable'));
      const inserts = Array.from({ length: 1500 }, (_, i) => `insert-${i}`);
      const burst: Array<() => Promise<void>> = [
        ...inserts.map((id) => async () => {
          await conn.db.collection<{ _id: string }>('acks').insertOne({ _id: id });
          acked.inserts.push(id);
        }),
        ...cartIds.map((cartId, i) => async () => {
          let doc = await repo.create({ cartId, webstoreId: 'store-1', accountId: 'acct-1', items: [{ sku: 'SKU-1', quantity: 1 }] });
          if (i % 3 === 0) {
            // the checkout's lock, then the cancel's conditional update (cancelCartAsyncOperation)
            await repo.lock({ cartId, sessionId: `s-${cartId}`, workflowId: `checkout-${cartId}` });
            doc = (await repo.cancel({ cartId, sessionId: `s-${cartId}`, reason: 'REQUESTED', requestedBy: 'durability-test' })).doc;
          } else if (i % 3 === 1) {
            doc = (await repo.changeItems(cartId, { op: 'add', sku: 'SKU-2', quantity: 3 })).doc;
          }
          acked.carts.set(cartId, doc);
        }),
      ];
      // Interleaved, 32 at a time from many connections, so the last acknowledged writes are of every kind.
      const order = burst.map((run, i) => ({ run, key: (i * 7919) % burst.length })).sort((a, b) => a.key - b.key);
      await inParallel(order, 32, (item) => item.run());
    } finally {
      await conn.close();
    }

    // Right after the last acknowledgement, before any timer could commit it.
    await crash(server.process);
    server = await startMongoServer({ spec, host: '127.0.0.1', port: 0, dataDir });

    const after = await connectMongo(server.uri, 'b2b_checkout_durability');
    try {
      const found = await after.db
        .collection<{ _id: string }>('acks')
        .find({}, { projection: { _id: 1 } })
        .toArray();
      expect(new Set(found.map((d) => d._id))).toEqual(new Set(acked.inserts));
      const carts = await cartsCollection(after.db).find({}).toArray();
      const byId = new Map(carts.map((c) => [c._id, c]));
      const lost = [...acked.carts.values()].filter((want) => {
        const got = byId.get(want._id);
        return got?.version !== want.version || got?.status !== want.status || JSON.stringify(got?.items) !== JSON.stringify(want.items);
      });
      expect(lost.map((c) => c._id)).toEqual([]);
      expect(carts).toHaveLength(acked.carts.size);
      // The cancel's write is whole: cart Active, session archived as Canceled with its reason.
      const canceled = [...acked.carts.values()].filter((c) => (c.archivedSessions ?? []).length > 0);
      expect(canceled.length).toBe(50);
      for (const c of canceled) {
        expect(byId.get(c._id)?.archivedSessions?.[0]).toMatchObject({
          cancelReason: 'REQUESTED',
          backgroundOperation: { status: 'Canceled' },
        });
      }
    } finally {
      await after.close();
    }
  } finally {
    await server?.stop();
  }
});

(canRunDevServer ? test : test.skip)(
  'the Temporal dev server (SQLite file) keeps acknowledged signals and activity completions through a SIGKILL',
  async () => {
    const cli = await ensureTemporalCli(process.env, quiet);
    if (cli.kind !== 'binary') throw new Error('no Temporal CLI binary');
    quietRuntime();
    const dbFile = path.join(dir, 'temporal.sqlite');
    const port = await freePort();
    const start = () => startTemporalDevServer({ cliPath: cli.path, ip: '127.0.0.1', port, dbFile });
    let server: DevServer | undefined = await start();
    try {
      const taskQueue = 'durability';
      const ids = Array.from({ length: 8 }, () => newCartId('durable-wf'));
      const notes = ['a', 'b', 'c'];
      const tokens = new Map<string, Uint8Array>();
      const activities: DurabilityActivities = {
        async recordStep(id) {
          // Completed later through the client: that call returning is the server's acknowledgement.
          tokens.set(id, Context.current().info.taskToken);
          throw new CompleteAsyncError();
        },
      };
      const workflowBundle = await bundleWorkflowCode({
        workflowsPath: require.resolve('./harness/durability-workflows'),
        logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: (m: string) => console.error(m) },
      });
      const native = await NativeConnection.connect({ address: server.address });
      let connection = await Connection.connect({ address: server.address });
      let client = new Client({ connection });
      try {
        const worker = await Worker.create({ connection: native, taskQueue, workflowBundle, activities });
        await worker.runUntil(async () => {
          await Promise.all(ids.map((id) => client.workflow.start('durabilityProbeWorkflow', { taskQueue, workflowId: id, args: [id] })));
          const deadline = Date.now() + 60000;
          while (tokens.size < ids.length) {
            if (Date.now() > deadline) throw new Error(`only ${tokens.size} of ${ids.length} activities started`);
            await new Promise((r) => setTimeout(r, 50));
          }
        });
        // The worker is gone: no workflow task is in flight, so the signals go straight into the histories.
        await Promise.all(
          ids.map(async (id) => {
            await client.activity.complete(tokens.get(id)!, `done ${id}`);
            for (const note of notes) await client.workflow.getHandle(id).signal('note', note);
          }),
        );
      } finally {
        await connection.close();
        await native.close();
      }

      await crash(server.process);
      server = await start();

      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection });
      try {
        for (const id of ids) {
          const history = await client.workflow.getHandle(id).fetchHistory();
          const completions = history.events!.filter((e) => e.activityTaskCompletedEventAttributes);
          expect(completions).toHaveLength(1);
          const result = completions[0].activityTaskCompletedEventAttributes!.result!.payloads![0].data!;
          expect(Buffer.from(result).toString()).toBe(JSON.stringify(`done ${id}`));
          const signals = history.events!.flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes] : []));
          expect(signals.map((s) => [s.signalName, Buffer.from(s.input!.payloads![0].data!).toString()])).toEqual(
            notes.map((n) => ['note', JSON.stringify(n)]),
          );
        }
      } finally {
        await connection.close();
      }
    } finally {
      await server?.stop();
    }
  },
);

describe('write concern for a real MongoDB (durableWrites)', () => {
  test('majority where the URI names a replica set', () => {
    expect(durableWrites('mongodb://a:27017,b:27017/?replicaSet=rs0')).toEqual({ writeConcern: { w: 'majority' } });
    expect(durableWrites('mongodb://a:27017/?replicaset=rs0&retryWrites=true')).toEqual({ writeConcern: { w: 'majority' } });
    expect(durableWrites('mongodb+srv://cluster0.example.net/')).toEqual({ writeConcern: { w: 'majority' } });
    // What the driver makes of it, without connecting.
    const uri = 'mongodb://a:27017,b:27017/?replicaSet=rs0';
    expect(new MongoClient(uri, durableWrites(uri)).db('x').writeConcern?.w).toBe('majority');
  });
  test("the operator's own w in the URI wins; a standalone server is left alone", () => {
    expect(durableWrites('mongodb://a:27017/?replicaSet=rs0&w=1')).toEqual({});
    expect(durableWrites('mongodb://127.0.0.1:27017/')).toEqual({});
  });
});

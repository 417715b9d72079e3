/**
 * The MongoDB connection of the worker and the API after its server went away and came back on the
 * same address: it says so in the log, and it serves again even when the driver's own monitor has
 * stopped checking (seen in the fault suite: one worker process failed every step for minutes after a
 * MongoDB restart while the others had recovered). Each test starts a MongoDB server of its own,
 * also when MONGODB_URI names another one: the restart is the subject.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectMongo, type MongoConnection } from '../src/db';
import { which } from '../stack/exec';
import { startMongoServer, type MongoServerHandle } from '../stack/mongo-server';
import { TOOLS_DIR } from '../stack/paths';
import { ensureMongoServer } from '../stack/provision';
import { eventually } from './harness/env';

const canRunMongo = !!which('mongod') || (!!which('java') && (existsSync(path.join(TOOLS_DIR, 'mongo-java-server', 'stamp')) || !!which('mvn')));
if (!canRunMongo) console.warn('mongo-reconnect: no MongoDB server can be started here: skipped');

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

let server: MongoServerHandle | undefined;
let conn: MongoConnection | undefined;
afterEach(async () => {
  await conn?.close();
  await server?.stop();
  conn = server = undefined;
});

async function startServer(port = 0): Promise<MongoServerHandle> {
  const spec = await ensureMongoServer({ ...process.env, MONGODB_URI: undefined }, () => undefined);
  if (spec.kind === 'external') throw new Error('expected a server this test can start');
  return startMongoServer({ spec, host: '127.0.0.1', port });
}

function portOf(uri: string): number {
  return Number(new URL(uri).port);
}

/** Connects with a log kept in memory; stallMs short so that a stalled monitor is noticed within the test's wait. */
async function connect(uri: string, lines: Line[], stallMs?: number): Promise<MongoConnection> {
  const log =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, msg, fields });
  return connectMongo(uri, 'b2b_checkout_reconnect', {
    log: { info: log('info'), warn: log('warn') },
    serverSelectionTimeoutMS: 1000,
    ...(stallMs ? { stallMs } : {}),
  });
}

/** The document, once a read reaches the server; undefined (to wait on) while it fails. */
/** True once a write reaches the server; undefined (to wait on) while it fails. An upsert: a server with its data back already has the probe. */
async function writeProbe(c: MongoConnection): Promise<true | undefined> {
  return c.db
    .collection('probe')
    .replaceOne({ _id: 'p' as never }, { at: new Date() }, { upsert: true })
    .then(
      () => true as const,
      () => undefined,
    );
}

async function readBack(c: MongoConnection): Promise<true | undefined> {
  try {
    return (await c.db.collection('probe').findOne({ _id: 'p' as never })) ? true : undefined;
  } catch {
    return undefined;
  }
}

(canRunMongo ? test : test.skip)('a restarted server: the log says it was unreachable and reachable again, and reads serve again', async () => {
  const lines: Line[] = [];
  server = await startServer();
  conn = await connect(server.uri, lines);
  const port = portOf(server.uri);
  await conn.db.collection('probe').insertOne({ _id: 'p' as never });
  await server.stop();
  server = undefined;
  await eventually('the outage in the log', async () => lines.find((l) => l.msg === 'MongoDB server unreachable') ?? (await readBack(conn!), undefined));
  server = await startServer(port);
  // A memory-backed server starts empty: the probe is written again once the client reaches it.
  await eventually('a write after the restart', () => writeProbe(conn!));
  await eventually('the recovery in the log', async () => lines.find((l) => l.msg === 'MongoDB server reachable again'));
  expect(lines.find((l) => l.msg === 'MongoDB server unreachable')?.level).toBe('warn');
  expect(await readBack(conn)).toBe(true);
});

(canRunMongo ? test : test.skip)('a driver monitor that stopped checking: the client is reconnected and serves after the server restarted', async () => {
  const lines: Line[] = [];
  server = await startServer();
  conn = await connect(server.uri, lines, 2000);
  await conn.db.collection('probe').insertOne({ _id: 'p' as never });
  // What the fault suite saw, made certain: the monitor of the (only) server no longer checks.
  // Internal to the driver (6.x): the topology's servers each own a monitor.
  const topology = (conn.client as unknown as { topology: { s: { servers: Map<string, { monitor?: { close(): void } }> } } }).topology;
  for (const s of topology.s.servers.values()) s.monitor?.close();
  const port = portOf(server.uri);
  await server.stop();
  server = undefined;
  // An operation that fails on the network marks the server Unknown; only a monitor's check finds it again.
  expect(await readBack(conn)).toBeUndefined();
  server = await startServer(port);
  await eventually('a write after the restart', () => writeProbe(conn!));
  expect(await readBack(conn)).toBe(true);
  expect(lines.map((l) => l.msg)).toContain('MongoDB driver monitor stalled: reconnecting the client');
});

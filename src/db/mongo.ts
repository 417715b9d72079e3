import { MongoClient, type Db, type MongoClientOptions, type ServerDescriptionChangedEvent } from 'mongodb';

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** Where a connection says that its server went away, came back, or that the driver had to be restarted. */
export interface MongoEventLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface ConnectMongoOptions {
  log?: MongoEventLog;
  /** How long an operation waits for a reachable server before it fails (default 10 s). */
  serverSelectionTimeoutMS?: number;
  appName?: string;
  /** How long without a check of the driver's monitor means it is stuck (default 40 s); tests shorten it. */
  stallMs?: number;
}

/** The driver checks the server this often (the driver's own default, said here because the watchdog depends on it). */
const HEARTBEAT_MS = 10_000;
/** A check that gets no answer fails after this long. */
const CONNECT_TIMEOUT_MS = 10_000;

export async function connectMongo(uri: string, dbName: string, options: ConnectMongoOptions = {}): Promise<MongoConnection> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    heartbeatFrequencyMS: HEARTBEAT_MS,
    appName: options.appName ?? 'b2b-checkout',
    ...durableWrites(uri),
  });
  const watch = watchServer(client, options.log ?? silent, options.stallMs);
  try {
    await client.connect();
  } catch (err) {
    watch.stop();
    throw err;
  }
  return {
    client,
    db: client.db(dbName),
    close: async () => {
      watch.stop();
      await client.close();
    },
  };
}

const silent: MongoEventLog = { info: () => undefined, warn: () => undefined };

/**
 * Says when the server becomes unreachable and reachable again, and restarts the driver's topology
 * when its monitor has gone quiet. The driver (6.x) marks the server Unknown after a network error
 * and relies on its monitor to find it again; after MongoDB restarted under load, the fault suite saw
 * a client whose monitor never checked again: every operation of that process then failed server
 * selection for minutes while other processes' clients had recovered. A monitor emits a heartbeat
 * event at least every heartbeat interval plus a check's timeout; silence for twice that means it is
 * stuck, and closing and reconnecting the client gives it a new one (operations in that moment fail
 * as they would in an outage, and activities retry them).
 */
export function watchServer(client: MongoClient, log: MongoEventLog, stallMs = 2 * (HEARTBEAT_MS + CONNECT_TIMEOUT_MS)): { stop(): void } {
  let lastBeat = Date.now();
  let lastSuccess = 0;
  let unreachableSince: number | undefined;
  let restarting = false;
  const beat = (): void => {
    lastBeat = Date.now();
  };
  client.on('serverHeartbeatStarted', beat);
  client.on('serverHeartbeatSucceeded', () => {
    beat();
    lastSuccess = lastBeat;
  });
  client.on('serverHeartbeatFailed', beat);
  client.on('serverDescriptionChanged', (event: ServerDescriptionChangedEvent) => {
    const was = event.previousDescription.type !== 'Unknown';
    const is = event.newDescription.type !== 'Unknown';
    if (was && !is) {
      unreachableSince = Date.now();
      log.warn('MongoDB server unreachable', { address: event.address, error: event.newDescription.error?.message });
    } else if (!was && is && unreachableSince !== undefined) {
      log.info('MongoDB server reachable again', { address: event.address, unreachableMs: Date.now() - unreachableSince });
      unreachableSince = undefined;
    }
  });
  const timer = setInterval(() => {
    const now = Date.now();
    const quietMs = now - lastBeat;
    // A check that succeeded puts the server back at once; still Unknown long after one means the update was lost.
    const ignoredMs = unreachableSince !== undefined && lastSuccess > unreachableSince ? now - lastSuccess : 0;
    if (restarting || (quietMs < stallMs && ignoredMs < stallMs / 4)) return;
    restarting = true;
    log.warn('MongoDB driver monitor stalled: reconnecting the client', { quietMs, ignoredMs });
    client
      .close()
      .then(() => client.connect())
      .then(() => log.info('MongoDB client reconnected'))
      .catch((err: unknown) => log.warn('MongoDB client reconnect failed: retrying', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        restarting = false;
        beat();
      });
  }, stallMs / 4);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * On a replica set, a write acknowledged by the primary alone is rolled back if the primary fails
 * before a secondary copied it; w: 'majority' (journaled on the majority, the server default for
 * majority) acknowledges only writes that survive a failover. Said explicitly rather than left to the
 * server's default write concern. A `w` in the URI is the operator's choice and wins.
 */
export function durableWrites(uri: string): MongoClientOptions {
  // URI option names are case-insensitive. A mongodb+srv URI is a replica set or a sharded cluster (Atlas).
  const names = new Set([...new URLSearchParams(uri.split('?')[1] ?? '').keys()].map((k) => k.toLowerCase()));
  const namesReplicaSet = names.has('replicaset') || uri.startsWith('mongodb+srv://');
  if (!namesReplicaSet || names.has('w')) return {};
  return { writeConcern: { w: 'majority' } };
}

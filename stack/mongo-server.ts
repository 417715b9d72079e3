/** Starts a MongoDB-wire-protocol server: mongo-java-server (memory or H2) or a real mongod. */
import { MongoClient } from 'mongodb';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startManaged, type ManagedProcess } from './managed-process';
import { freePort } from './ports';
import type { MongoServerSpec } from './provision';

export interface MongoServerOptions {
  spec: Exclude<MongoServerSpec, { kind: 'external' }>;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Where data is kept; undefined keeps it in memory (mongod: a fresh folder is still needed). */
  dataDir?: string;
  /**
   * mongo-java-server's H2 file only: when an acknowledged write is on the disk (see
   * stack/mongo-java-server/MongoLauncher.java). Default: MONGO_SYNC=off gives 'commit', else 'fsync'.
   */
  durability?: H2Durability;
  logFile?: string;
}

/**
 * 'fsync': committed to the file and forced to the disk before the reply (survives a machine crash);
 * 'commit': committed to the file before the reply (survives a crash of the server process);
 * 'timer': H2's own commit about once a second (a crash loses up to a second of acknowledged writes).
 */
export type H2Durability = 'fsync' | 'commit' | 'timer';

/** MONGO_SYNC=off trades the forced disk write for speed: acknowledged writes then survive a process crash only. */
export function h2DurabilityFromEnv(env: Record<string, string | undefined>): H2Durability {
  const value = env.MONGO_SYNC?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'on') return 'fsync';
  if (value === 'off') return 'commit';
  throw new Error(`MONGO_SYNC=${env.MONGO_SYNC}: use on (the default) or off`);
}

export interface MongoServerHandle {
  uri: string;
  description: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startMongoServer(options: MongoServerOptions): Promise<MongoServerHandle> {
  const { spec, host } = options;
  let proc: ManagedProcess;
  let port = options.port;
  let description: string;
  if (spec.kind === 'java') {
    const backend = options.dataDir ? ['h2', path.join(options.dataDir, 'mongo.h2.mv'), options.durability ?? h2DurabilityFromEnv(process.env)] : ['memory'];
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    proc = startManaged('mongo-java-server', spec.java, ['-Xss1m', '-cp', spec.classpath, 'MongoLauncher', host, String(port), ...backend], options.logFile);
    const match = await proc
      .waitForLine((l) => l.match(/^LISTENING (.+):(\d+)$/), 60000)
      .catch(async (err) => {
        await proc.stop();
        throw err;
      });
    port = Number(match[2]);
    description = `mongo-java-server (${backend[0] === 'h2' ? `H2 file ${backend[1]}, ${backend[2]}` : 'in memory'})`;
  } else {
    if (port === 0) port = await freePort(host);
    const dbPath = options.dataDir ?? path.join(os.tmpdir(), `b2b-checkout-mongod-${process.pid}-${port}`);
    mkdirSync(dbPath, { recursive: true });
    proc = startManaged('mongod', spec.path, ['--bind_ip', host, '--port', String(port), '--dbpath', dbPath], options.logFile);
    description = `mongod (${dbPath})`;
  }
  const uri = `mongodb://${host}:${port}/`;
  try {
    await Promise.race([waitPing(uri, 60000), proc.exited]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { uri, description, process: proc, stop: () => proc.stop() };
}

export async function waitPing(uri: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`MongoDB at ${uri} did not answer ping within ${timeoutMs / 1000}s: ${String(lastError)}`);
}

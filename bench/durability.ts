/**
 * `npm run bench -- --durability [--writes 2000]`: what it costs that mongo-java-server's H2 file
 * keeps every acknowledged write (stack/mongo-java-server/MongoLauncher.java), in one run: the same acknowledged
 * writes (a cart insert, then the cancel's kind of write: a conditional, versioned update) against a
 * fresh H2 file per durability mode, 1 and 16 in flight. Modes: timer (H2 commits about once a second:
 * the old default, loses the last second on a crash), commit (MONGO_SYNC=off), fsync (the default).
 * Prints a table and writes bench/results/durability-<timestamp>.json. See docs/PERFORMANCE.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectMongo } from '../src/db';
import { startMongoServer, type H2Durability } from '../stack/mongo-server';
import { ensureMongoServer } from '../stack/provision';
import { say } from './log';
import { machine } from './probes';
import { summarize, type Summary } from './stats';

const MODES: H2Durability[] = ['timer', 'commit', 'fsync'];
const IN_FLIGHT = [1, 16];

interface Cell {
  inFlight: number;
  writesPerSecond: number;
  latencyMs: Summary;
}

export async function runDurabilityBench(argv: string[]): Promise<number> {
  const i = argv.findIndex((a) => a === '--writes' || a.startsWith('--writes='));
  const writes = i < 0 ? 2000 : Number(argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1]);
  if (!Number.isInteger(writes) || writes <= 0) throw new Error('--writes: a positive integer');
  const spec = await ensureMongoServer({ ...process.env, MONGODB_URI: undefined, MONGO_SERVER: 'java' }, say);
  if (spec.kind !== 'java') throw new Error('--durability measures mongo-java-server: it needs java');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'b2b-bench-durability-'));
  const results: Record<string, Cell[]> = {};
  try {
    for (const mode of MODES) {
      const server = await startMongoServer({ spec, host: '127.0.0.1', port: 0, dataDir: path.join(dir, mode), durability: mode });
      const conn = await connectMongo(server.uri, 'bench_durability');
      try {
        const carts = conn.db.collection<{ _id: string; status: string; version: number }>('carts');
        await carts.createIndex({ status: 1 });
        results[mode] = [];
        for (const inFlight of IN_FLIGHT) {
          // Warm up the JVM and the file before timing.
          await measure(inFlight, 200, async (id) => void (await carts.insertOne({ _id: `warm-${inFlight}-${id}`, status: 'Active', version: 0 })));
          const cell = await measure(inFlight, writes, async (id) => {
            const cartId = `cart-${inFlight}-${id}`;
            if (id % 2 === 0) await carts.insertOne({ _id: cartId, status: 'Checkout', version: 0 });
            else
              await carts.updateOne(
                { _id: `cart-${inFlight}-${id - 1}`, status: 'Checkout', version: 0 },
                { $set: { status: 'Active' }, $inc: { version: 1 } },
              );
          });
          results[mode].push(cell);
          say(
            `${mode.padEnd(6)} ${String(inFlight).padStart(2)} in flight: ${cell.writesPerSecond} writes/s, p50 ${cell.latencyMs.p50} ms, p99 ${cell.latencyMs.p99} ms`,
          );
        }
      } finally {
        await conn.close();
        await server.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  say('acknowledged writes (insert + conditional update), mongo-java-server H2 file:');
  say('mode    in flight  writes/s   p50 ms   p99 ms');
  for (const mode of MODES) {
    for (const c of results[mode]) {
      say(
        `${mode.padEnd(7)} ${String(c.inFlight).padStart(9)} ${String(c.writesPerSecond).padStart(9)} ${String(c.latencyMs.p50).padStart(8)} ${String(c.latencyMs.p99).padStart(8)}`,
      );
    }
  }
  const out = path.join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `durability-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ writes, machine: machine(), results }, null, 2));
  say(`written ${path.relative(process.cwd(), file)}`);
  return 0;
}

/** `count` writes, `inFlight` at a time; each write's latency is from its send to its acknowledgement. */
async function measure(inFlight: number, count: number, write: (id: number) => Promise<void>): Promise<Cell> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  // Conditional updates follow their insert: a lane takes the pair, so the update finds its cart.
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const id = next;
        next += 2;
        for (const w of [id, id + 1]) {
          if (w >= count) break;
          const t = process.hrtime.bigint();
          await write(w);
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { inFlight, writesPerSecond: Math.round(latencies.length / seconds), latencyMs: summarize(latencies) };
}

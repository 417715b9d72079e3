/**
 * The stack as it is deployed, every part its own process on free loopback ports under a temp folder,
 * started by the dev stack's launcher (stack/launcher.ts): the Temporal dev server on its SQLite file,
 * mongo-java-server on its H2 file, worker processes (the product's worker, plus the step delays this
 * suite sets per cart: stack/worker-process.ts) and the HTTP API (`node dist/src/api/server.js`). Each
 * runs under the launcher's guard (it dies with us). What is the suite's own: a fault is a signal to
 * the process group of one part, which holds the guard and the server it runs, so only processes this
 * run started are ever signalled; and the restarts on the same files and ports.
 */
import { Client, Connection } from '@temporalio/client';
import type { Collection } from 'mongodb';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CheckoutClient } from '../src/client';
import { cartsCollection, type CartDoc, connectMongo, type MongoConnection } from '../src/db';
import { Launcher } from '../stack/launcher';
import type { ManagedProcess } from '../stack/managed-process';
import type { MongoServerHandle } from '../stack/mongo-server';
import { freePort } from '../stack/ports';
import { childrenOf } from '../stack/proc';
import { setStepDelay } from '../stack/step-delay';
import { waitServing, type DevServer } from '../stack/temporal-server';
import { say } from './log';

export const DB_NAME = 'b2b_checkout_faults';

export interface WorkerProc {
  name: string;
  proc: ManagedProcess;
  /** The node process running the worker (the guard's child): the SDK's default identity is `<pid>@<host>`. */
  pid: number;
  /** When it polled its task queue: from then on it is a live worker. */
  readyAt: number;
  alive: boolean;
}

export interface Tokens {
  service: string;
  admin: string;
}

/** SIGKILL to a managed process's group: its guard and the server under it, nothing else. */
async function killGroup(proc: ManagedProcess): Promise<void> {
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await proc.exited.catch(() => undefined);
}

export class FaultStack {
  readonly tokens: Tokens = { service: randomBytes(18).toString('base64url'), admin: randomBytes(18).toString('base64url') };
  temporalPort = 0;
  mongoPort = 0;
  apiPort = 0;
  temporal: DevServer | undefined;
  mongo: MongoServerHandle | undefined;
  api: ManagedProcess | undefined;
  workers: WorkerProc[] = [];
  client!: Client;
  checkout!: CheckoutClient;
  carts!: Collection<CartDoc>;
  private connection!: Connection;
  private mongoConn!: MongoConnection;
  private readonly launcher = new Launcher(() => undefined);
  private workerSeq = 0;
  private mongoFrozen: number | undefined;

  constructor(readonly dir: string) {}

  get temporalAddress(): string {
    return `127.0.0.1:${this.temporalPort}`;
  }
  /** Which Temporal runs, on which database (the stack profile, STACK). */
  get temporalDescription(): string {
    return this.launcher.temporalDescription ?? 'not started';
  }
  get mongoUri(): string {
    return `mongodb://127.0.0.1:${this.mongoPort}/`;
  }
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }
  private log(name: string): string {
    return path.join(this.dir, 'logs', `${name}.log`);
  }

  async start(workers: number): Promise<void> {
    const provisioned = await this.launcher.provision({ needTemporal: true, env: { ...process.env, MONGODB_URI: undefined, TEMPORAL_ADDRESS: undefined } });
    if (provisioned.temporal?.kind !== 'binary') throw new Error('the fault suite needs a Temporal CLI binary (npm run provision)');
    this.temporalPort = await freePort();
    this.apiPort = await freePort();
    await this.startTemporal();
    await this.startMongo();
    // Every process of the run reads its settings from here (guards pass the environment on).
    process.env.TEMPORAL_ADDRESS = this.temporalAddress;
    process.env.TEMPORAL_NAMESPACE = 'default';
    process.env.MONGODB_URI = this.mongoUri;
    process.env.MONGODB_DB = DB_NAME;
    process.env.API_PORT = String(this.apiPort);
    process.env.API_HOST = '127.0.0.1';
    process.env.API_TOKENS = `${this.tokens.service}=service,${this.tokens.admin}=admin`;
    process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'info';
    // Two workers on one machine: no metrics endpoint, which would need a port each.
    delete process.env.WORKER_METRICS_ADDRESS;
    this.connection = await Connection.connect({ address: this.temporalAddress });
    this.client = new Client({ connection: this.connection, namespace: 'default' });
    this.mongoConn = await connectMongo(this.mongoUri, DB_NAME);
    this.carts = cartsCollection(this.mongoConn.db);
    this.checkout = new CheckoutClient({ client: this.client, carts: this.carts });
    // Workers bundle their workflows on start: one after the other, so two cores are not fought over.
    for (let i = 0; i < workers; i++) await this.startWorker();
    await this.startApi();
  }

  async startTemporal(): Promise<void> {
    const started = await this.launcher.startTemporal({
      port: this.temporalPort,
      dbFile: path.join(this.dir, 'temporal.sqlite'),
      logFile: this.log('temporal'),
    });
    this.temporal = started.server;
  }

  async startMongo(): Promise<void> {
    // The same port every time, so that every client reconnects to the restarted server.
    for (let attempt = 0; ; attempt++) {
      try {
        this.mongo = (await this.launcher.startMongo({ port: this.mongoPort, dataDir: path.join(this.dir, 'mongo'), logFile: this.log('mongo') })).server;
        break;
      } catch (err) {
        if (attempt >= 5 || this.mongoPort === 0) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.mongoPort = Number(new URL(this.mongo!.uri).port);
  }

  async startWorker(): Promise<WorkerProc> {
    const name = `worker-${++this.workerSeq}`;
    const { proc, pid } = await this.launcher.startWorkerProcess(name, this.log(name));
    const w: WorkerProc = { name, proc, pid, readyAt: Date.now(), alive: true };
    proc.exited.catch(() => (w.alive = false));
    this.workers.push(w);
    return w;
  }

  /**
   * Starts the cart's checkout through the library; with stepDelayMs each of its background steps takes
   * that long (the worker processes read it per cart), without it they run at full speed.
   */
  async startCheckout(cartId: string, stepDelayMs?: number): ReturnType<CheckoutClient['startCheckout']> {
    await this.slowSteps(cartId, stepDelayMs);
    return this.checkout.startCheckout(cartId);
  }

  /**
   * Sets (or clears) the step delay of the cart's next checkouts. Best effort, within 3 s: while MongoDB
   * is down (a fault of the suite) the checkout keeps the delay it had, and only the start answers
   * what its caller sees.
   */
  async slowSteps(cartId: string, stepDelayMs: number | undefined): Promise<void> {
    const bounded = new Promise<void>((resolve) => setTimeout(resolve, 3000).unref());
    await Promise.race([setStepDelay(this.mongoConn.db, cartId, stepDelayMs).catch(() => undefined), bounded]);
  }

  liveWorkers(): WorkerProc[] {
    return this.workers.filter((w) => w.alive);
  }

  /** The worker whose SDK identity is `identity` (`<pid>@<host>`). */
  workerByIdentity(identity: string | undefined | null): WorkerProc | undefined {
    const pid = Number(String(identity ?? '').split('@')[0]);
    return this.liveWorkers().find((w) => w.pid === pid);
  }

  async killWorker(w: WorkerProc): Promise<number> {
    const at = Date.now();
    w.alive = false;
    await killGroup(w.proc);
    return at;
  }

  async startApi(): Promise<void> {
    this.api = (await this.launcher.startApiProcess('api', this.log('api'))).proc;
  }

  async killApi(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    if (api) await killGroup(api);
  }

  async killTemporal(): Promise<number> {
    const at = Date.now();
    if (this.temporal) await killGroup(this.temporal.process);
    this.temporal = undefined;
    return at;
  }

  /** SIGKILL (a crash) or a clean stop (SIGTERM: mongo-java-server closes its H2 store). */
  async stopMongo(how: 'kill' | 'stop'): Promise<number> {
    const at = Date.now();
    if (this.mongo) {
      if (how === 'kill') await killGroup(this.mongo.process);
      else await this.mongo.stop();
    }
    this.mongo = undefined;
    return at;
  }

  /**
   * Freezes the MongoDB server (SIGSTOP to the server process, not its guard): every write waits,
   * so an activity is reliably in flight when a worker is killed. thawMongo lets it go on.
   */
  freezeMongo(): void {
    const pid = this.mongo ? childrenOf(this.mongo.process.pid)[0] : undefined;
    if (!pid) throw new Error('no MongoDB server process to freeze');
    process.kill(pid, 'SIGSTOP');
    this.mongoFrozen = pid;
  }

  thawMongo(): void {
    if (this.mongoFrozen === undefined) return;
    try {
      process.kill(this.mongoFrozen, 'SIGCONT');
    } catch {
      // gone
    }
    this.mongoFrozen = undefined;
  }

  /** Every process at once with SIGKILL, as a machine or `kill -9` of `npm start` would. */
  async killAll(): Promise<number> {
    const at = Date.now();
    // The server profile's PostgreSQL too (stack/launcher.ts starts it again with Temporal Server).
    const groups = [this.api, ...this.liveWorkers().map((w) => w.proc), this.temporal?.process, this.mongo?.process, this.launcher.postgres?.process].filter(
      (p): p is ManagedProcess => p !== undefined,
    );
    // Marked down before the signal: a request cut off by it is one the API could not answer.
    this.api = undefined;
    for (const p of groups) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const w of this.workers) w.alive = false;
    await Promise.all(groups.map((p) => p.exited.catch(() => undefined)));
    this.api = undefined;
    this.temporal = undefined;
    this.mongo = undefined;
    return at;
  }

  /** Starts again what killAll stopped, on the same files and ports, in npm start's order. */
  async restartAll(workers: number): Promise<void> {
    const timed = async (what: string, fn: () => Promise<unknown>) => {
      const t0 = Date.now();
      await fn();
      say(`  restarted ${what} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    };
    await timed('Temporal', () => this.startTemporal());
    await timed('MongoDB', () => this.startMongo());
    for (let i = 0; i < workers; i++) await timed('a worker', () => this.startWorker());
    await timed('the API', () => this.startApi());
  }

  async temporalServing(timeoutMs: number): Promise<void> {
    await waitServing(this.temporalAddress, timeoutMs);
  }

  /** In npm start's order whatever restarts happened: the API, the workers, the connections, the servers; then anything else the launcher started. */
  async stop(): Promise<void> {
    this.thawMongo();
    await this.api?.stop().catch(() => undefined);
    for (const w of this.liveWorkers()) await w.proc.stop().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.mongoConn?.close().catch(() => undefined);
    await this.mongo?.stop().catch(() => undefined);
    await this.temporal?.stop().catch(() => undefined);
    await this.launcher.stop();
  }
}

export function announce(stack: FaultStack): void {
  say(
    `stack: Temporal ${stack.temporalAddress} (${stack.temporalDescription}), MongoDB ${stack.mongoUri} (H2 ${path.join(stack.dir, 'mongo')}), API ${stack.apiUrl}, ${stack.liveWorkers().length} worker processes; logs in ${path.join(stack.dir, 'logs')}`,
  );
}

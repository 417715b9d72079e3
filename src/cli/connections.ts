/**
 * The servers a command talks to, opened on first use (a command that needs only Temporal never
 * connects to MongoDB) and closed by close(), so the process ends by itself.
 */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { CartService } from '../carts';
import { CheckoutClient } from '../client';
import { appSettings, temporalSettings, type TemporalSettings } from '../config';
import { cartsCollection, connectMongo, type MongoConnection } from '../db';
import { connectClient } from '../temporal';
import type { GlobalOptions } from './args';
import { CliFailure } from './output';

/** The longest a command waits for the Temporal connection itself. */
const MAX_CONNECT_TIMEOUT_MS = 10_000;

export class Connections {
  private temporal: Client | undefined;
  private mongo: MongoConnection | undefined;

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly globals: GlobalOptions,
  ) {}

  /** MONGODB_URI is set (MongoDB can be used). */
  mongoConfigured(): boolean {
    return appSettings(this.env).mongoUri !== undefined;
  }

  private async db(why: string): Promise<Db> {
    if (!this.mongo) {
      const { mongoUri, mongoDb } = appSettings(this.env);
      if (!mongoUri) throw new CliFailure('INVALID_CONFIGURATION', `MONGODB_URI is not set; ${why} needs MongoDB`);
      try {
        this.mongo = await connectMongo(mongoUri, mongoDb);
      } catch (err) {
        // The URI may hold credentials: name the variable, never print it.
        const code = (err as Error).name === 'MongoParseError' ? 'INVALID_CONFIGURATION' : 'CONNECTION_FAILED';
        throw new CliFailure(code, `cannot connect to MongoDB (MONGODB_URI, database ${mongoDb}): ${(err as Error).message}`);
      }
    }
    return this.mongo.db;
  }

  /** The cart service; `why` names the command in the error when MongoDB is not configured. */
  async carts(why: string): Promise<CartService> {
    return CartService.forDb(await this.db(why));
  }

  async client(): Promise<Client> {
    if (!this.temporal) {
      let settings: TemporalSettings;
      try {
        settings = temporalSettings(this.env);
      } catch (err) {
        throw new CliFailure('INVALID_CONFIGURATION', `Temporal connection settings: ${(err as Error).message}`);
      }
      const where = `${settings.connectionOptions.address} (namespace ${settings.namespace})`;
      try {
        // connectClient hands connectionOptions to Connection.connect, which honours connectTimeout
        // (TemporalSettings types them as the worker's NativeConnectionOptions, which lack it).
        const connectionOptions = { ...settings.connectionOptions, connectTimeout: Math.min(this.globals.timeoutMs, MAX_CONNECT_TIMEOUT_MS) };
        this.temporal = await connectClient({ ...settings, connectionOptions: connectionOptions as TemporalSettings['connectionOptions'] });
      } catch (err) {
        throw new CliFailure('CONNECTION_FAILED', `cannot connect to Temporal at ${where}: ${(err as Error).message}`);
      }
    }
    return this.temporal;
  }

  /**
   * A CheckoutClient on the task queue: with the carts collection when the command needs it
   * ({ required: command }), when MongoDB is configured ('if-configured'), or without ('none').
   */
  async checkout(mongo: { required: string } | 'if-configured' | 'none'): Promise<CheckoutClient> {
    let db: Db | undefined;
    if (typeof mongo === 'object') db = await this.db(mongo.required);
    else if (mongo === 'if-configured' && this.mongoConfigured()) db = await this.db('this command');
    return new CheckoutClient({ client: await this.client(), taskQueue: this.globals.taskQueue, ...(db ? { carts: cartsCollection(db) } : {}) });
  }

  /** Runs fn with a deadline on every Temporal call it makes, so no command waits forever for a worker. */
  async withDeadline<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const client = await this.client();
    return client.withDeadline(Date.now() + timeoutMs, fn);
  }

  async close(): Promise<void> {
    const temporal = this.temporal;
    const mongo = this.mongo;
    this.temporal = undefined;
    this.mongo = undefined;
    await Promise.all([temporal?.connection.close().catch(() => undefined), mongo?.close().catch(() => undefined)]);
  }
}

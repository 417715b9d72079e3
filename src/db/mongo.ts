import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export async function connectMongo(uri: string, dbName: string): Promise<MongoConnection> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10000, appName: 'b2b-checkout', ...durableWrites(uri) });
  await client.connect();
  return { client, db: client.db(dbName), close: () => client.close() };
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

/**
 * The Temporal the run's stack started is the one its profile (STACK) promises: the dev server on
 * SQLite with one history shard, or Temporal Server on PostgreSQL with four shards, the namespace and
 * the search attributes registered. Skipped for a server of the user's (TEMPORAL_ADDRESS).
 */
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../src/contract';

const profile = process.env.B2B_TEST_TEMPORAL;
const started = profile === 'dev' || profile === 'server';
if (!started) console.warn('test/stack-profile.test.ts: skipped, Temporal is a server of yours (TEMPORAL_ADDRESS)');

let connection: Connection;
beforeAll(async () => {
  if (started) connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
});
afterAll(async () => {
  await connection?.close();
});

(started ? test : test.skip)(`the ${profile ?? 'given'} profile's Temporal: engine, database, shards, namespace and search attributes`, async () => {
  const info = await connection.workflowService.getClusterInfo({});
  const expected =
    profile === 'server'
      ? { historyShardCount: 4, persistenceStore: 'postgres12', visibilityStore: 'postgres12' }
      : { historyShardCount: 1, persistenceStore: 'sqlite', visibilityStore: 'sqlite' };
  expect(info).toMatchObject(expected);

  const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
  expect(namespace.namespaceInfo?.name).toBe('default');
  const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
  for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(Object.keys(attributes.customAttributes ?? {})).toContain(name);
});

/**
 * Starts one Temporal dev server and one MongoDB server for the whole run, on free ports, unless
 * TEMPORAL_ADDRESS / MONGODB_URI name servers to use. Each runs under a guard process, so an
 * interrupted run (Ctrl-C, kill, even kill -9 of jest) leaves no server behind. The dev server
 * serves its Web UI too, on a free port, as TEMPORAL_UI_URL for the browser test; with a server of
 * the user's, TEMPORAL_UI_URL is whatever the user set (or unset: the browser test is skipped).
 */
import { cartsCollection, ensureCartIndexes, Directory, connectMongo } from '../../src/db';
import { startMongoServer } from '../../src/stack/mongo-server';
import { freePort } from '../../src/stack/ports';
import { provision } from '../../src/stack/provision';
import { startTemporalDevServer } from '../../src/stack/temporal-server';

type Stop = () => Promise<void>;
declare global {
  var __B2B_TEST_STACK__: Stop[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  const stops: Stop[] = [];
  globalThis.__B2B_TEST_STACK__ = stops;
  const say = (line: string) => process.stdout.write(`[test stack] ${line}\n`);
  say('');
  const provisioned = await provision({ log: say });
  if (!process.env.TEMPORAL_ADDRESS) {
    if (provisioned.temporal?.kind !== 'binary') {
      throw new Error('no Temporal CLI binary: install Go (the CLI is built from source) or set TEMPORAL_CLI_PATH / TEMPORAL_ADDRESS');
    }
    const port = await freePort();
    let uiPort = await freePort();
    while (uiPort === port) uiPort = await freePort();
    const server = await startTemporalDevServer({ cliPath: provisioned.temporal.path, ip: '127.0.0.1', port, uiPort });
    stops.push(() => server.stop());
    process.env.TEMPORAL_ADDRESS = server.address;
    process.env.TEMPORAL_UI_URL = server.uiUrl;
    say(`Temporal dev server on ${server.address}, Web UI ${server.uiUrl} (in memory)`);
  } else {
    say(`Temporal: ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS), Web UI: ${process.env.TEMPORAL_UI_URL ?? 'unknown (set TEMPORAL_UI_URL for the browser test)'}`);
  }
  if (!process.env.MONGODB_URI) {
    if (provisioned.mongo.kind === 'external') throw new Error('unreachable');
    const mongo = await startMongoServer({ spec: provisioned.mongo, host: '127.0.0.1', port: 0 });
    stops.push(() => mongo.stop());
    process.env.MONGODB_URI = mongo.uri;
    say(`MongoDB on ${mongo.uri} (${mongo.description})`);
  } else {
    say('MongoDB: MONGODB_URI');
  }
  // Tests keep to their own database unless told otherwise, and every test uses its own cart ids.
  process.env.MONGODB_DB ??= 'b2b_checkout_test';
  // The shared database gets its indexes once, before any test writes, as a deployment has them before
  // traffic. Otherwise the first workers of two files build them while other files insert carts, and
  // in one CI run mongo-java-server answered such an insert with an internal "Unknown error: null".
  const mongo = await connectMongo(process.env.MONGODB_URI, process.env.MONGODB_DB);
  try {
    await ensureCartIndexes(cartsCollection(mongo.db));
    await new Directory(mongo.db).ensureIndexes();
  } finally {
    await mongo.close();
  }
}

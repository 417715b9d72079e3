/**
 * Starts one Temporal (the dev server, or with STACK=server Temporal Server on PostgreSQL) and one
 * MongoDB server for the whole run, on free ports, unless TEMPORAL_ADDRESS / MONGODB_URI name servers to use. Each runs under a guard process, so an
 * interrupted run (Ctrl-C, kill, even kill -9 of jest) leaves no server behind. The dev server
 * serves its Web UI too, on a free port, as TEMPORAL_UI_URL for the browser test; with a server of
 * the user's, TEMPORAL_UI_URL is whatever the user set (or unset: the browser test is skipped).
 */
import { cartsCollection, ensureCartIndexes, Directory, WebhookStore, connectMongo } from '../../src/db';
import { Launcher } from '../../stack/launcher';

declare global {
  var __B2B_TEST_STACK__: Launcher | undefined;
}

export default async function globalSetup(): Promise<void> {
  const say = (line: string) => process.stdout.write(`[test stack] ${line}\n`);
  const stack = new Launcher(say);
  globalThis.__B2B_TEST_STACK__ = stack;
  say('');
  await stack.provision();
  const given = process.env.TEMPORAL_ADDRESS;
  const temporal = await stack.startTemporal({ address: given, uiPort: 'free' });
  // Which Temporal the tests run on (test/stack-profile.test.ts checks it is what the profile promises).
  process.env.B2B_TEST_TEMPORAL = given ? 'external' : stack.provisioned?.profile;
  if (!given) {
    // The server profile serves no Web UI: the browser test is skipped, as for a server of the user's without TEMPORAL_UI_URL.
    if (temporal.uiUrl) process.env.TEMPORAL_UI_URL = temporal.uiUrl;
    say(`Temporal on ${temporal.address}, ${stack.temporalDescription}, Web UI ${temporal.uiUrl ?? 'none'}`);
  } else {
    say(`Temporal: ${given} (TEMPORAL_ADDRESS), Web UI: ${process.env.TEMPORAL_UI_URL ?? 'unknown (set TEMPORAL_UI_URL for the browser test)'}`);
  }
  const mongoGiven = process.env.MONGODB_URI;
  const mongoServer = await stack.startMongo({ uri: mongoGiven });
  say(mongoGiven ? 'MongoDB: MONGODB_URI' : `MongoDB on ${mongoServer.uri} (${mongoServer.description})`);
  // Tests keep to their own database unless told otherwise, and every test uses its own cart ids.
  process.env.MONGODB_DB ??= 'b2b_checkout_test';
  // The shared database gets its indexes once, before any test writes, as a deployment has them before
  // traffic. Otherwise the first workers of two files build them while other files insert carts, and
  // in one CI run mongo-java-server answered such an insert with an internal "Unknown error: null".
  const mongo = await connectMongo(mongoServer.uri, process.env.MONGODB_DB);
  try {
    await ensureCartIndexes(cartsCollection(mongo.db));
    await new Directory(mongo.db).ensureIndexes();
    await new WebhookStore(mongo.db).ensureIndexes();
  } finally {
    await mongo.close();
  }
}

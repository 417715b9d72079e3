/**
 * A worker process of the dev stack (the fault suite's, killed and restarted by PID): the product's
 * worker (`runWorkerProcess` of src/worker.ts, as `node dist/src/worker.js` runs it) plus the step
 * delays that the test process writes per cart (stack/step-delay.ts).
 */
import { appSettings } from '../src/config';
import { connectMongo } from '../src/db/mongo';
import { appLogger } from '../src/logging';
import { runWorkerProcess, workerProcessFailed } from '../src/worker';
import { stepDelaysFromCollection } from './step-delay';

async function main(): Promise<void> {
  const settings = appSettings();
  if (!settings.mongoUri) throw new Error('MONGODB_URI is not set');
  const mongo = await connectMongo(settings.mongoUri, settings.mongoDb, { log: appLogger('step-delays', settings.logLevel) });
  try {
    await runWorkerProcess({ beforeStep: stepDelaysFromCollection(mongo.db) });
  } finally {
    await mongo.close();
  }
}

main().catch(workerProcessFailed);

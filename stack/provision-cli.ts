/** `npm run provision`: installs what the stack needs into .tools (both `npm start` and `npm test` run it first). */
import { provision } from './provision';
import { log } from './progress';

provision()
  .then((p) => {
    log(`provisioned: temporal=${p.temporal ? p.temporal.kind : 'external'}, mongodb=${p.mongo.kind}`);
  })
  .catch((err: unknown) => {
    log(`provisioning failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });

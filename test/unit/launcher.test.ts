/** The dev stack's launcher: what stop() undoes and in which order (no servers: parts are plain functions). */
import { Launcher } from '../../stack/launcher';

test('stop() undoes the parts last started first, each once, and goes on past a part that fails to stop', async () => {
  const lines: string[] = [];
  const launcher = new Launcher((l) => lines.push(l));
  const stopped: string[] = [];
  for (const name of ['Temporal dev server', 'MongoDB server', 'worker', 'HTTP API']) {
    launcher.onStop(name, async () => {
      stopped.push(name);
      if (name === 'worker') throw new Error('already gone');
    });
  }
  const announced: string[] = [];
  await Promise.all([launcher.stop((n) => announced.push(n)), launcher.stop()]);
  await launcher.stop();
  expect(stopped).toEqual(['HTTP API', 'worker', 'MongoDB server', 'Temporal dev server']);
  expect(announced).toEqual(['HTTP API', 'worker', 'MongoDB server', 'Temporal dev server']);
  expect(lines).toEqual(['worker: already gone']);
});

test('a part that registers after stop() began (a signal during start-up) is stopped at once', async () => {
  const launcher = new Launcher(() => undefined);
  await launcher.stop();
  const stopped: string[] = [];
  launcher.onStop('worker', async () => void stopped.push('worker'));
  await new Promise((r) => setImmediate(r));
  expect(stopped).toEqual(['worker']);
});

test('given servers are used as they are: nothing is started and the environment is left alone', async () => {
  const launcher = new Launcher(() => undefined);
  const before = { TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS, MONGODB_URI: process.env.MONGODB_URI };
  const temporal = await launcher.startTemporal({ address: '127.0.0.1:1' });
  const mongo = await launcher.startMongo({ uri: 'mongodb://127.0.0.1:1/' });
  expect(temporal).toEqual({ address: '127.0.0.1:1', uiUrl: undefined, server: undefined });
  expect(mongo).toMatchObject({ uri: 'mongodb://127.0.0.1:1/', server: undefined });
  expect({ TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS, MONGODB_URI: process.env.MONGODB_URI }).toEqual(before);
  await launcher.stop();
});

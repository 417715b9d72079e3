/** The stack itself: a workflow and an activity round trip through the real Temporal server into MongoDB. */
import { randomUUID } from 'node:crypto';
import { setupTestEnv, type TestEnv } from './harness/env';
import { activityRuns, lastEvent } from './harness/history';

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('stack');
});
afterAll(async () => {
  await env?.close();
});

test('probeWorkflow writes a document through an activity and reads it back', async () => {
  const w = await env.newWorker();
  const probeId = `probe-${randomUUID()}`;
  const handle = await w.worker.runUntil(async () => {
    const h = await env.client.workflow.start('probeWorkflow', {
      taskQueue: env.taskQueue,
      workflowId: probeId,
      args: [{ probeId, payload: 'hello' }],
    });
    expect(await h.result()).toEqual({ probeId, payload: 'hello', writes: 1 });
    return h;
  });

  // The document is really in MongoDB, read through the driver.
  const doc = await env.mongo.db.collection('probes').findOne({ _id: probeId as never });
  expect(doc).toMatchObject({ payload: 'hello', writes: 1 });

  // The server's history shows the activity scheduled, started and completed, then the workflow completed.
  const history = await handle.fetchHistory();
  const [run, ...others] = activityRuns(history);
  expect(others).toHaveLength(0);
  expect(run.activityType).toBe('probeRoundTrip');
  expect(run.input).toEqual([{ probeId, payload: 'hello' }]);
  expect(run.started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
  expect(run.completed).toBeDefined();
  expect(lastEvent(history)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
});

/**
 * Replays committed histories of real checkout runs against the current workflow code. A change that
 * breaks determinism for running checkouts fails here. Record new ones with
 * `RECORD_HISTORIES=1 npx jest test/checkout.test.ts` (after npm run build) and commit them.
 */
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PAYLOAD_CONVERTER_PATH } from '../src/data-converter';
import { HISTORIES_DIR } from './harness/record';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
// fromObject reads the proto3-style JSON written by test/harness/record.ts (enum names, string longs, base64 bytes).
const fromJson = (json: unknown) => temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
const load = (f: string) => fromJson(JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8')));
const workflowsPath = path.join(__dirname, '..', 'workflows', 'index.ts');
// The worker's payload converter: histories may hold signals whose payloads only it can read.
const replayOptions = { workflowsPath, dataConverter: { payloadConverterPath: PAYLOAD_CONVERTER_PATH } };

test('there are recorded histories for every ending, and of the shapes patches changed, from before and after', () => {
  expect(files.sort()).toEqual(
    expect.arrayContaining([
      'checkout-add-to-cart.json',
      'checkout-canceled.json',
      'checkout-expired.json',
      'checkout-invalid-operation.json',
      'checkout-order-placed.json',
      'checkout-lock-lost.json',
      'checkout-rejected-signals.json',
      'checkout-order-first-cancel-refused.json',
      // Recorded before the order-waits-for-steps and lock-lost-ends-run patches: they must keep replaying.
      'checkout-order-first-cancel-refused-v2.json',
      'checkout-lock-lost-v2.json',
    ]),
  );
});

test('every recorded history replays without a determinism error', async () => {
  const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: load(f) }));
  const results = [];
  for await (const r of Worker.runReplayHistories(replayOptions, histories)) {
    results.push({ workflowId: r.workflowId, error: r.error ? String(r.error) : undefined });
  }
  expect(results).toHaveLength(files.length);
  expect(results.filter((r) => r.error)).toEqual([]);
});

test('the replay check can fail: a history whose activity type was changed is reported as non-deterministic', async () => {
  const raw = JSON.parse(readFileSync(path.join(HISTORIES_DIR, 'checkout-canceled.json'), 'utf8'));
  const scheduled = raw.events.find((e: Record<string, unknown>) => e.activityTaskScheduledEventAttributes);
  scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
  const results = [];
  for await (const r of Worker.runReplayHistories(replayOptions, [{ workflowId: 'tampered', history: fromJson(raw) }])) {
    results.push(r);
  }
  expect(results).toHaveLength(1);
  expect(String(results[0].error)).toMatch(/nondeterminism/i);
});

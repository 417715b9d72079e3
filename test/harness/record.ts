/** With RECORD_HISTORIES=1, tests save the histories they produce under test/histories/ for the replay test. */
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const history = await handle.fetchHistory();
  // toJSON gives proto3-style JSON (enum names, 64-bit numbers as strings, bytes as base64),
  // the format `temporal workflow show --output json` writes and historyFromJSON reads.
  const json = temporal.api.history.v1.History.fromObject(history).toJSON();
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
}

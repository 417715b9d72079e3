/** A workflow for test/durability.test.ts: one activity, then signals until it is told to finish. */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export const noteSignal = defineSignal<[string]>('note');

export interface DurabilityActivities {
  recordStep(id: string): Promise<string>;
}

const { recordStep } = proxyActivities<DurabilityActivities>({ startToCloseTimeout: '10 minutes' });

export async function durabilityProbeWorkflow(id: string): Promise<string[]> {
  const notes: string[] = [];
  setHandler(noteSignal, (note) => void notes.push(note));
  notes.push(await recordStep(id));
  await condition(() => notes.includes('finish'));
  return notes;
}

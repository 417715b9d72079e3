/** probeWorkflow: a Temporal + MongoDB round trip through one activity. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ProbeInput, ProbeResult } from '../src/contract';

const { probeRoundTrip } = proxyActivities<Activities>({ startToCloseTimeout: '10s' });

export async function probeWorkflow(input: ProbeInput): Promise<ProbeResult> {
  return await probeRoundTrip.executeWithOptions({ summary: `probe ${input?.probeId}: write and read back` }, [input]);
}

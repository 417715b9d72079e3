/** A stack round trip: write a document to MongoDB and read it back. Used by health checks and tests. */
import type { Db } from 'mongodb';
import { COLLECTIONS, type ProbeInput, type ProbeResult } from '../src/contract';

export function createProbeActivities({ db }: { db: Db }) {
  return {
    async probeRoundTrip(input: ProbeInput): Promise<ProbeResult> {
      const probes = db.collection<{ _id: string; payload: string; writes: number }>(COLLECTIONS.probes);
      await probes.updateOne({ _id: input.probeId }, { $set: { payload: input.payload }, $inc: { writes: 1 } }, { upsert: true });
      const doc = await probes.findOne({ _id: input.probeId });
      if (!doc) throw new Error(`probe ${input.probeId} was written but cannot be read back`);
      return { probeId: doc._id, payload: doc.payload, writes: doc.writes };
    },
  };
}

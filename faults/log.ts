/** Console output of the fault suite: one prefixed line per event, with the time since the run began. */

const startedAt = Date.now();

export function say(line: string): void {
  const s = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[faults ${s}s] ${line}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until `check` returns something other than undefined, re-checking with a short backoff, and
 * gives up (undefined) at the deadline: every wait of the suite is bounded.
 */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, maxDelayMs = 200): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(delay);
    delay = Math.min(delay * 2, maxDelayMs);
  }
}

/** A deterministic PRNG (mulberry32): the same seed gives the same run of choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

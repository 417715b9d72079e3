/** Console output for the stack scripts: what is done, and elapsed time on long steps. */

export type Log = (line: string) => void;

export const log: Log = (line) => process.stdout.write(`[b2b-checkout] ${line}\n`);

export function elapsed(startedAt: number): string {
  const s = Math.round((Date.now() - startedAt) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs a long step, printing a line every `everyMs` so nobody wonders whether it hangs. */
export async function withProgress<T>(label: string, fn: () => Promise<T>, out: Log = log, everyMs = 15000): Promise<T> {
  const startedAt = Date.now();
  out(`${label}...`);
  const timer = setInterval(() => out(`${label}: still working (${elapsed(startedAt)} elapsed)`), everyMs);
  try {
    const result = await fn();
    out(`${label}: done in ${elapsed(startedAt)}`);
    return result;
  } catch (err) {
    out(`${label}: failed after ${elapsed(startedAt)}`);
    throw err;
  } finally {
    clearInterval(timer);
  }
}

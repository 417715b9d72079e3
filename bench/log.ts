/** Console output of the benchmark: every line carries the time elapsed since the run began. */
import { elapsed } from '../stack/progress';

const startedAt = Date.now();

export function say(line: string): void {
  process.stdout.write(`[bench ${elapsed(startedAt).padStart(6)}] ${line}\n`);
}

/**
 * Prints `describe()` every `everyMs` while a long step runs, so a phase of minutes shows where it is.
 * Returns the function that stops it.
 */
export function ticker(label: string, describe: () => string, everyMs = 5000): () => void {
  const phaseStart = Date.now();
  const timer = setInterval(() => say(`${label}: ${describe()} (${elapsed(phaseStart)} in this step)`), everyMs);
  return () => clearInterval(timer);
}

/** Thrown inside phases once Ctrl-C (or a failure elsewhere) asked the run to stop. */
export class Aborted extends Error {
  constructor() {
    super('aborted');
  }
}

export interface AbortFlag {
  readonly aborted: boolean;
  /** Throws Aborted once the run was asked to stop; call it in every loop. */
  check(): void;
}

export function abortFlag(signal: AbortSignal): AbortFlag {
  return {
    get aborted() {
      return signal.aborted;
    },
    check() {
      if (signal.aborted) throw new Aborted();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Process facts read from /proc (Linux), for the tools that signal or measure the servers they started. */
import { readdirSync, readFileSync } from 'node:fs';

/** The children of a process (a guard runs the real server as its child); none where /proc can't tell. */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Crashing a server the stack started: SIGKILL to the server process itself, not to its guard. */
import { execFileSync } from 'node:child_process';
import type { ManagedProcess } from '../../stack/managed-process';

/**
 * The PID of the server a ManagedProcess runs: the guard's only child. Found through `ps`, which
 * lists parent PIDs the same way on Linux and macOS.
 */
export function serverPid(proc: ManagedProcess): number {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = table
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, ppid]) => ppid === proc.pid && Number.isInteger(pid));
  if (children.length !== 1) throw new Error(`${proc.name}: expected one server process under guard ${proc.pid}, found ${children.length}`);
  return children[0][0];
}

/**
 * SIGKILLs the server (no shutdown hook, no final commit: what a crash leaves) and resolves once its
 * guard has seen it die, so its port and files are free.
 */
export async function crash(proc: ManagedProcess): Promise<void> {
  const pid = serverPid(proc);
  process.kill(pid, 'SIGKILL');
  await proc.exited.catch(() => undefined);
}

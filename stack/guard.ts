/**
 * Runs one server process and ties its life to the parent's: `node guard.js <command> [args...]`.
 * The parent keeps the guard's standard input open; when it closes (the parent exited, even by
 * kill -9), the guard stops the server. SIGINT/SIGTERM are passed on. The exit code is the server's.
 */
import { spawn } from 'node:child_process';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  process.stderr.write('usage: guard <command> [args...]\n');
  process.exit(64);
}

// GUARD_UID/GUARD_GID: run the server as another user (PostgreSQL refuses to run as root).
const uid = process.env.GUARD_UID ? Number(process.env.GUARD_UID) : undefined;
const gid = process.env.GUARD_GID ? Number(process.env.GUARD_GID) : undefined;
const childEnv = { ...process.env };
delete childEnv.GUARD_UID;
delete childEnv.GUARD_GID;
const child = spawn(cmd, args, {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: childEnv,
  ...(uid !== undefined ? { uid } : {}),
  ...(gid !== undefined ? { gid } : {}),
});
let stopping = false;

// GUARD_STOP_SIGNAL: the signal that stops the server politely when the parent is gone (PostgreSQL's
// SIGTERM waits for every client to disconnect; its SIGINT is the fast shutdown).
const stopSignal = (process.env.GUARD_STOP_SIGNAL as NodeJS.Signals | undefined) ?? 'SIGTERM';

function stop(signal: NodeJS.Signals): void {
  if (stopping || child.exitCode !== null) return;
  stopping = true;
  child.kill(signal === 'SIGTERM' ? stopSignal : signal);
  // A server that ignores the polite signal for 15 s is killed.
  setTimeout(() => child.kill('SIGKILL'), 15000).unref();
}

process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.stdin.on('end', () => stop('SIGTERM'));
process.stdin.on('error', () => stop('SIGTERM'));
process.stdin.resume();

child.on('error', (err) => {
  process.stderr.write(`guard: cannot start ${cmd}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1));
});

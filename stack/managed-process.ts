/** A server process started by the stack, under a guard so that it never outlives us. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

const GUARD_JS = path.join(__dirname, 'guard.js');

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the first stdout line that `matcher` accepts (or rejects if the process exits first). */
  waitForLine(matcher: (line: string) => RegExpMatchArray | null, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Rejects when the process exits; useful in races against readiness checks. */
  readonly exited: Promise<never>;
  /** The last lines it printed, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

export interface ManagedOptions {
  /** Run the server as this user and group (the guard stays ours). */
  uid?: number;
  gid?: number;
  /** The signal stop() sends (SIGTERM by default). */
  stopSignal?: NodeJS.Signals;
  cwd?: string;
  /** Environment variables of ours to set or, when undefined, unset for the server. */
  env?: Record<string, string | undefined>;
}

export function startManaged(name: string, cmd: string, args: string[], logFile?: string, options: ManagedOptions = {}): ManagedProcess {
  // From ts-jest the guard's TypeScript source is next to us, from dist the compiled file is.
  const guard = existsSync(GUARD_JS) ? GUARD_JS : path.join(__dirname, '..', 'dist', 'stack', 'guard.js');
  if (!existsSync(guard)) throw new Error(`guard not built: run "npm run build" first (${guard})`);
  const guardEnv: Record<string, string> = {};
  if (options.uid !== undefined) guardEnv.GUARD_UID = String(options.uid);
  if (options.gid !== undefined) guardEnv.GUARD_GID = String(options.gid);
  if (options.stopSignal) guardEnv.GUARD_STOP_SIGNAL = options.stopSignal;
  const child: ChildProcess = spawn(process.execPath, [guard, cmd, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries({ ...process.env, ...options.env, ...guardEnv }).filter(([, v]) => v !== undefined)),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    // Its own process group: Ctrl-C reaches only us, so we stop the worker before its servers.
    detached: true,
  });
  let logStream: WriteStream | undefined;
  if (logFile) {
    mkdirSync(path.dirname(logFile), { recursive: true });
    logStream = createWriteStream(logFile, { flags: 'a' });
  }
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    logStream?.write(chunk);
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 60) lines.shift();
      for (const l of listeners) l(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let exitInfo: string | undefined;
  const exited = new Promise<never>((_, reject) => {
    child.on('exit', (code, signal) => {
      exitInfo = `${name} exited (${signal ?? code})`;
      logStream?.end();
      reject(new Error(`${exitInfo}\n${lines.slice(-30).join('\n')}`));
    });
  });
  exited.catch(() => undefined);

  return {
    name,
    pid: child.pid ?? -1,
    exited,
    tail: () => lines.slice(-30).join('\n'),
    waitForLine(matcher, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`${name} did not become ready within ${timeoutMs / 1000}s\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs);
        const listener = (line: string) => {
          const m = matcher(line);
          if (m) {
            clearTimeout(timer);
            listeners.delete(listener);
            resolve(m);
          }
        };
        listeners.add(listener);
        exited.catch((err: Error) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    },
    async stop() {
      if (exitInfo) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(options.stopSignal ?? 'SIGTERM');
      await done;
    },
  };
}

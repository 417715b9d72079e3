/**
 * A PostgreSQL cluster of the stack's own (server profile): initdb once into a git-ignored or temporary
 * folder, then `postgres` on 127.0.0.1 and a free port under a guard, stopped with the stack.
 */
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './exec';
import { ROOT } from './paths';
import { startManaged, type ManagedProcess } from './managed-process';
import type { PostgresInstall } from './provision-server';

/** The superuser initdb creates; Temporal connects as it. */
export const POSTGRES_USER = 'temporal';

export interface PostgresOptions {
  install: PostgresInstall;
  /** The cluster's folder (PGDATA); made with initdb when it has none yet. */
  dataDir: string;
  port: number;
  logFile?: string;
  /**
   * false: no fsync (a test run's throw-away cluster on two shared cores). A killed process loses
   * nothing either way (the writes are in the kernel's page cache); only a machine crash would.
   */
  durable: boolean;
}

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  process: ManagedProcess;
  description: string;
  stop(): Promise<void>;
}

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const { install, dataDir } = options;
  const owner = install.runAs ? { uid: install.runAs.uid, gid: install.runAs.gid } : {};
  if (install.runAs) reachableBy(install.runAs.user, path.dirname(dataDir));
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true });
    // PostgreSQL wants its data folder private to its user.
    chmodSync(dataDir, 0o700);
    if (install.runAs) chownSync(dataDir, install.runAs.uid, install.runAs.gid);
    // Trust on the loopback only: the cluster listens on 127.0.0.1 and holds a dev stack's histories.
    await run(install.initdb, ['-D', dataDir, '-U', POSTGRES_USER, '--auth=trust', '--encoding=UTF8', '--locale=C'], {
      ...owner,
      cwd: path.dirname(dataDir),
    });
  }
  await previousPostmasterGone(dataDir);
  const host = '127.0.0.1';
  const args = ['-D', dataDir, '-p', String(options.port), '-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];
  if (!options.durable) args.push('-c', 'fsync=off', '-c', 'full_page_writes=off');
  const proc = startManaged('postgres', install.postgres, args, options.logFile, {
    ...owner,
    // SIGTERM (smart shutdown) would wait for every client; SIGINT is the fast, clean shutdown.
    stopSignal: 'SIGINT',
    cwd: path.dirname(dataDir),
  });
  try {
    await proc.waitForLine((l) => l.match(/database system is ready to accept connections/), 60000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    host,
    port: options.port,
    user: POSTGRES_USER,
    process: proc,
    description: `PostgreSQL ${install.version.replace(/^.*\(PostgreSQL\)\s*/, '')} on ${host}:${options.port}, data in ${dataDir}`,
    stop: () => proc.stop(),
  };
}

/**
 * PostgreSQL runs as another user when we are root: it must be able to walk down to its folder. The
 * folders on the way inside this checkout or a temporary folder (e.g. .data, or the fault suite's run
 * folder, made private by another part) are opened to others for walking through (not listing); a
 * closed folder elsewhere (a home folder) is an error.
 */
function reachableBy(user: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      if (ours(d)) chmodSync(d, mode | 0o001);
      else
        throw new Error(
          `PostgreSQL runs as user ${user} (not as root), who cannot enter ${d}: run as another user, or keep the checkout where ${user} can reach it`,
        );
    }
    if (path.dirname(d) === d) break;
  }
  accessSync(dir, constants.X_OK);
}

function ours(dir: string): boolean {
  return [ROOT, os.tmpdir()].some((base) => dir === ROOT || dir.startsWith(base + path.sep));
}

/**
 * After a SIGKILL (the fault suite kills every process at once) the old postmaster can still be dying
 * when the stack starts again, and PostgreSQL refuses to start while the PID in postmaster.pid lives.
 * Waits until it is gone (or a zombie: dead, not yet reaped, which PostgreSQL would still take for alive).
 */
async function previousPostmasterGone(dataDir: string): Promise<void> {
  const lock = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(lock)) return;
  const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const state = () => {
    try {
      // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return undefined;
    }
  };
  for (let i = 0; i < 100 && state() !== undefined && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 100));
  // A zombie holds no shared memory any more: its lock file may go.
  if (state() === 'Z') rmSync(lock, { force: true });
}

/**
 * Provisioning for the server profile (`STACK=server`): Temporal Server and its SQL schema tool,
 * built from the Go module go.temporal.io/server into .tools/bin (kept in the machine-wide cache like
 * the CLI, so a fresh clone copies them), and a PostgreSQL installation to run a cluster of our own.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, runSync, which } from './exec';
import { ROOT, TOOLS_DIR } from './paths';
import { type Log, withProgress } from './progress';

export const TEMPORAL_SERVER_VERSION = 'v1.30.9';
/** v1.30.9 needs Go 1.26.10; GOTOOLCHAIN makes an older go fetch it through the module proxy. */
const GO_TOOLCHAIN = 'go1.26.10';
const SERVER_MODULE = 'go.temporal.io/server';

export interface PostgresInstall {
  binDir: string;
  initdb: string;
  postgres: string;
  version: string;
  /** initdb and postgres refuse to run as root: when we are root they run as this user. */
  runAs: { user: string; uid: number; gid: number } | undefined;
}

export interface ServerTools {
  /** temporal-server (cmd/server) */
  server: string;
  /** temporal-sql-tool (cmd/tools/sql); the schemas are embedded in it (--schema-name). */
  sqlTool: string;
  version: string;
  postgres: PostgresInstall;
}

type Env = Record<string, string | undefined>;

export async function ensureServerTools(env: Env, out: Log, cacheDir: string): Promise<ServerTools> {
  const postgres = findPostgres(env, out);
  const server = await ensureGoBinary(env, out, cacheDir, { pkg: 'cmd/server', built: 'server', name: 'temporal-server' });
  const sqlTool = await ensureGoBinary(env, out, cacheDir, { pkg: 'cmd/tools/sql', built: 'sql', name: 'temporal-sql-tool' });
  return { server, sqlTool, version: TEMPORAL_SERVER_VERSION, postgres };
}

interface GoBinary {
  /** Package inside the module. */
  pkg: string;
  /** The name go install gives it (the package's folder). */
  built: string;
  /** Our name for it, in .tools/bin and in the cache. */
  name: string;
}

async function ensureGoBinary(env: Env, out: Log, cacheDir: string, bin: GoBinary): Promise<string> {
  const local = path.join(TOOLS_DIR, 'bin', bin.name);
  const stamp = `${local}.version`;
  if (existsSync(local) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === TEMPORAL_SERVER_VERSION) {
    out(`${bin.name}: ${path.relative(ROOT, local)} (${TEMPORAL_SERVER_VERSION}, built earlier)`);
    return local;
  }
  mkdirSync(path.dirname(local), { recursive: true });
  const cached = path.join(cacheDir, `${bin.name}-${TEMPORAL_SERVER_VERSION}`);
  if (existsSync(cached)) {
    copyFileSync(cached, local);
    chmodSync(local, 0o755);
    writeFileSync(stamp, `${TEMPORAL_SERVER_VERSION}\n`);
    out(`${bin.name}: ${path.relative(ROOT, local)} (${TEMPORAL_SERVER_VERSION}, copied from the cache ${cached})`);
    return local;
  }
  const go = which('go');
  if (!go) throw new Error(`${bin.name}: the server profile builds Temporal Server from source and needs Go (https://go.dev/dl/); or use STACK=dev`);
  const gobin = mkdtempSync(path.join(os.tmpdir(), 'b2b-gobin-'));
  try {
    // Two cores are shared with running tests: the build (minutes) yields to them.
    const nice = which('nice');
    const [cmd, args] = nice ? [nice, ['-n', '10', go]] : [go, []];
    await withProgress(
      `${bin.name}: building ${SERVER_MODULE}/${bin.pkg}@${TEMPORAL_SERVER_VERSION} with ${env.GOTOOLCHAIN || GO_TOOLCHAIN} (first time only, a few minutes)`,
      () =>
        run(cmd, [...args, 'install', `${SERVER_MODULE}/${bin.pkg}@${TEMPORAL_SERVER_VERSION}`], {
          env: { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', GOTOOLCHAIN: env.GOTOOLCHAIN || GO_TOOLCHAIN },
        }),
      out,
    );
    copyFileSync(path.join(gobin, bin.built), local);
    chmodSync(local, 0o755);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  writeFileSync(stamp, `${TEMPORAL_SERVER_VERSION}\n`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Copy then rename: a clone provisioning at the same time never copies half a binary.
    copyFileSync(local, `${cached}.tmp-${process.pid}`);
    renameSync(`${cached}.tmp-${process.pid}`, cached);
  } catch (err) {
    out(`${bin.name}: could not keep a copy in ${cached} (${(err as Error).message}); the next fresh clone builds it again`);
  }
  return local;
}

const POSTGRES_HINT = 'install PostgreSQL (Debian: apt-get install postgresql) or set PG_BIN_DIR to the folder holding initdb and postgres';

/** PG_BIN_DIR, else initdb on PATH, else the newest Debian install under /usr/lib/postgresql. */
export function findPostgres(env: Env, out: Log): PostgresInstall {
  const binDir = env.PG_BIN_DIR || debianPostgresBinDir() || (which('initdb') ? path.dirname(which('initdb') as string) : undefined);
  if (!binDir) throw new Error(`PostgreSQL: not found; the server profile needs it: ${POSTGRES_HINT}`);
  const initdb = path.join(binDir, 'initdb');
  const postgres = path.join(binDir, 'postgres');
  if (!existsSync(initdb) || !existsSync(postgres)) throw new Error(`PostgreSQL: no initdb and postgres in ${binDir}: ${POSTGRES_HINT}`);
  const version = runSync(postgres, ['--version']).output.trim();
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  out(`PostgreSQL: ${binDir} (${version})${runAs ? `, run as user ${runAs.user} (not as root)` : ''}`);
  return { binDir, initdb, postgres, version, runAs };
}

function debianPostgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

function postgresUser(): { user: string; uid: number; gid: number } {
  const user = 'postgres';
  const uid = runSync('id', ['-u', user]);
  const gid = runSync('id', ['-g', user]);
  if (!uid.ok || !gid.ok) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no user "${user}" to run it as: run as another user, or create it (Debian's postgresql package does)`,
    );
  }
  return { user, uid: Number(uid.output.trim()), gid: Number(gid.output.trim()) };
}

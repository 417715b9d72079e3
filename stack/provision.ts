/**
 * Provisioning: makes sure a Temporal CLI (dev server + Web UI) and a MongoDB server can be started,
 * and, for the time-skipping workflow tests, Temporal's Java test server.
 * Idempotent: a second run finds everything in .tools and returns at once.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, runSync, which } from './exec';
import { ROOT, TOOLS_DIR } from './paths';
import { stackProfile, type StackProfile } from './profile';
import { log as defaultLog, withProgress, type Log } from './progress';
import { ensureServerTools, type ServerTools } from './provision-server';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export type TemporalCli =
  | { kind: 'binary'; path: string; source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'tools' }
  /** No Go here: the SDK downloads its own dev server when the stack starts (needs the internet). */
  | { kind: 'sdk-download' };

export type MongoServerSpec = { kind: 'external'; uri: string } | { kind: 'mongod'; path: string } | { kind: 'java'; java: string; classpath: string };

/** An executable that starts Temporal's time-skipping test server; its one argument is the port. */
export type TestServerSpec = { kind: 'executable'; path: string; source: 'TEMPORAL_TEST_SERVER_PATH' | 'tools' } | { kind: 'unavailable'; why: string };

export interface Provisioned {
  profile: StackProfile;
  temporal: TemporalCli | undefined;
  /** The server profile's Temporal Server, schema tool and PostgreSQL (undefined on the dev profile or with TEMPORAL_ADDRESS). */
  server: ServerTools | undefined;
  mongo: MongoServerSpec;
  testServer: TestServerSpec;
}

export interface ProvisionOptions {
  env?: Record<string, string | undefined>;
  log?: Log;
  /** Skip the Temporal CLI when a Temporal server is given (TEMPORAL_ADDRESS). */
  needTemporal?: boolean;
}

export async function provision(options: ProvisionOptions = {}): Promise<Provisioned> {
  const env = options.env ?? process.env;
  const out = options.log ?? defaultLog;
  mkdirSync(TOOLS_DIR, { recursive: true });
  const profile = stackProfile(env);
  const needTemporal = options.needTemporal ?? !env.TEMPORAL_ADDRESS;
  out(`stack profile: ${profile}${profile === 'server' ? ' (Temporal Server on PostgreSQL)' : ' (Temporal dev server on SQLite)'}`);
  // The server profile keeps the CLI too: the fault suite and operators use it (it is cached).
  const temporal = needTemporal ? await ensureTemporalCli(env, out) : undefined;
  const server = needTemporal && profile === 'server' ? await ensureServerTools(env, out, machineCacheDir(env)) : undefined;
  if (!needTemporal) out(`Temporal: using the server at ${env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); no CLI needed`);
  const mongo = await ensureMongoServer(env, out);
  // Only the time-skipping tests need it: a machine without Java still runs the stack.
  const testServer = await ensureTemporalTestServer(env, out, { required: false });
  return { profile, temporal, server, mongo, testServer };
}

export async function ensureTemporalCli(env: Record<string, string | undefined>, out: Log): Promise<TemporalCli> {
  if (env.TEMPORAL_CLI_PATH) {
    if (!existsSync(env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} does not exist`);
    }
    out(`Temporal CLI: ${env.TEMPORAL_CLI_PATH} (TEMPORAL_CLI_PATH)`);
    return { kind: 'binary', path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  const local = path.join(TOOLS_DIR, 'bin', 'temporal');
  const stamp = `${local}.version`;
  if (existsSync(local) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === TEMPORAL_CLI_VERSION) {
    out(`Temporal CLI: ${path.relative(ROOT, local)} (${TEMPORAL_CLI_VERSION}, built earlier)`);
    return { kind: 'binary', path: local, source: 'tools' };
  }
  // A machine-wide cache outlives fresh clones (CI clones anew every run); the build takes minutes.
  const cached = path.join(machineCacheDir(env), `temporal-${TEMPORAL_CLI_VERSION}`);
  if (existsSync(cached)) {
    mkdirSync(path.dirname(local), { recursive: true });
    copyFileSync(cached, local);
    chmodSync(local, 0o755);
    writeFileSync(stamp, `${TEMPORAL_CLI_VERSION}\n`);
    out(`Temporal CLI: ${path.relative(ROOT, local)} (${TEMPORAL_CLI_VERSION}, copied from the cache ${cached})`);
    return { kind: 'binary', path: local, source: 'tools' };
  }
  const onPath = which('temporal');
  if (onPath) {
    out(`Temporal CLI: ${onPath} (found on PATH)`);
    return { kind: 'binary', path: onPath, source: 'PATH' };
  }
  const go = which('go');
  if (!go) {
    out('Temporal CLI: Go is not installed, so the CLI cannot be built here;');
    out('  the Temporal SDK will download its dev server when the stack starts (this needs the internet).');
    return { kind: 'sdk-download' };
  }
  await withProgress(
    `Temporal CLI: building ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} with ${runSync(go, ['version']).output.trim()} (first time only, takes a few minutes)`,
    () =>
      run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, GOBIN: path.join(TOOLS_DIR, 'bin'), GOFLAGS: '-mod=mod' },
      }),
    out,
  );
  writeFileSync(stamp, `${TEMPORAL_CLI_VERSION}\n`);
  try {
    mkdirSync(path.dirname(cached), { recursive: true });
    copyFileSync(local, cached);
  } catch (err) {
    out(`Temporal CLI: could not keep a copy in ${cached} (${(err as Error).message}); the next fresh clone builds it again`);
  }
  return { kind: 'binary', path: local, source: 'tools' };
}

/** B2B_CHECKOUT_CACHE, else $XDG_CACHE_HOME/b2b-checkout, else ~/.cache/b2b-checkout. */
export function machineCacheDir(env: Record<string, string | undefined>): string {
  if (env.B2B_CHECKOUT_CACHE) return env.B2B_CHECKOUT_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'b2b-checkout');
}

const MONGO_DIR = path.join(TOOLS_DIR, 'mongo-java-server');
const LAUNCHER_SOURCE = path.join(ROOT, 'stack', 'mongo-java-server', 'MongoLauncher.java');
const POM = path.join(ROOT, 'stack', 'mongo-java-server', 'pom.xml');

export async function ensureMongoServer(env: Record<string, string | undefined>, out: Log): Promise<MongoServerSpec> {
  if (env.MONGODB_URI) {
    out('MongoDB: using the server at MONGODB_URI; none will be started');
    return { kind: 'external', uri: env.MONGODB_URI };
  }
  const mongod = env.MONGOD_PATH || which('mongod');
  if (mongod && env.MONGO_SERVER !== 'java') {
    out(`MongoDB: ${mongod} (a real mongod)`);
    return { kind: 'mongod', path: mongod };
  }
  const java = which('java');
  if (!java) throw new Error('MongoDB: no MONGODB_URI, no mongod on PATH and no java: install Java 17 and Maven, or set MONGODB_URI');

  // The stamp ties the build to the launcher source and the pom, so an edit to either rebuilds it.
  const fingerprint = createHash('sha256').update(readFileSync(LAUNCHER_SOURCE)).update(readFileSync(POM)).digest('hex');
  const stampFile = path.join(MONGO_DIR, 'stamp');
  const libDir = path.join(MONGO_DIR, 'lib');
  const classesDir = path.join(MONGO_DIR, 'classes');
  const classpath = () => [classesDir, ...readdirSync(libDir).map((f) => path.join(libDir, f))].join(path.delimiter);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === fingerprint) {
    out(`MongoDB: mongo-java-server (${path.relative(ROOT, MONGO_DIR)}, built earlier)`);
    return { kind: 'java', java, classpath: classpath() };
  }
  const mvn = which('mvn');
  const javac = which('javac');
  if (!mvn || !javac) throw new Error('MongoDB: mongo-java-server needs Maven (mvn) and a JDK (javac); or set MONGODB_URI');
  rmSync(MONGO_DIR, { recursive: true, force: true });
  mkdirSync(classesDir, { recursive: true });
  await withProgress(
    'MongoDB: fetching mongo-java-server from Maven Central',
    () => run(mvn, ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime']),
    out,
  );
  await withProgress('MongoDB: compiling the launcher', () => run(javac, ['-d', classesDir, '-cp', path.join(libDir, '*'), LAUNCHER_SOURCE]), out);
  writeFileSync(stampFile, `${fingerprint}\n`);
  return { kind: 'java', java, classpath: classpath() };
}

export const TEMPORAL_TEST_SERVER_VERSION = '1.31.0';
const TEST_SERVER_POM = path.join(ROOT, 'stack', 'temporal-test-server.pom.xml');
const TEST_SERVER_DIR = path.join(TOOLS_DIR, 'temporal-test-server');
/** The wrapper the SDK runs as an `existing-path` executable: `temporal-test-server <port>`. */
export const TEST_SERVER_WRAPPER = path.join(TOOLS_DIR, 'bin', 'temporal-test-server');

/**
 * Temporal's Java test server (time skipping), from Maven Central into .tools, with a wrapper script
 * in .tools/bin. The SDK's own download of it cannot be used here (it fetches a release binary, not a
 * registry package); Maven keeps the jars in ~/.m2, so fresh clones copy them without a download.
 * TEMPORAL_TEST_SERVER_PATH names another executable to use (same calling convention: the port).
 * `required: false` reports what is missing instead of failing.
 */
export async function ensureTemporalTestServer(
  env: Record<string, string | undefined>,
  out: Log,
  { required = true }: { required?: boolean } = {},
): Promise<TestServerSpec> {
  const missing = (why: string): TestServerSpec => {
    if (required) throw new Error(`Temporal test server: ${why}`);
    out(`Temporal test server: skipped, ${why} (only the time-skipping workflow tests need it)`);
    return { kind: 'unavailable', why };
  };
  if (env.TEMPORAL_TEST_SERVER_PATH) {
    if (!existsSync(env.TEMPORAL_TEST_SERVER_PATH)) return missing(`TEMPORAL_TEST_SERVER_PATH=${env.TEMPORAL_TEST_SERVER_PATH} does not exist`);
    out(`Temporal test server: ${env.TEMPORAL_TEST_SERVER_PATH} (TEMPORAL_TEST_SERVER_PATH)`);
    return { kind: 'executable', path: env.TEMPORAL_TEST_SERVER_PATH, source: 'TEMPORAL_TEST_SERVER_PATH' };
  }
  const java = which('java');
  if (!java) return missing('it needs Java 17 (java on PATH), or set TEMPORAL_TEST_SERVER_PATH');
  const libDir = path.join(TEST_SERVER_DIR, 'lib');
  // The SDK starts the executable with the port as its only argument; TestServer's main takes just that.
  const wrapper = [
    '#!/bin/sh',
    "# Written by b2b-checkout provisioning (stack/provision.ts): Temporal's time-skipping test server.",
    // C1 only and the serial collector: the JVM listens sooner, which matters because the SDK waits 5 s at most.
    `exec "${java}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "${libDir}/*" io.temporal.testserver.TestServer "$@"`,
    '',
  ].join('\n');
  const fingerprint = createHash('sha256').update(readFileSync(TEST_SERVER_POM)).update(wrapper).digest('hex');
  const stampFile = path.join(TEST_SERVER_DIR, 'stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === fingerprint && existsSync(TEST_SERVER_WRAPPER)) {
    out(`Temporal test server: ${path.relative(ROOT, TEST_SERVER_WRAPPER)} (${TEMPORAL_TEST_SERVER_VERSION}, fetched earlier)`);
    return { kind: 'executable', path: TEST_SERVER_WRAPPER, source: 'tools' };
  }
  const mvn = which('mvn');
  if (!mvn) return missing('it is fetched with Maven (mvn), which is not installed; or set TEMPORAL_TEST_SERVER_PATH');
  rmSync(TEST_SERVER_DIR, { recursive: true, force: true });
  mkdirSync(libDir, { recursive: true });
  await withProgress(
    `Temporal test server: fetching io.temporal:temporal-test-server:${TEMPORAL_TEST_SERVER_VERSION} with Maven`,
    () => run(mvn, ['-q', '-B', '-f', TEST_SERVER_POM, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime']),
    out,
  );
  mkdirSync(path.dirname(TEST_SERVER_WRAPPER), { recursive: true });
  writeFileSync(TEST_SERVER_WRAPPER, wrapper, { mode: 0o755 });
  chmodSync(TEST_SERVER_WRAPPER, 0o755);
  writeFileSync(stampFile, `${fingerprint}\n`);
  out(`Temporal test server: ${path.relative(ROOT, TEST_SERVER_WRAPPER)} (${TEMPORAL_TEST_SERVER_VERSION})`);
  return { kind: 'executable', path: TEST_SERVER_WRAPPER, source: 'tools' };
}

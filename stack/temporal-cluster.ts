/**
 * The server profile's Temporal: Temporal Server (frontend, history, matching and worker services in
 * one process) over PostgreSQL, with several history shards and the repository's dynamic config file
 * (deploy/temporal/dynamicconfig.yaml, which docker-compose mounts too). The schema is set up with
 * temporal-sql-tool, then the namespace and the search attributes are registered: unlike the dev
 * server, Temporal Server creates neither.
 */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureSearchAttributes } from '../src/temporal';
import { run } from './exec';
import { startManaged, type ManagedProcess } from './managed-process';
import { ROOT } from './paths';
import { canBind, freePort, freePortInRange } from './ports';
import type { PostgresServer } from './postgres';
import type { ServerTools } from './provision-server';
import { waitServing } from './temporal-server';

export const HISTORY_SHARDS = 4;
export const DYNAMIC_CONFIG_FILE = path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
const DATABASES = [
  { name: 'temporal', schema: 'postgresql/v12/temporal' },
  { name: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
];
/** How long a closed workflow's history is kept (the dev server's default too). */
const RETENTION = '1 day';
const GRPC_ALREADY_EXISTS = 6;

export interface TemporalClusterOptions {
  tools: ServerTools;
  postgres: PostgresServer;
  ip: string;
  /** The frontend's gRPC port. */
  port: number;
  /** Folder for the generated config file and the schema stamp. */
  stateDir: string;
  namespace: string;
  logFile?: string;
  readyTimeoutMs?: number;
}

export interface TemporalCluster {
  address: string;
  process: ManagedProcess;
  description: string;
  stop(): Promise<void>;
}

/**
 * Creates both databases and their schema the first time (a stamp in stateDir records the version),
 * and brings an existing schema up to this release's (update-schema is a no-op when it is current).
 */
export async function ensureTemporalSchema(tools: ServerTools, pg: PostgresServer, stateDir: string): Promise<void> {
  const stamp = path.join(stateDir, 'schema.version');
  const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
  if (current === tools.version) return;
  const conn = ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user];
  for (const db of DATABASES) {
    if (current === undefined) {
      // A first setup cut short (Ctrl-C) left some of this behind: what exists already is kept.
      await run(tools.sqlTool, [...conn, '--db', db.name, 'create-database']).catch(unlessExists);
      await run(tools.sqlTool, [...conn, '--db', db.name, 'setup-schema', '-v', '0.0']).catch(unlessExists);
    }
    await run(tools.sqlTool, [...conn, '--db', db.name, 'update-schema', '--schema-name', db.schema]);
  }
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(stamp, `${tools.version}\n`);
}

function unlessExists(err: Error): void {
  if (!/already exists/.test(err.message)) throw err;
}

export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const { ip, port, postgres: pg } = options;
  mkdirSync(options.stateDir, { recursive: true });
  await ensureTemporalSchema(options.tools, pg, options.stateDir);
  const ports = await servicePorts(ip, port, path.join(options.stateDir, 'ports.json'));
  const configFile = path.join(options.stateDir, 'temporal-server.yaml');
  writeFileSync(configFile, serverConfig({ ip, port, ports, pg }));
  const proc = startManaged('temporal server', options.tools.server, ['--config-file', configFile, '--allow-no-auth', 'start'], options.logFile);
  const address = `${ip}:${port}`;
  try {
    await Promise.race([waitServing(address, options.readyTimeoutMs ?? 120000), proc.exited]);
    await Promise.race([registerNamespace(address, options.namespace), proc.exited]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    address,
    process: proc,
    description: `Temporal Server ${options.tools.version} (${HISTORY_SHARDS} history shards) on ${pg.description}`,
    stop: () => proc.stop(),
  };
}

type ServicePorts = ConfigInput['ports'];
const SERVICE_PORTS: (keyof ServicePorts)[] = [
  'frontendHttp',
  'frontendMembership',
  'history',
  'historyMembership',
  'matching',
  'matchingMembership',
  'worker',
  'workerMembership',
];

/**
 * The services' ports, the same across restarts on one data folder when they are still free: the
 * membership table in PostgreSQL remembers the last process's hosts, and a restarted server whose
 * services answer there takes its shards back at once instead of waiting for the old ones to expire.
 */
async function servicePorts(ip: string, frontend: number, file: string): Promise<ServicePorts> {
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ServicePorts>) : {};
  const ports = {} as ServicePorts;
  const taken = new Set([frontend]);
  for (const key of SERVICE_PORTS) {
    const previous = kept[key];
    if (previous && !taken.has(previous) && (await canBind(ip, previous))) {
      ports[key] = previous;
    } else {
      const pick = () => (key.endsWith('Membership') ? freePortInRange(20000, 32767, ip) : freePort(ip));
      let p = await pick();
      while (taken.has(p)) p = await pick();
      ports[key] = p;
    }
    taken.add(ports[key]);
  }
  writeFileSync(file, `${JSON.stringify(ports)}\n`);
  return ports;
}

/** The namespace (retention one day) and the search attributes; both survive in PostgreSQL, so a restart finds them. */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION) });
    } catch (err) {
      if ((err as { code?: number }).code !== GRPC_ALREADY_EXISTS) throw err;
    }
    // The frontend learns of a new namespace on its next namespace cache refresh (every 2 s by default):
    // until then it answers NotFound, so the registration of the search attributes is retried.
    const deadline = Date.now() + 60000;
    for (;;) {
      try {
        await ensureSearchAttributes(connection, namespace);
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await connection.close();
  }
}

interface ConfigInput {
  ip: string;
  port: number;
  ports: Record<
    'frontendHttp' | 'frontendMembership' | 'history' | 'historyMembership' | 'matching' | 'matchingMembership' | 'worker' | 'workerMembership',
    number
  >;
  pg: PostgresServer;
}

/** The server's static config, from the module's config/development-postgres12.yaml: ports, shards, stores. */
function serverConfig({ ip, port, ports, pg }: ConfigInput): string {
  const store = (db: string, maxConns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "${pg.host}:${pg.port}"
        connectProtocol: "tcp"
        user: "${pg.user}"
        password: ""
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnIP: "${ip}"${http ? `\n      httpPort: ${http}` : ''}`;
  return `# Written by stack/temporal-cluster.ts for one run of the server profile; regenerated on every start.
log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${HISTORY_SHARDS}
  datastores:
    postgres-default:${store('temporal', 20)}
    postgres-visibility:${store('temporal_visibility', 10)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "${ip}"

services:
  frontend:${service(port, ports.frontendMembership, ports.frontendHttp)}
  history:${service(ports.history, ports.historyMembership)}
  matching:${service(ports.matching, ports.matchingMembership)}
  worker:${service(ports.worker, ports.workerMembership)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "${ip}:${port}"
      httpAddress: "${ip}:${ports.frontendHttp}"

dcRedirectionPolicy:
  policy: "noop"

archival:
  history:
    state: "disabled"
  visibility:
    state: "disabled"

namespaceDefaults:
  archival:
    history:
      state: "disabled"
    visibility:
      state: "disabled"

publicClient:
  hostPort: "${ip}:${port}"

dynamicConfigClient:
  filepath: "${DYNAMIC_CONFIG_FILE}"
  pollInterval: "10s"
`;
}

/**
 * `node dist/src/healthcheck.js worker|api`: the containers' health checks (the image has node, not
 * curl). Exits 0 when healthy, 1 with one line saying why otherwise.
 *   api     GET /healthz on API_PORT answers 200 (Temporal and MongoDB reachable from the API).
 *   worker  the SDK's metrics on WORKER_METRICS_ADDRESS show pollers on the task queue, which only a
 *           worker that connected to Temporal and started polling reports; and a versioned worker's
 *           deployment has a current version (new checkouts reach some worker: on a first deploy, once
 *           the worker has made its own version current).
 */
import { Client, Connection } from '@temporalio/client';
import { appSettings, temporalSettings, type WorkerDeploymentSettings } from './config';
import { describeRouting } from './deployment';

const TIMEOUT_MS = 4000;

/** A wildcard bind address is reached through loopback from inside the container. */
function local(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: res.status, body: await res.text() };
}

/** Pollers the worker reports: the sum of the temporal_num_pollers gauges (workflow, sticky and activity). */
export function pollerCount(metrics: string): number {
  return metrics
    .split('\n')
    .filter((line) => /^temporal_num_pollers[{\s]/.test(line))
    .reduce((sum, line) => sum + (Number(line.trim().split(/\s+/).pop()) || 0), 0);
}

/** The worker's version and the deployment's current one; throws while the deployment has none. */
async function versionLine(d: WorkerDeploymentSettings): Promise<string> {
  const temporal = temporalSettings();
  const connection = await Connection.connect({ ...temporal.connectionOptions, connectTimeout: TIMEOUT_MS });
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    const routing = await connection.withDeadline(Date.now() + TIMEOUT_MS, () => describeRouting(client, d.deploymentName));
    const current = routing?.current;
    if (!current) throw new Error(`worker: deployment ${d.deploymentName} has no current version yet (this worker is ${d.buildId}; docs/DEPLOY.md)`);
    return `version ${d.deploymentName}.${d.buildId} (current: ${current.buildId})`;
  } finally {
    await connection.close();
  }
}

export async function check(what: string): Promise<string> {
  const settings = appSettings();
  if (what === 'api') {
    const { status, body } = await get(`http://${local(settings.apiHost)}:${settings.apiPort}/healthz`);
    if (status !== 200) throw new Error(`api: /healthz answered ${status} ${body}`);
    return `api: ${body}`;
  }
  if (what === 'worker') {
    if (!settings.workerMetricsAddress) throw new Error('worker: WORKER_METRICS_ADDRESS is not set, nothing to check');
    const at = settings.workerMetricsAddress.lastIndexOf(':');
    const url = `http://${local(settings.workerMetricsAddress.slice(0, at))}:${settings.workerMetricsAddress.slice(at + 1)}/metrics`;
    const { status, body } = await get(url);
    if (status !== 200) throw new Error(`worker: ${url} answered ${status}`);
    const pollers = pollerCount(body);
    if (pollers <= 0) throw new Error('worker: no pollers yet (not connected to Temporal, or not started)');
    if (!settings.workerDeployment) return `worker: ${pollers} pollers (unversioned)`;
    return `worker: ${pollers} pollers, ${await versionLine(settings.workerDeployment)}`;
  }
  throw new Error(`usage: healthcheck.js worker|api (got "${what}")`);
}

if (require.main === module) {
  check(process.argv[2] ?? '').then(
    (line) => console.log(line),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}

/**
 * `node dist/src/healthcheck.js worker|api`: the containers' health checks (the image has node, not
 * curl). Exits 0 when healthy, 1 with one line saying why otherwise.
 *   api     GET /healthz on API_PORT answers 200 (Temporal and MongoDB reachable from the API).
 *   worker  the SDK's metrics on WORKER_METRICS_ADDRESS show pollers on the task queue, which only a
 *           worker that connected to Temporal and started polling reports.
 */
import { appSettings } from './config';

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
    return `worker: ${pollers} pollers`;
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

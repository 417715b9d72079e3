/**
 * What /metrics serves: the API's Prometheus registry (request counts and latencies by route,
 * process metrics) and, when the worker's endpoint is known, the Temporal SDK's worker metrics
 * appended as they are. The onResponse hook that counts requests also writes the request log line.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  /** The Prometheus text of /metrics. */
  text(): Promise<string>;
  contentType: string;
}

/** How long /metrics waits for the worker's endpoint before it says it is unavailable. */
const WORKER_METRICS_TIMEOUT_MS = 2000;

export function registerMetrics(app: FastifyInstance, options: { temporalMetricsUrl?: string }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'b2b_api_' });
  const requests = new Counter({
    name: 'b2b_api_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'b2b_api_request_duration_seconds',
    help: 'HTTP request duration by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    const params = req.params;
    // fastify's request logger: the line carries its reqId.
    req.log.info(
      {
        method: req.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(params && typeof params === 'object' && 'cartId' in params ? { cartId: (params as { cartId: string }).cartId } : {}),
      },
      'request',
    );
  });
  const url = options.temporalMetricsUrl;
  return {
    text: async () => (await registry.metrics()) + (url ? await workerMetrics(url) : ''),
    contentType: registry.contentType,
  };
}

async function workerMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(WORKER_METRICS_TIMEOUT_MS) });
    return `\n# Temporal SDK runtime metrics (worker)\n${await res.text()}`;
  } catch (err) {
    return `\n# Temporal SDK runtime metrics unavailable: ${(err as Error).message}\n`;
  }
}

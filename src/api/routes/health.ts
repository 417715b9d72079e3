/** GET /healthz (Temporal and MongoDB reachable) and GET /metrics; both without a token. */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { CartService } from '../../carts';
import { RETRY_AFTER_S } from '../errors';
import type { Metrics } from '../metrics';

/** How long /healthz waits for Temporal's answer. */
const TEMPORAL_PING_MS = 3000;

const outcome = (check: Promise<unknown>): Promise<string> =>
  check.then(
    () => 'ok',
    (e: Error) => `unreachable: ${e.message}`,
  );

export function healthRoutes(app: FastifyInstance, deps: { temporal: Client; carts: CartService; metrics: Metrics }): void {
  const { temporal, carts, metrics } = deps;
  app.get('/healthz', async (_req, reply) => {
    const [temporalState, mongodb] = await Promise.all([
      outcome(temporal.withDeadline(Date.now() + TEMPORAL_PING_MS, () => temporal.workflowService.getSystemInfo({}))),
      outcome(carts.ping()),
    ]);
    const ok = temporalState === 'ok' && mongodb === 'ok';
    if (!ok) void reply.header('retry-after', String(RETRY_AFTER_S.UNAVAILABLE));
    return reply.status(ok ? 200 : 503).send({ temporal: temporalState, mongodb });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
}

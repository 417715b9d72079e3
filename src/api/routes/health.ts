/** GET /healthz (Temporal and MongoDB reachable) and GET /metrics; both without a token. */
import type { Client } from '@temporalio/client';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { CartService } from '../../carts';
import { RETRY_AFTER_S } from '../errors';
import type { Metrics } from '../metrics';
import { HealthSchema, Type } from '../schemas';

/** How long /healthz waits for Temporal's answer. */
const TEMPORAL_PING_MS = 3000;

const outcome = (check: Promise<unknown>): Promise<string> =>
  check.then(
    () => 'ok',
    (e: Error) => `unreachable: ${e.message}`,
  );

export function healthRoutes(app: FastifyInstance, deps: { temporal: Client; carts: CartService; metrics: Metrics }): void {
  const { temporal, carts, metrics } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/healthz',
    {
      schema: {
        summary: 'Whether Temporal and MongoDB answer',
        tags: ['operations'],
        response: { 200: HealthSchema, 503: Type.Object(HealthSchema.properties, { description: 'A part is down (Retry-After).' }) },
      },
    },
    async (_req, reply) => {
      const [temporalState, mongodb] = await Promise.all([
        outcome(temporal.withDeadline(Date.now() + TEMPORAL_PING_MS, () => temporal.workflowService.getSystemInfo({}))),
        outcome(carts.ping()),
      ]);
      const ok = temporalState === 'ok' && mongodb === 'ok';
      if (!ok) void reply.header('retry-after', String(RETRY_AFTER_S.UNAVAILABLE));
      return reply.status(ok ? 200 : 503).send({ temporal: temporalState, mongodb });
    },
  );
  api.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics of the API (and of the worker, when its endpoint is known)',
        tags: ['operations'],
        response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  );
}

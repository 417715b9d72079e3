/** GET /events: the cart event feed, in cursor order (an admin or service token). */
import type { FastifyInstance } from 'fastify';
// The schema's summary and tags are @fastify/swagger's (its types add them to Fastify's schema).
import type {} from '@fastify/swagger';
import { Type } from 'typebox';
import { CART_EVENT_TYPES, CheckoutError, EVENTS_PAGE, type EventPage } from '../../contract';

/** A cursor is a non-negative integer, written in decimal without leading zeros. */
const CURSOR = Type.String({ pattern: '^(0|[1-9][0-9]{0,14})$', description: 'A cursor: the `next` of an earlier page, or 0 for the start.' });

const EventSchema = Type.Object({
  id: Type.String({ description: '`<cartId>:<seq>`: unique, stable, for deduplication' }),
  cursor: CURSOR,
  type: Type.Union(CART_EVENT_TYPES.map((t) => Type.Literal(t))),
  cartId: Type.String(),
  webstoreId: Type.Optional(Type.String()),
  at: Type.String({ format: 'date-time' }),
  data: Type.Record(Type.String(), Type.Unknown()),
});

const QuerySchema = Type.Object(
  {
    after: Type.Optional(CURSOR),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: `1-${EVENTS_PAGE.maxLimit}, default ${EVENTS_PAGE.defaultLimit}` })),
  },
  { additionalProperties: false },
);

const PageSchema = Type.Object({ events: Type.Array(EventSchema), next: CURSOR });

/** The feed's reader (src/db/events.ts `EventLog`, given by app.ts). */
export interface EventFeed {
  page(after: number, limit: number): Promise<EventPage>;
}

export function eventRoutes(app: FastifyInstance, feed: EventFeed): void {
  app.get<{ Querystring: { after?: string; limit?: string } }>(
    '/events',
    {
      schema: {
        summary: 'Cart events after a cursor, oldest first',
        description: 'Every cart transition records one event; `next` is the cursor to pass as `after` for the following page.',
        tags: ['events'],
        querystring: QuerySchema,
        response: { 200: PageSchema },
      },
    },
    async (req): Promise<EventPage> => {
      const limit = req.query.limit === undefined ? EVENTS_PAGE.defaultLimit : Number(req.query.limit);
      if (limit > EVENTS_PAGE.maxLimit) {
        throw new CheckoutError('INVALID_INPUT', `limit must be at most ${EVENTS_PAGE.maxLimit}.`, { field: 'limit' });
      }
      return feed.page(Number(req.query.after ?? '0'), limit);
    },
  );
}

/**
 * Webhook activities (issue 12): deliver a subscription's next events, and record its status. Each
 * run reads the subscription afresh (a PUT's new url, secret or types apply from the next read),
 * waits for events when caught up, POSTs them in cursor order and moves the cursor after each 2xx,
 * so an event is delivered at least once and never skipped. The receiver's side: docs/contract.md.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  WEBHOOK_DELIVERY,
  WEBHOOK_DELIVERY_FAILED,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type DeliverInput,
  type DeliverResult,
  type WebhookError,
  type WebhookStatusInput,
} from '../src/contract';
import { WebhookStore, webhookDelivery, type EventDoc, type WebhookDoc } from '../src/db';
import { signBody } from './integrations';

export interface WebhookActivityDeps {
  webhooks: WebhookStore;
  /** How long a caught-up run waits for a new event (default WEBHOOK_DELIVERY.idleWaitMs); tests shorten it. */
  idleWaitMs?: number;
  /** Runs of this worker waiting at once, at most (default WEBHOOK_DELIVERY.maxWaitingPerWorker). */
  maxWaiting?: number;
  /**
   * True once the worker is shutting down. A waiting run then returns caught-up at once instead of
   * holding the worker's shutdown grace time (only a cancel reaches it otherwise, at the grace's end).
   */
  workerStopping?: () => boolean;
}

/** A run stops taking new events after this long, so it ends well inside its start-to-close timeout. */
const RUN_BUDGET_MS = 2 * 60 * 1000;
const HEARTBEAT_EVERY_MS = 1000;

export function createWebhookActivities(deps: WebhookActivityDeps) {
  const { webhooks } = deps;
  const nextOrWait = eventWaiter(deps);

  return {
    /**
     * Delivers the subscription's next events in order, waiting for them when there are none yet. A
     * failure stops the run at that event: after some progress the run returns it (the workflow
     * records the progress and calls again at once); on the run's first event it fails, retryable,
     * so Temporal's backoff paces the retries.
     */
    async deliverWebhookEvents(input: DeliverInput): Promise<DeliverResult> {
      const next = await nextOrWait(input);
      if (!next) return { gone: true, delivered: 0, cursor: 0, more: false };
      const { sub, events } = next;
      if (next.busy) return { gone: false, delivered: 0, cursor: sub.cursor, more: false, busy: true };
      const startedAt = Date.now();
      let delivered = 0;
      for (const event of events) {
        if (Date.now() - startedAt > RUN_BUDGET_MS) return { gone: false, delivered, cursor: sub.cursor, more: true };
        const failure = await post(sub, event);
        if (failure) {
          await webhooks.recordError(sub, failure);
          if (delivered > 0) return { gone: false, delivered, cursor: sub.cursor, more: true, failure };
          throw ApplicationFailure.create({
            type: WEBHOOK_DELIVERY_FAILED,
            message: `${failure.eventId}: ${failure.message}`,
            nonRetryable: false,
            details: [failure],
          });
        }
        // Only after the receiver took it: at least once, never skipped.
        await webhooks.advance(sub, event._id);
        sub.cursor = event._id;
        delivered++;
      }
      return { gone: false, delivered, cursor: sub.cursor, more: events.length === WEBHOOK_DELIVERY.batchSize };
    },

    async recordWebhookStatus(input: WebhookStatusInput): Promise<void> {
      await webhooks.setStatus(input.webstoreId, input.name, input.status, new Date(input.at), input.lastError);
      if (input.status === 'paused') {
        log.warn('webhook subscription paused: its deliveries have failed for too long', {
          webstoreId: input.webstoreId,
          name: input.name,
          lastError: input.lastError,
        });
      }
    },
  };
}

/**
 * The subscription and its next events; when there are none, waits inside the attempt (reading both
 * again every idleReadMs) until one comes, the subscription is deleted, or idleWaitMs passes: an idle
 * subscription costs one activity (and no timer) per wait instead of one per read. The sleep rejects
 * with a CancelledFailure as soon as the run is cancelled (workflow cancelled or terminated, worker
 * shutting down), so nobody waits for the wait; the heartbeats are how a server-side cancel reaches
 * it and how a lost worker is noticed. Undefined when the subscription is gone.
 */
function eventWaiter({
  webhooks,
  idleWaitMs = WEBHOOK_DELIVERY.idleWaitMs,
  maxWaiting = WEBHOOK_DELIVERY.maxWaitingPerWorker,
  workerStopping = () => false,
}: WebhookActivityDeps) {
  /** This worker's runs waiting for events now: each holds an activity slot. */
  let waiting = 0;
  return async (input: DeliverInput): Promise<{ sub: WebhookDoc; events: EventDoc[]; busy?: boolean } | undefined> => {
    const ctx = Context.current();
    const until = Date.now() + idleWaitMs;
    let lastBeat = 0;
    let holding = false;
    /** Reads of the feed while waiting: in the heartbeat, so an operator (and a test) sees the wait go on. */
    let reads = 0;
    try {
      for (;;) {
        // Read afresh each time: a PUT's url, secret or types apply from the next read.
        const sub = await webhooks.get(input.webstoreId, input.name);
        if (!sub) return undefined;
        const events = await webhooks.nextEvents(sub, WEBHOOK_DELIVERY.batchSize);
        if (events.length > 0 || Date.now() >= until || workerStopping()) return { sub, events };
        if (!holding) {
          // Enough runs wait here already: this one returns, and its workflow polls on a timer instead.
          if (waiting >= maxWaiting) return { sub, events, busy: true };
          waiting++;
          holding = true;
        }
        reads++;
        if (Date.now() - lastBeat >= HEARTBEAT_EVERY_MS) {
          ctx.heartbeat({ cursor: sub.cursor, waiting: true, reads });
          lastBeat = Date.now();
        }
        await ctx.sleep(Math.min(WEBHOOK_DELIVERY.idleReadMs, Math.max(0, until - Date.now())));
      }
    } finally {
      if (holding) waiting--;
    }
  };
}

/**
 * POSTs one event, signed, with its id. Undefined when the receiver answered 2xx; otherwise why not.
 * Heartbeats while it waits: how a lost worker is noticed, and how a cancel reaches the call.
 */
async function post(sub: WebhookDoc, event: EventDoc): Promise<WebhookError | undefined> {
  const ctx = Context.current();
  const body = JSON.stringify(webhookDelivery(event));
  const call = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    call.abort();
  }, WEBHOOK_DELIVERY.requestTimeoutMs);
  const onCancel = () => call.abort();
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  const beat = () => ctx.heartbeat({ cursor: sub.cursor, eventId: event.eventId });
  beat();
  const heartbeats = setInterval(beat, HEARTBEAT_EVERY_MS);
  const failed = (message: string): WebhookError => ({ eventId: event.eventId, message, at: new Date().toISOString() });
  try {
    const res = await fetch(sub.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_SIGNATURE_HEADER]: signBody(body, sub.secret),
        [WEBHOOK_ID_HEADER]: event.eventId,
      },
      body,
      // A redirect is not a 2xx: it would resend the event elsewhere, or drop its body.
      redirect: 'manual',
      signal: call.signal,
    });
    // The body is not read, but it is drained so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    return res.status >= 200 && res.status <= 299 ? undefined : failed(`answered ${res.status}`);
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    if (timedOut) return failed(`no answer within ${WEBHOOK_DELIVERY.requestTimeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return failed(`no answer (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  } finally {
    clearInterval(heartbeats);
    clearTimeout(timer);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
}

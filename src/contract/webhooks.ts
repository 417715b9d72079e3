/**
 * Webhooks (issue 12): a store's subscriptions to its cart events, each delivered by one workflow
 * (`webhook-<webstoreId>:<name>`) that POSTs every matching event of the `events` feed, in cursor
 * order, signed like the store integrations' calls. Names, limits, shapes and the check of a PUT
 * body, defined here only. Pure: no Node, no SDK. The receiver's side: docs/contract.md.
 */
import { CART_EVENT_TYPES, type CartEventType, type EventView } from './events';
import { outboundUrlProblem } from './integrations';

export const WEBHOOK_WORKFLOW_TYPE = 'webhookDeliveryWorkflow';
/** Wakes a subscription's workflow: re-read the subscription now, and resume it if it is paused. PUT and POST .../resume send it. */
export const WEBHOOK_RESUME_SIGNAL_NAME = 'resumeWebhook';

/** The body's signature: `sha256=<hex HMAC-SHA256 of the exact body under the subscription's secret>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'Webhook-Signature';
/** The event's id (`<cartId>:<seq>`), the same on every redelivery: receivers deduplicate on it. */
export const WEBHOOK_ID_HEADER = 'Webhook-Id';

/** Subscription names: letters, digits, `_` and `-` (no `:`, which separates store and name in the workflow id). */
export const WEBHOOK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const WEBHOOK_LIMITS = { urlMax: 2048, secretMin: 16, secretMax: 1024 } as const;

/** How delivery behaves; the workflow and the activities read these, the docs state them. */
export const WEBHOOK_DELIVERY = {
  /** One POST may take this long before it counts as failed (and is retried). */
  requestTimeoutMs: 10_000,
  /** Events read and POSTed per activity run, at most. */
  batchSize: 50,
  /** The longest wait between two retries of a failing delivery (the activity's retry policy). */
  maxRetryIntervalMs: 60_000,
  /** A subscription whose deliveries have failed this long (workflow time) is paused. */
  pauseAfterMs: 24 * 60 * 60 * 1000,
  /**
   * When caught up, how long a delivery run keeps waiting for a new matching event before it returns
   * (and the workflow starts the next run at once). An idle subscription costs one activity per wait,
   * not one per read; well under the run's start-to-close timeout.
   */
  idleWaitMs: 60_000,
  /** While it waits, how often the run reads the subscription and the feed again: a new event's latency. */
  idleReadMs: 300,
  /**
   * Runs waiting at once in one worker, at most: each holds one of the worker's activity slots (100 by
   * default), and the checkouts need theirs. A caught-up run beyond it returns at once, `busy`.
   */
  maxWaitingPerWorker: 50,
  /** After a `busy` run, how long the workflow waits (a timer; a PUT or resume ends it) before the next. */
  busyPollMs: 1000,
  /** Delivery rounds per workflow run; then it continues as new, so its history stays small. */
  roundsPerRun: 100,
} as const;

export type WebhookStatus = 'active' | 'paused';

/**
 * A delivery the receiver did not take (no 2xx in time: another status, a timeout, a refused
 * connection). Retryable: the activity fails with it and Temporal tries again after its backoff.
 */
export const WEBHOOK_DELIVERY_FAILED = 'WEBHOOK_DELIVERY_FAILED';

/** The one place the webhook workflow-ID scheme lives: one delivery workflow per subscription. */
export function webhookWorkflowId(webstoreId: string, name: string): string {
  return `webhook-${webstoreId}:${name}`;
}

/** A subscription as an admin PUTs it. */
export interface WebhookSettings {
  url: string;
  secret: string;
  types: CartEventType[];
}

/** What the routes answer for a subscription: never the secret. */
export interface WebhookView {
  webstoreId: string;
  name: string;
  url: string;
  types: CartEventType[];
  status: WebhookStatus;
  /** The cursor of the last event delivered (answered 2xx), as a string like the feed's cursors. */
  cursor: string;
  workflowId: string;
  createdAt: string;
  updatedAt: string;
  pausedAt?: string;
  /** The last failed delivery: which event, why, and when. */
  lastError?: WebhookError;
}

export interface WebhookError {
  eventId: string;
  message: string;
  at: string;
}

/** The POSTed body: one event, as the feed shows it, without its cursor (the receiver's order is the order of delivery). */
export type WebhookDelivery = Omit<EventView, 'cursor'>;

// ---- The workflow and its activities.

export interface WebhookWorkflowInput {
  webstoreId: string;
  name: string;
  /** Carried over continue-as-new: since when (workflow time, epoch ms) every delivery has failed. */
  failingSince?: number;
  /** Carried over continue-as-new: the cursor reached, for the workflow's details. */
  cursor?: number;
}

export interface DeliverInput {
  webstoreId: string;
  name: string;
}

export interface DeliverResult {
  /** The subscription no longer exists: the workflow ends. */
  gone: boolean;
  /** Events answered 2xx in this run. */
  delivered: number;
  /** The subscription's cursor after this run. */
  cursor: number;
  /** More events are waiting (the batch was full, or a failure stopped it after some progress). */
  more: boolean;
  /** Set when a failure stopped the run after it made progress (a run that makes none fails instead, and is retried). */
  failure?: WebhookError;
  /** Caught up without waiting for events: its worker had maxWaitingPerWorker runs waiting already. */
  busy?: boolean;
}

export interface WebhookStatusInput {
  webstoreId: string;
  name: string;
  status: WebhookStatus;
  /** Workflow time (epoch ms) of the pause. */
  at: number;
  lastError?: string;
}

/** A problem with a PUT body (`field` names what is wrong), or the settings when it is fine. */
export function webhookSettingsOf(body: unknown): { settings: WebhookSettings; problem?: undefined } | { problem: string; field: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problem: 'the body must be an object { url, secret, types }', field: 'body' };
  const b = body as Record<string, unknown>;
  const urlProblem = outboundUrlProblem(b.url, WEBHOOK_LIMITS.urlMax, 'each delivery');
  if (urlProblem) return { problem: urlProblem, field: 'url' };
  const { secretMin, secretMax } = WEBHOOK_LIMITS;
  if (typeof b.secret !== 'string' || b.secret.length < secretMin || b.secret.length > secretMax) {
    return { problem: `secret must be a string of ${secretMin} to ${secretMax} characters`, field: 'secret' };
  }
  const types = b.types;
  if (!Array.isArray(types) || types.length === 0) return { problem: 'types must be a non-empty list of event types', field: 'types' };
  const unknown = types.find((t) => !(CART_EVENT_TYPES as readonly unknown[]).includes(t));
  if (unknown !== undefined) return { problem: `unknown event type ${String(unknown)}; one of ${CART_EVENT_TYPES.join(', ')}`, field: 'types' };
  return { settings: { url: b.url as string, secret: b.secret, types: [...new Set(types as CartEventType[])] } };
}

export function webhookNameProblem(name: unknown): string | undefined {
  return typeof name === 'string' && WEBHOOK_NAME_PATTERN.test(name) ? undefined : 'name must be 1-64 letters, digits, _ or - starting with a letter or digit';
}

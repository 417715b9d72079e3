/**
 * Webhook subscriptions (issue 12): one document per store and name in `webhook_subscriptions`, with
 * the cursor of the last event its receiver answered 2xx, and the reads of the event feed a delivery
 * makes. Every change is one single-document write. The cursor only grows, and only for the
 * subscription it was read for (`subscriptionId`, new on each creation): a late write of a deleted
 * subscription's delivery never moves a new one's cursor.
 */
import type { Collection, Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import {
  COLLECTIONS,
  webhookWorkflowId,
  type WebhookDelivery,
  type WebhookError,
  type WebhookSettings,
  type WebhookStatus,
  type WebhookView,
} from '../contract';
import { eventsCollection, type EventDoc } from './events';

export interface WebhookDoc extends WebhookSettings {
  _id: string;
  webstoreId: string;
  name: string;
  /** New on each creation (a PUT of a name that does not exist): fences the cursor writes. */
  subscriptionId: string;
  status: WebhookStatus;
  cursor: number;
  createdAt: Date;
  updatedAt: Date;
  pausedAt?: Date;
  lastError?: { eventId: string; message: string; at: Date };
}

/** MongoDB's duplicate-key error: two first PUTs of one name raced on the upsert. */
const DUPLICATE_KEY = 11000;

const subscriptionKey = (webstoreId: string, name: string) => `${webstoreId}|${name}`;

export class WebhookStore {
  readonly subscriptions: Collection<WebhookDoc>;
  readonly feed: Collection<EventDoc>;

  constructor(db: Db) {
    this.subscriptions = db.collection<WebhookDoc>(COLLECTIONS.webhookSubscriptions);
    this.feed = eventsCollection(db);
  }

  /** A store's subscriptions by store; a delivery reads the store's events in cursor order. */
  async ensureIndexes(): Promise<void> {
    await this.subscriptions.createIndex({ webstoreId: 1, name: 1 }, { name: 'store_name' });
    await this.feed.createIndex({ webstoreId: 1, _id: 1 }, { name: 'store_cursor' });
  }

  get(webstoreId: string, name: string): Promise<WebhookDoc | null> {
    return this.subscriptions.findOne({ _id: subscriptionKey(webstoreId, name) });
  }

  list(webstoreId: string): Promise<WebhookDoc[]> {
    return this.subscriptions.find({ webstoreId }).sort({ name: 1 }).toArray();
  }

  /**
   * Creates or changes a subscription. A new one starts after the feed's latest event (it receives
   * what happens from now on); a change keeps its cursor, status and id.
   */
  async put(webstoreId: string, name: string, settings: WebhookSettings): Promise<WebhookDoc> {
    const _id = subscriptionKey(webstoreId, name);
    const now = new Date();
    const { url, secret, types } = settings;
    const upsert = async () =>
      this.subscriptions.updateOne(
        { _id },
        {
          $set: { url, secret, types, updatedAt: now },
          $setOnInsert: { webstoreId, name, subscriptionId: randomUUID(), status: 'active', cursor: await this.latestCursor(), createdAt: now },
        },
        { upsert: true },
      );
    try {
      await upsert();
    } catch (err) {
      // The other PUT created it: this one is then a change of it.
      if ((err as { code?: unknown }).code !== DUPLICATE_KEY) throw err;
      await upsert();
    }
    return (await this.subscriptions.findOne({ _id }))!;
  }

  async remove(webstoreId: string, name: string): Promise<boolean> {
    return (await this.subscriptions.deleteOne({ _id: subscriptionKey(webstoreId, name) })).deletedCount === 1;
  }

  /** The cursor of the feed's latest event, 0 when it is empty. */
  async latestCursor(): Promise<number> {
    const [last] = await this.feed
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    return last?._id ?? 0;
  }

  /** The subscription's next events: its store's, of its types, after its cursor, oldest first. */
  nextEvents(sub: WebhookDoc, limit: number): Promise<EventDoc[]> {
    return this.feed
      .find({ _id: { $gt: sub.cursor }, webstoreId: sub.webstoreId, type: { $in: sub.types } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
  }

  /** After a 2xx: the cursor moves forward to `cursor` (never back), and the last error is cleared. */
  async advance(sub: WebhookDoc, cursor: number): Promise<void> {
    await this.subscriptions.updateOne(
      { _id: sub._id, subscriptionId: sub.subscriptionId, cursor: { $lt: cursor } },
      { $set: { cursor }, $unset: { lastError: '' } },
    );
  }

  async recordError(sub: WebhookDoc, error: WebhookError): Promise<void> {
    await this.subscriptions.updateOne(
      { _id: sub._id, subscriptionId: sub.subscriptionId },
      { $set: { lastError: { eventId: error.eventId, message: error.message, at: new Date(error.at) } } },
    );
  }

  /** Paused (with when, and why when known) or active again; the delivery workflow is the only writer. */
  async setStatus(webstoreId: string, name: string, status: WebhookStatus, at: Date, lastError?: string): Promise<void> {
    const _id = subscriptionKey(webstoreId, name);
    if (status === 'active') {
      await this.subscriptions.updateOne({ _id }, { $set: { status }, $unset: { pausedAt: '' } });
      return;
    }
    const current = await this.subscriptions.findOne({ _id }, { projection: { lastError: 1 } });
    const error = current?.lastError ?? (lastError ? { eventId: '', message: lastError, at } : undefined);
    await this.subscriptions.updateOne({ _id }, { $set: { status, pausedAt: at, ...(error ? { lastError: error } : {}) } });
  }
}

/** What the routes answer: never the secret. */
export function webhookView(doc: WebhookDoc): WebhookView {
  return {
    webstoreId: doc.webstoreId,
    name: doc.name,
    url: doc.url,
    types: doc.types,
    status: doc.status,
    cursor: String(doc.cursor),
    workflowId: webhookWorkflowId(doc.webstoreId, doc.name),
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
    ...(doc.pausedAt ? { pausedAt: doc.pausedAt.toISOString() } : {}),
    ...(doc.lastError ? { lastError: { eventId: doc.lastError.eventId, message: doc.lastError.message, at: doc.lastError.at.toISOString() } } : {}),
  };
}

/** The POSTed body of an event. */
export function webhookDelivery(event: EventDoc): WebhookDelivery {
  return {
    id: event.eventId,
    type: event.type,
    cartId: event.cartId,
    ...(event.webstoreId !== undefined ? { webstoreId: event.webstoreId } : {}),
    at: new Date(event.at).toISOString(),
    data: event.data ?? {},
  };
}

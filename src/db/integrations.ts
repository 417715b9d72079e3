/**
 * The providers stores registered for their checkout steps: one document per store and step in
 * `store_integrations`, present only for an http provider (no document: the step is builtin). Every
 * change is one atomic single-document write (a replace or a delete of that document).
 */
import type { Collection, Db } from 'mongodb';
import { COLLECTIONS, type HttpProviderSettings, type IntegrationStep, type IntegrationView } from '../contract';

export interface IntegrationDoc extends HttpProviderSettings {
  _id: string;
  webstoreId: string;
  step: IntegrationStep;
  updatedAt: Date;
}

const integrationId = (webstoreId: string, step: IntegrationStep) => `${webstoreId}|${step}`;

export class IntegrationStore {
  readonly collection: Collection<IntegrationDoc>;

  constructor(db: Db) {
    this.collection = db.collection<IntegrationDoc>(COLLECTIONS.storeIntegrations);
  }

  /** The http provider of a store's step, or null when the step is builtin. */
  get(webstoreId: string, step: IntegrationStep): Promise<IntegrationDoc | null> {
    return this.collection.findOne({ _id: integrationId(webstoreId, step) });
  }

  /** Registers (or replaces) the http provider of a step; `builtin` removes it. Repeating it is the same as once. */
  async put(webstoreId: string, step: IntegrationStep, settings: HttpProviderSettings | { type: 'builtin' }): Promise<IntegrationView> {
    if (settings.type === 'builtin') return this.remove(webstoreId, step);
    const { type, url, secret, timeoutMs } = settings;
    const doc: IntegrationDoc = { _id: integrationId(webstoreId, step), webstoreId, step, type, url, secret, timeoutMs, updatedAt: new Date() };
    await this.collection.replaceOne({ _id: doc._id }, doc, { upsert: true });
    return integrationView(webstoreId, step, doc);
  }

  async remove(webstoreId: string, step: IntegrationStep): Promise<IntegrationView> {
    await this.collection.deleteOne({ _id: integrationId(webstoreId, step) });
    return integrationView(webstoreId, step, null);
  }

  async view(webstoreId: string, step: IntegrationStep): Promise<IntegrationView> {
    return integrationView(webstoreId, step, await this.get(webstoreId, step));
  }
}

/** What callers see of a provider: never the secret, only that one is set. */
export function integrationView(webstoreId: string, step: IntegrationStep, doc: IntegrationDoc | null): IntegrationView {
  if (!doc) return { webstoreId, step, type: 'builtin' };
  return { webstoreId, step, type: 'http', url: doc.url, timeoutMs: doc.timeoutMs, secretSet: doc.secret.length > 0, updatedAt: doc.updatedAt.toISOString() };
}

/**
 * The webhook service (issue 12): what the admin routes do with a store's subscriptions. The
 * subscription document is the truth (src/db/webhooks.ts); its delivery workflow is started, or woken,
 * by signal-with-start on every PUT and resume, and ends by itself once the document is gone.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import {
  CheckoutError,
  WEBHOOK_RESUME_SIGNAL_NAME,
  WEBHOOK_WORKFLOW_TYPE,
  webhookSettingsOf,
  webhookWorkflowId,
  type WebhookView,
  type WebhookWorkflowInput,
} from './contract';
import { Directory, WebhookStore, storeCall, webhookView } from './db';

export class WebhookService {
  constructor(
    private readonly store: WebhookStore,
    private readonly directory: Directory,
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  static forDb(db: Db, client: Client, taskQueue: string): WebhookService {
    return new WebhookService(new WebhookStore(db), new Directory(db), client, taskQueue);
  }

  /** Creates or changes a subscription, and starts its workflow or wakes it (a paused one resumes). */
  async put(webstoreId: string, name: string, body: unknown): Promise<WebhookView> {
    const parsed = webhookSettingsOf(body);
    if (parsed.problem !== undefined) throw new CheckoutError('INVALID_INPUT', parsed.problem, { field: parsed.field });
    await this.requireStore(webstoreId);
    const doc = await storeCall(() => this.store.put(webstoreId, name, parsed.settings));
    await this.wake(webstoreId, name);
    return webhookView(doc);
  }

  async get(webstoreId: string, name: string): Promise<WebhookView> {
    return webhookView(await this.existing(webstoreId, name));
  }

  async list(webstoreId: string): Promise<WebhookView[]> {
    await this.requireStore(webstoreId);
    return (await storeCall(() => this.store.list(webstoreId))).map(webhookView);
  }

  /** Deletes the subscription; its workflow, woken, finds it gone and ends. Deleting twice is the same as once. */
  async remove(webstoreId: string, name: string): Promise<{ webstoreId: string; name: string; deleted: boolean }> {
    await this.requireStore(webstoreId);
    const deleted = await storeCall(() => this.store.remove(webstoreId, name));
    try {
      await this.client.workflow.getHandle(webhookWorkflowId(webstoreId, name)).signal(WEBHOOK_RESUME_SIGNAL_NAME);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    return { webstoreId, name, deleted };
  }

  /** Resumes a paused subscription (and wakes an active one): its workflow tries the failing event again now. */
  async resume(webstoreId: string, name: string): Promise<WebhookView> {
    const doc = await this.existing(webstoreId, name);
    await this.wake(webstoreId, name);
    return webhookView(doc);
  }

  private async wake(webstoreId: string, name: string): Promise<void> {
    const input: WebhookWorkflowInput = { webstoreId, name };
    await this.client.workflow.signalWithStart(WEBHOOK_WORKFLOW_TYPE, {
      workflowId: webhookWorkflowId(webstoreId, name),
      taskQueue: this.taskQueue,
      args: [input],
      signal: WEBHOOK_RESUME_SIGNAL_NAME,
      signalArgs: [],
      staticSummary: `webhook ${name} of store ${webstoreId}: delivers its events, in order, at least once`,
    });
  }

  private async existing(webstoreId: string, name: string) {
    await this.requireStore(webstoreId);
    const doc = await storeCall(() => this.store.get(webstoreId, name));
    if (!doc) throw new CheckoutError('NOT_FOUND', `Webhook ${name} of store ${webstoreId} was not found.`, { webstoreId, name });
    return doc;
  }

  private async requireStore(webstoreId: string): Promise<void> {
    if (!(await storeCall(() => this.directory.getStore(webstoreId)))) {
      throw new CheckoutError('NOT_FOUND', `Webstore ${webstoreId} was not found.`, { webstoreId });
    }
  }
}

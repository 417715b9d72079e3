/** All activities of the b2b-checkout task queue, built from their dependencies. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { WebhookStore, cartsCollection } from '../src/db';
import { createCheckoutActivities, type StepHook } from './checkout';
import { createProbeActivities } from './probe';
import { createWebhookActivities } from './webhooks';

export interface ActivityDeps {
  db: Db;
  client: Client;
  /** Test seam only (see StepHook); the product never sets it. */
  beforeStep?: StepHook;
  /** True once the worker shuts down: a webhook delivery waiting for events stops waiting. */
  workerStopping?: () => boolean;
}

export function createActivities({ db, client, beforeStep, workerStopping }: ActivityDeps) {
  return {
    ...createCheckoutActivities({ carts: cartsCollection(db), client, ...(beforeStep ? { beforeStep } : {}) }),
    ...createProbeActivities({ db }),
    ...createWebhookActivities({ webhooks: new WebhookStore(db), ...(workerStopping ? { workerStopping } : {}) }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { StepHook } from './checkout';

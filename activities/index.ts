/** All activities of the b2b-checkout task queue, built from their dependencies. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { cartsCollection } from '../src/db';
import { createCheckoutActivities } from './checkout';
import { createProbeActivities } from './probe';

export interface ActivityDeps {
  db: Db;
  client: Client;
}

export function createActivities({ db, client }: ActivityDeps) {
  return {
    ...createCheckoutActivities({ carts: cartsCollection(db), client }),
    ...createProbeActivities({ db }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

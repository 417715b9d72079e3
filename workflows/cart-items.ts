/** cartItemsWorkflow: one item change (add, set quantity, remove), run durably as an activity. */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { BUSINESS_ERROR_TYPES, type CartItemsRequest, type CartItemsResult } from '../src/contract';
import { cartItemsSummary } from './summaries';

const { changeCartItems } = proxyActivities<Activities>({
  // Waiting for a running checkout to cancel is part of the change.
  startToCloseTimeout: '2m',
  // The activity heartbeats while it waits (every second), so a lost worker's attempt is retried
  // within seconds, not minutes; the retry is exactly-once through the change's request id.
  heartbeatTimeout: '5s',
  retry: { initialInterval: '200ms', maximumInterval: '10s', nonRetryableErrorTypes: BUSINESS_ERROR_TYPES },
});

export async function cartItemsWorkflow(req: CartItemsRequest): Promise<CartItemsResult> {
  if (typeof req?.cartId === 'string' && req.cartId.length > 0 && req.cartId.length <= 128) {
    upsertSearchAttributes({ CartId: [req.cartId] });
  }
  // A malformed request still runs the activity, which refuses it with INVALID_INPUT.
  const summary = typeof req?.cartId === 'string' ? cartItemsSummary(req) : 'change cart items (malformed request)';
  return await changeCartItems.executeWithOptions({ summary }, [req]);
}

/**
 * Item changes, each its own workflow whose id comes from the request id: repeating a request id
 * joins the change still running or answers the result of the one that completed, never a second
 * change. The workflow's activity (changeCartItems) applies the store's checkout policy to a cart in
 * checkout: cancel it first, or send it the change (`recalculated` in the result).
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import {
  CART_ITEMS_WORKFLOW_TYPE,
  CheckoutError,
  REQUEST_ID_PATTERN,
  assertCartId,
  cartItemsWorkflowId,
  itemChangeProblem,
  type CartItemsRequest,
  type CartItemsResult,
  type ItemChange,
} from '../contract';
import { findCheckoutError } from '../contract/failures';
import type { cartItemsWorkflow } from '../../workflows';
import { cartItemsSummary } from '../../workflows/summaries';
import { waitEndedWithoutOutcome, withCodes } from './temporal-errors';
import type { ItemChangeAnswer, ItemChangeOptions, ItemChangeResult, TemporalTarget } from './types';

interface StartedChange {
  requestId: string;
  workflowId: string;
  result: () => Promise<CartItemsResult>;
}

export async function changeItems(target: TemporalTarget, cartId: string, change: ItemChange, options: ItemChangeOptions): Promise<ItemChangeResult> {
  const started = await startItemChange(target, cartId, change, options);
  return { ...(await started.result()), requestId: started.requestId };
}

/**
 * The same change, waiting at most `waitMs` for its result. When the change has been started but
 * not finished by then (or the wait for its result fails on the way), it answers `{ accepted: true, requestId }`: the change completes durably,
 * and calling again with the same request id answers its result. A start that does not get through
 * by the deadline fails as it is (a gRPC deadline error): the change may or may not have started,
 * and a retry with the same request id is safe either way.
 */
export async function changeItemsWithin(
  target: TemporalTarget,
  cartId: string,
  change: ItemChange,
  waitMs: number,
  options: ItemChangeOptions,
): Promise<ItemChangeAnswer> {
  const { client } = target;
  const deadline = Date.now() + waitMs;
  const started = await client.withDeadline(deadline, () => startItemChange(target, cartId, change, options));
  try {
    const result = await client.withDeadline(deadline, () => started.result());
    return { ...result, requestId: started.requestId };
  } catch (err) {
    if (!waitEndedWithoutOutcome(err)) throw err;
    return { cartId, accepted: true, requestId: started.requestId, workflowId: started.workflowId };
  }
}

/** The change's request: checked here too, so a malformed change never starts a workflow; the activity checks again. */
function itemsRequest(cartId: string, change: ItemChange, options: ItemChangeOptions): CartItemsRequest & { requestId: string } {
  assertCartId(cartId);
  const problem = itemChangeProblem(change);
  if (problem) throw new CheckoutError('INVALID_INPUT', problem, { cartId, field: 'change' });
  const requestId = options.requestId ?? randomUUID();
  if (!REQUEST_ID_PATTERN.test(requestId)) {
    throw new CheckoutError('INVALID_INPUT', 'requestId must be 1-128 letters, digits or _ . : - starting with a letter or digit', {
      cartId,
      field: 'requestId',
    });
  }
  return { cartId, change, requestId, ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}) };
}

async function startItemChange({ client, taskQueue }: TemporalTarget, cartId: string, change: ItemChange, options: ItemChangeOptions): Promise<StartedChange> {
  const input = itemsRequest(cartId, change, options);
  const { requestId } = input;
  const workflowId = cartItemsWorkflowId(cartId, requestId);
  try {
    const handle = await client.workflow.start<typeof cartItemsWorkflow>(CART_ITEMS_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      // A retry while the change runs joins it; a retry after it completed is refused by the
      // reuse policy (never a second run) and answered below with that run's result. A run that
      // failed, was terminated or timed out may run again: the cart store applies a request id once.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      searchAttributes: { CartId: [cartId] },
      staticSummary: cartItemsSummary({ cartId, change }),
    });
    return { requestId, workflowId, result: () => withCodes(() => handle.result()) };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw findCheckoutError(err) ?? err;
    const handle = client.workflow.getHandle<typeof cartItemsWorkflow>(workflowId);
    return { requestId, workflowId, result: () => withCodes(() => handle.result()) };
  }
}

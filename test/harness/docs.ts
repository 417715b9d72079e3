/** Store documents for tests of the pure decisions: a checkout session as the cart holds it. */
import type { CheckoutSessionDoc } from '../../src/db';

/** A running session (its background operation Running, not processing), with `fields` over the defaults. */
export function sessionDoc(sessionId: string, fields: Partial<CheckoutSessionDoc> = {}): CheckoutSessionDoc {
  return {
    sessionId,
    workflowId: 'checkout-c1',
    state: 'Checkout Summary',
    nextState: 'Checkout Summary',
    isProcessing: false,
    isError: false,
    isArchived: false,
    backgroundOperation: { id: `bgop-${sessionId}`, status: 'Running' },
    startedAt: new Date(0),
    ...fields,
  };
}

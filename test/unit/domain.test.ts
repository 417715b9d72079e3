/** Unit tests of the pure parts: validators, item changes, totals, error mapping, configuration. */
import { ApplicationFailure } from '@temporalio/common';
import { ActivityFailure, WorkflowFailedError } from '@temporalio/client';
import { appSettings, ConfigError, temporalSettings } from '../../src/config';
import { cancelRequestProblem, cartIdProblem, checkoutWorkflowId, itemChangeProblem, normalizeCancelRequest } from '../../src/contract';
import { applyChange, computeTotals } from '../../src/db';
import { CheckoutError } from '../../src/contract';
import { findCheckoutError, toApplicationFailure } from '../../src/contract/failures';

describe('contract', () => {
  test('the workflow id scheme', () => {
    expect(checkoutWorkflowId('0a6xx0000000001AAA')).toBe('checkout-0a6xx0000000001AAA');
  });

  test.each([
    ['0a6xx0000000001AAA', undefined],
    ['cart-3f2a:v1.2_x', undefined],
    ['', 'cartId must not be empty'],
    ['-leading-dash', expect.stringMatching(/letters, digits/)],
    [{ $ne: null }, 'cartId must be a string, got object'],
    [null, 'cartId must be a string, got null'],
    ['x'.repeat(129), 'cartId must be at most 128 characters, got 129'],
  ])('cartIdProblem(%j)', (id, problem) => {
    expect(cartIdProblem(id)).toEqual(problem);
  });

  test('cancel requests: defaults and limits', () => {
    expect(cancelRequestProblem(undefined)).toBeUndefined();
    expect(cancelRequestProblem({ reason: 'ADD_TO_CART', requestedBy: 'svc' })).toBeUndefined();
    expect(cancelRequestProblem('REQUESTED')).toMatch(/object/);
    expect(cancelRequestProblem({ reason: 7 })).toMatch(/reason/);
    expect(cancelRequestProblem({ reason: 'R', requestedBy: {} })).toMatch(/requestedBy/);
    expect(normalizeCancelRequest(undefined)).toEqual({ reason: 'REQUESTED' });
    expect(normalizeCancelRequest({ reason: 'X', requestedBy: 'me' })).toEqual({ reason: 'X', requestedBy: 'me' });
  });

  test('item changes', () => {
    expect(itemChangeProblem({ op: 'add', sku: 'A', quantity: 1 })).toBeUndefined();
    expect(itemChangeProblem({ op: 'set', sku: 'A', quantity: 0 })).toBeUndefined();
    expect(itemChangeProblem({ op: 'remove', sku: 'A' })).toBeUndefined();
    expect(itemChangeProblem({ op: 'add', sku: 'A', quantity: 0 })).toMatch(/quantity/);
    expect(itemChangeProblem({ op: 'add', sku: { $gt: '' }, quantity: 1 })).toMatch(/sku/);
  });
});

describe('cart math', () => {
  const items = [
    { sku: 'A', quantity: 2, unitPrice: 12.5 },
    { sku: 'B', quantity: 1 },
  ];

  test('applyChange adds, merges, sets and removes without touching its input', () => {
    const added = applyChange(items, { op: 'add', sku: 'A', quantity: 3 });
    expect(added[0].quantity).toBe(5);
    expect(items[0].quantity).toBe(2);
    expect(applyChange(items, { op: 'add', sku: 'C', quantity: 1 }).map((i) => i.sku)).toEqual(['A', 'B', 'C']);
    expect(applyChange(items, { op: 'set', sku: 'B', quantity: 4 })[1].quantity).toBe(4);
    expect(applyChange(items, { op: 'set', sku: 'B', quantity: 0 }).map((i) => i.sku)).toEqual(['A']);
    expect(applyChange(items, { op: 'remove', sku: 'A' }).map((i) => i.sku)).toEqual(['B']);
  });

  test('totals in cents: subtotal, shipping, tax, total', () => {
    let totals = computeTotals('Confirm Price', items, undefined);
    expect(totals.subtotal).toBe(2 * 1250 + 1000);
    totals = computeTotals('Shipping Cost', items, totals);
    expect(totals.shipping).toBe(500 + 50 * 3);
    totals = computeTotals('Taxes', items, totals);
    expect(totals.tax).toBe(Math.round(3500 * 0.08));
    totals = computeTotals('Checkout Summary', items, totals);
    expect(totals.total).toBe(3500 + 650 + 280);
  });
});

describe('errors', () => {
  test('a CheckoutError becomes a non-retryable ApplicationFailure of its code, and is found again in a failure chain', () => {
    const failure = toApplicationFailure(new CheckoutError('INVALID_OPERATION', "A cart can't be canceled after it's closed.", { cartId: 'c1' }));
    expect(failure.type).toBe('INVALID_OPERATION');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toEqual({ errorCode: 'INVALID_OPERATION', httpStatus: 403, cartId: 'c1' });

    const activityFailure = new ActivityFailure('activity failed', 'cancelCartAsyncOperation', '1', 0 as never, '', failure);
    const chain = new WorkflowFailedError('Workflow execution failed', activityFailure, 0 as never);
    const found = findCheckoutError(chain);
    expect(found).toBeInstanceOf(CheckoutError);
    expect(found?.toJSON()).toEqual({ errorCode: 'INVALID_OPERATION', httpStatus: 403, message: failure.message, cartId: 'c1' });
  });

  test('failures that are not business errors are not mistaken for one', () => {
    expect(findCheckoutError(new Error('boom'))).toBeUndefined();
    expect(findCheckoutError(ApplicationFailure.create({ type: 'MongoNetworkError', message: 'x' }))).toBeUndefined();
  });
});

describe('configuration', () => {
  test('defaults', () => {
    const s = appSettings({});
    expect(s).toMatchObject({ mongoDb: 'b2b_checkout', temporalUiPort: 8233, apiPort: 3000, checkoutLeaseMs: 30 * 60 * 1000 });
    expect(s.mongoUri).toBeUndefined();
    expect(temporalSettings({})).toMatchObject({ connectionOptions: { address: '127.0.0.1:7233' }, namespace: 'default' });
  });

  test('Temporal settings come through envconfig', () => {
    const t = temporalSettings({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_NAMESPACE: 'shop' });
    expect(t.connectionOptions.address).toBe('temporal.example:7233');
    expect(t.namespace).toBe('shop');
  });

  test('bad numbers are refused with a clear message', () => {
    expect(() => appSettings({ TEMPORAL_UI_PORT: '70000' })).toThrow(ConfigError);
    expect(() => appSettings({ CHECKOUT_LEASE_MS: 'soon' })).toThrow(/CHECKOUT_LEASE_MS must be a positive integer/);
  });
});

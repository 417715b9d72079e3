/** Store integrations, the pure parts: the signature, reading a provider's answer, the settings an admin sends, the texts operators read. */
import { ApplicationFailure } from '@temporalio/common';
import { createHmac } from 'node:crypto';
import { builtinStep, readAnswer, signBody } from '../../activities/integrations';
import { CheckoutError, INTEGRATION_UNAVAILABLE, integrationStepOf, providerSettingsOf, type IntegrationStep } from '../../src/contract';
import { checkoutDetails, leaseSummary, stepSummary } from '../../workflows/summaries';
import { signatureMatches } from '../harness/provider';

const items = [
  { sku: 'SKU-1', quantity: 2, unitPrice: 10 },
  { sku: 'SKU-2', quantity: 1 },
];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('signBody', () => {
  test('is sha256= and the hex HMAC-SHA256 of the body under the secret (the widely published example vector)', () => {
    expect(signBody('The quick brown fox jumps over the lazy dog', 'key')).toBe('sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });

  test('is what a provider checking the signature accepts, and only under the same secret and body', () => {
    const body = JSON.stringify({ step: 'Taxes', cartId: 'c-1', items: [{ sku: 'É-1', quantity: 1, unitPrice: 2.5 }] });
    const header = signBody(body, 's3cret');
    expect(signatureMatches(header, Buffer.from(body, 'utf8'), 's3cret')).toBe(true);
    expect(signatureMatches(header, Buffer.from(body, 'utf8'), 'other')).toBe(false);
    expect(signatureMatches(header, Buffer.from(`${body} `, 'utf8'), 's3cret')).toBe(false);
    expect(header.slice(7)).toBe(createHmac('sha256', 's3cret').update(Buffer.from(body, 'utf8')).digest('hex'));
  });
});

describe('readAnswer', () => {
  const read = (step: IntegrationStep, status: number, body: unknown) =>
    readAnswer(step, status, typeof body === 'string' ? body : JSON.stringify(body), items);

  test('reads each step answer of the contract', () => {
    expect(read('Inventory', 200, { available: true })).toEqual({ available: true });
    expect(read('ConfirmPrice', 200, { prices: { 'SKU-1': 12.5, 'SKU-2': 0, 'SKU-9': 1 } })).toEqual({ prices: { 'SKU-1': 12.5, 'SKU-2': 0 } });
    expect(read('ShippingCost', 200, { shipping: 650 })).toEqual({ shipping: 650 });
    expect(read('Taxes', 201, { tax: 0, note: 'extra fields are ignored' })).toEqual({ tax: 0 });
  });

  test.each([
    ['Inventory', 200, { available: false, unavailable: ['SKU-2'] }, 'INSUFFICIENT_INVENTORY', 'Inventory via http: unavailable SKU-2'],
    ['Inventory', 200, { available: false }, 'INSUFFICIENT_INVENTORY', 'Inventory via http: unavailable (no SKU named)'],
    ['ConfirmPrice', 200, { prices: { 'SKU-1': 12.5 } }, 'PRICE_NOT_FOUND', 'Confirm Price via http: no price for SKU-2'],
    ['ConfirmPrice', 200, { prices: { 'SKU-1': '12.5', 'SKU-2': -1 } }, 'PRICE_NOT_FOUND', 'Confirm Price via http: no price for SKU-1, SKU-2'],
    ['Taxes', 400, { message: 'no nexus' }, 'INTEGRATION_REFUSED', 'Taxes via http: refused with 400 ({"message":"no nexus"})'],
    ['ShippingCost', 404, '', 'INTEGRATION_REFUSED', 'Shipping Cost via http: refused with 404'],
  ] as const)('%s answering %i %j is the refusal %s', (step, status, body, code, message) => {
    const err = thrown(() => read(step, status, body));
    expect(err).toBeInstanceOf(CheckoutError);
    expect(err).toMatchObject({ errorCode: code, message, details: { provider: 'http' } });
  });

  test.each([
    ['Taxes', 500, { tax: 1 }, 'Taxes via http: answered 500'],
    ['Taxes', 503, '', 'Taxes via http: answered 503'],
    ['Taxes', 408, '', 'Taxes via http: answered 408'],
    ['Taxes', 429, '', 'Taxes via http: answered 429'],
    ['Taxes', 302, '', 'Taxes via http: answered 302'],
    ['Taxes', 200, 'not json', 'Taxes via http: the answer is not a JSON object'],
    ['Taxes', 200, [1], 'Taxes via http: the answer is not a JSON object'],
    ['Taxes', 200, { tax: 7.5 }, 'Taxes via http: the answer has no "tax" in cents (a non-negative integer)'],
    ['Taxes', 200, { tax: -1 }, 'Taxes via http: the answer has no "tax" in cents (a non-negative integer)'],
    ['ShippingCost', 200, { shipping: '650' }, 'Shipping Cost via http: the answer has no "shipping" in cents (a non-negative integer)'],
    ['Inventory', 200, { available: 'yes' }, 'Inventory via http: the answer has no "available": true or false'],
    ['ConfirmPrice', 200, { prices: [] }, 'Confirm Price via http: the answer has no "prices" object'],
  ] as const)('%s answering %i %j is retried', (step, status, body, message) => {
    const err = thrown(() => read(step, status, body));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: INTEGRATION_UNAVAILABLE, nonRetryable: false, message });
  });
});

describe('providerSettingsOf', () => {
  test('an http provider gets the default timeout; builtin takes nothing else', () => {
    expect(providerSettingsOf({ type: 'http', url: 'https://tax.example/q', secret: 's' })).toEqual({
      settings: { type: 'http', url: 'https://tax.example/q', secret: 's', timeoutMs: 5000 },
    });
    expect(providerSettingsOf({ type: 'builtin' })).toEqual({ settings: { type: 'builtin' } });
    expect(providerSettingsOf({ type: 'http', url: 'http://127.0.0.1:8080', secret: 's', timeoutMs: 60000 })).toMatchObject({ settings: { timeoutMs: 60000 } });
    expect(providerSettingsOf({ type: 'http', url: 'https://a.example', secret: 's', timeoutMs: 99 })).toMatchObject({ field: 'timeoutMs' });
    expect(providerSettingsOf({ type: 'http', url: 'javascript:alert(1)', secret: 's' })).toMatchObject({ field: 'url' });
    expect(providerSettingsOf({ type: 'http', url: `https://a.example/${'x'.repeat(2048)}`, secret: 's' })).toMatchObject({ field: 'url' });
    expect(providerSettingsOf(null)).toMatchObject({ field: 'body' });
  });

  test('the route names of the steps are the checkout states they serve', () => {
    expect(['Inventory', 'Confirm Price', 'Shipping Cost', 'Taxes', 'Checkout Summary'].map((s) => integrationStepOf(s as never))).toEqual([
      'Inventory',
      'ConfirmPrice',
      'ShippingCost',
      'Taxes',
      undefined,
    ]);
  });
});

describe('what operators read', () => {
  test('the builtin calculators name themselves and their answer', () => {
    expect(builtinStep('Inventory', items, undefined).outcome).toEqual({ provider: 'builtin', answer: 'available' });
    expect(builtinStep('Taxes', items, { subtotal: 3000 })).toEqual({ totals: { subtotal: 3000, tax: 240 }, outcome: { provider: 'builtin', answer: '240' } });
  });

  test('a step or lease summary names the outcome of the step before it; the details list every outcome', () => {
    expect(stepSummary('Taxes', 'c-1')).toBe('step Taxes for cart c-1');
    expect(stepSummary('Taxes', 'c-1', 'Shipping Cost via http: 650')).toBe('step Taxes for cart c-1, after Shipping Cost via http: 650');
    expect(leaseSummary('c-1', 1_800_000, 'Checkout Summary via builtin: total 10')).toBe(
      'lease: hold cart c-1 for 30 min, until the order or a cancel, after Checkout Summary via builtin: total 10',
    );
    const details = checkoutDetails(
      { cartId: 'c-1', sessionId: 's', phase: 'PROCESSING', state: 'Shipping Cost' },
      { steps: ['Inventory via http: available', 'Confirm Price via builtin: subtotal 2500', 'Shipping Cost via http: 650'] },
    );
    expect(details.split('  \n')).toContain('**steps** Inventory via http: available · Confirm Price via builtin: subtotal 2500 · Shipping Cost via http: 650');
  });
});

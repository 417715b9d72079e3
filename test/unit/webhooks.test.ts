/** Webhooks without servers: the PUT body's check, the workflow-ID scheme, the delivered body and its signature. */
import { signBody } from '../../activities/integrations';
import { webhookNameProblem, webhookSettingsOf, webhookWorkflowId } from '../../src/contract';
import { webhookDelivery, type EventDoc } from '../../src/db';
import { signatureMatches } from '../harness/provider';

const good = { url: 'https://erp.example.com/hooks', secret: '0123456789abcdef', types: ['order.placed', 'order.placed', 'checkout.canceled'] };

test('a PUT body: url, secret and types checked, each with the field that is wrong; duplicate types once', () => {
  expect(webhookSettingsOf(good)).toEqual({ settings: { ...good, types: ['order.placed', 'checkout.canceled'] } });
  expect(webhookSettingsOf({ ...good, url: 'mailto:ops@example.com' })).toMatchObject({ field: 'url' });
  expect(webhookSettingsOf({ ...good, url: 'not a url' })).toMatchObject({ field: 'url' });
  expect(webhookSettingsOf({ ...good, url: `https://x.example/${'a'.repeat(2048)}` })).toMatchObject({ field: 'url' });
  expect(webhookSettingsOf({ ...good, secret: '0123456789abcde' })).toMatchObject({ field: 'secret' });
  expect(webhookSettingsOf({ ...good, types: ['order.shipped'] })).toMatchObject({ field: 'types', problem: expect.stringContaining('order.shipped') });
  expect(webhookSettingsOf({ ...good, types: 'order.placed' })).toMatchObject({ field: 'types' });
  expect(webhookSettingsOf([good])).toMatchObject({ field: 'body' });
});

test('names cannot hold ":", so one workflow id is one store and name', () => {
  expect(webhookWorkflowId('store-1', 'erp')).toBe('webhook-store-1:erp');
  expect(webhookNameProblem('erp_v2-eu')).toBeUndefined();
  expect(webhookNameProblem('b:c')).toBeDefined();
  expect(webhookNameProblem('-erp')).toBeDefined();
  expect(webhookNameProblem('x'.repeat(65))).toBeDefined();
});

test('the delivered body is the event without its cursor, and its signature checks out under the secret only', () => {
  const event: EventDoc = {
    _id: 42,
    eventId: 'CART123:3',
    type: 'order.placed',
    cartId: 'CART123',
    webstoreId: 'store-1',
    at: new Date('2026-11-27T10:15:02.481Z'),
    data: { orderId: 'order-1' },
  };
  const body = JSON.stringify(webhookDelivery(event));
  expect(JSON.parse(body)).toEqual({
    id: 'CART123:3',
    type: 'order.placed',
    cartId: 'CART123',
    webstoreId: 'store-1',
    at: '2026-11-27T10:15:02.481Z',
    data: { orderId: 'order-1' },
  });
  const header = signBody(body, good.secret);
  expect(signatureMatches(header, Buffer.from(body), good.secret)).toBe(true);
  expect(signatureMatches(header, Buffer.from(body), 'another-secret-0123')).toBe(false);
  expect(signatureMatches(header, Buffer.from(body + ' '), good.secret)).toBe(false);
});

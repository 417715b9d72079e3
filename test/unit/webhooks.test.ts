/**
 * Webhooks without servers: the PUT body's check, the workflow-ID scheme, the delivered body and its
 * signature, and how a caught-up delivery run waits (MockActivityEnvironment over an in-memory
 * subscription and feed that never has an event for it, so no POST is made).
 */
import { CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { signBody } from '../../activities/integrations';
import { createWebhookActivities } from '../../activities/webhooks';
import { webhookNameProblem, webhookSettingsOf, webhookWorkflowId } from '../../src/contract';
import { webhookDelivery, type EventDoc, type WebhookDoc, type WebhookStore } from '../../src/db';
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

describe('a caught-up delivery run waits for events inside its attempt', () => {
  const input = { webstoreId: 'store-1', name: 'erp' };
  const subscription: WebhookDoc = {
    _id: 'store-1|erp',
    webstoreId: 'store-1',
    name: 'erp',
    subscriptionId: 'sub-1',
    url: 'https://erp.example.com/hooks',
    secret: good.secret,
    types: ['order.placed'],
    status: 'active',
    cursor: 7,
    createdAt: new Date(),
    updatedAt: new Date(),
  };

  /** A subscription (until deleted) and a feed with nothing for it. */
  function idleStore() {
    const state = { sub: subscription as WebhookDoc | null };
    const store = {
      get: async () => (state.sub ? { ...state.sub } : null),
      nextEvents: async () => [],
    } as unknown as WebhookStore;
    return { state, store };
  }

  test('nothing comes within idleWaitMs: caught up at its cursor', async () => {
    const { store } = idleStore();
    const { deliverWebhookEvents } = createWebhookActivities({ webhooks: store, idleWaitMs: 1000 });
    const result = await new MockActivityEnvironment().run(deliverWebhookEvents, input);
    expect(result).toEqual({ gone: false, delivered: 0, cursor: 7, more: false });
  });

  test('the subscription deleted while it waits: gone', async () => {
    const { state, store } = idleStore();
    const { deliverWebhookEvents } = createWebhookActivities({ webhooks: store });
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => (state.sub = null));
    expect(await env.run(deliverWebhookEvents, input)).toMatchObject({ gone: true });
  });

  test('cancelled while it waits (workflow ended, worker shutting down): it stops at once with a CancelledFailure', async () => {
    const { store } = idleStore();
    const { deliverWebhookEvents } = createWebhookActivities({ webhooks: store });
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => env.cancel('WORKER_SHUTDOWN'));
    await expect(env.run(deliverWebhookEvents, input)).rejects.toBeInstanceOf(CancelledFailure);
  });

  test('the worker stopping (within its shutdown grace time): caught up at once instead of waiting', async () => {
    const { store } = idleStore();
    let stopping = false;
    const { deliverWebhookEvents } = createWebhookActivities({ webhooks: store, workerStopping: () => stopping });
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => (stopping = true));
    expect(await env.run(deliverWebhookEvents, input)).toEqual({ gone: false, delivered: 0, cursor: 7, more: false });
  });

  test('more runs caught up than maxWaiting: the extra one returns at once, busy; a slot is free again once a wait ends', async () => {
    const { store } = idleStore();
    const { deliverWebhookEvents } = createWebhookActivities({ webhooks: store, idleWaitMs: 500, maxWaiting: 1 });
    const first = new MockActivityEnvironment();
    const second = new Promise((resolve) => first.once('heartbeat', () => resolve(new MockActivityEnvironment().run(deliverWebhookEvents, input))));
    const caughtUp = { gone: false, delivered: 0, cursor: 7, more: false };
    expect(await first.run(deliverWebhookEvents, input)).toEqual(caughtUp);
    expect(await second).toEqual({ ...caughtUp, busy: true });
    expect(await new MockActivityEnvironment().run(deliverWebhookEvents, input)).toEqual(caughtUp);
  });
});

/**
 * What an operator sees in the Temporal Web UI, in a real browser (Debian's chromium driven by
 * playwright-core): a checkout that ends in INVALID_OPERATION and one cancelled by add to cart, found
 * by `CartId="…"`, their histories showing the cancel signal, the cancel activity and the failure;
 * and a running checkout's summary, current details and lease timer. Saves screenshots to .data/screenshots/
 * (docs/screenshots/, which the README shows, with `npm run screenshots`). Also checks what the UI reads: the search attributes (the same list
 * query as `temporal workflow list --query`) and a summary on every scheduled activity.
 *
 * The browser part needs the Web UI (the dev server of the test stack serves one; with a server of
 * yours, set TEMPORAL_UI_URL) and /usr/bin/chromium: skipped without them, except that CI fails
 * when chromium is missing. Every wait is on the page's content, never a fixed sleep.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { CANCEL_ACTIVITY_TYPE, CANCEL_SIGNAL_NAME, CLOSED_CART_MESSAGE, RECALCULATE_UPDATE_NAME, checkoutWorkflowId } from '../src/contract';
import { cancelCheckoutSignal, getCheckoutStateQuery } from '../src/contract/messages';
import { Directory } from '../src/db';
import { checkoutSummary } from '../workflows/summaries';
import { CHROMIUM_PATHS, findChromium, launchChromium, type Browser } from './harness/browser';
import { eventually, insertForeignCart, setupTestEnv, type TestEnv } from './harness/env';
import { scheduledActivities } from './harness/history';

// Tests write their screenshots to an ignored folder; `npm run screenshots` refreshes the committed
// ones in docs/screenshots/ on purpose.
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1' ? path.join(__dirname, '..', 'docs', 'screenshots') : path.join(__dirname, '..', '.data', 'screenshots');
const uiUrl = process.env.TEMPORAL_UI_URL?.replace(/\/+$/, '');
const chromiumPath = findChromium();
const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Why the browser part can't run here, or undefined. In CI a missing chromium is a failure, not a skip. */
const skipReason = !uiUrl
  ? 'no Temporal Web UI: TEMPORAL_ADDRESS names a server of yours and TEMPORAL_UI_URL is not set'
  : !chromiumPath && !inCi
    ? 'chromium is not installed (apt-get install chromium); CI installs it'
    : undefined;
if (skipReason) console.warn(`test/ui.test.ts: browser test skipped: ${skipReason}`);

let env: TestEnv;
beforeAll(async () => {
  env = await setupTestEnv('ui');
});
afterAll(async () => {
  await env?.close();
});

/** Short cart ids of this file's own, so the screenshots stay readable. */
const uiCartId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

interface Checkouts {
  invalid: { cartId: string; runId: string };
  addToCart: { cartId: string; runId: string };
  recalculated: { cartId: string; runId: string };
}

/** Runs the two checkouts the operator will look at, and checks the histories the UI reads. */
async function runCheckouts(): Promise<Checkouts> {
  const w = await env.newWorker();
  return w.worker.runUntil(async () => {
    // 1. A cart closed under a running checkout (another service created the order): the cancel is refused.
    const invalidCart = uiCartId('ui-closed');
    await insertForeignCart(env.carts, invalidCart);
    const started = await env.checkout.startCheckout(invalidCart, { requestedBy: 'svc-storefront' });
    const handle = env.client.workflow.getHandle(checkoutWorkflowId(invalidCart), started.runId);
    // Closed while the checkout holds it waiting for the order (a step that finds it closed ends the run with LOCK_LOST).
    await eventually('the checkout to be READY', async () => ((await handle.query(getCheckoutStateQuery)).phase === 'READY' ? true : undefined));
    await env.carts.updateOne({ _id: invalidCart }, { $set: { status: 'Closed', orderId: 'order-elsewhere' }, $inc: { version: 1 } });
    await handle.signal(cancelCheckoutSignal, { reason: 'REQUESTED', requestedBy: 'svc-support' });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);

    // 2. Add to cart while the cart is in checkout: the checkout is cancelled (ADD_TO_CART), the item lands.
    const addCart = uiCartId('ui-add');
    await insertForeignCart(env.carts, addCart);
    const second = await env.checkout.startCheckout(addCart, { requestedBy: 'svc-storefront' });
    const changed = await env.checkout.addItem(addCart, 'SKU-NEW', 3, { requestedBy: 'buyer-7' });
    expect(changed).toMatchObject({ status: 'Active', canceledCheckout: true });
    await env.client.workflow.getHandle(checkoutWorkflowId(addCart), second.runId).result();

    return {
      invalid: { cartId: invalidCart, runId: started.runId },
      addToCart: { cartId: addCart, runId: second.runId },
      recalculated: await recalculatedCheckout(),
    };
  });
}

/** 3. A store whose checkout policy is recalculate (a store of this file's own): add to cart goes through the checkout, then the order. */
async function recalculatedCheckout(): Promise<{ cartId: string; runId: string }> {
  const store = uiCartId('ui-recalc-store');
  await new Directory(env.mongo.db).upsertStore(store, 'Recalculating store', { checkoutPolicy: 'recalculate' });
  const cartId = uiCartId('ui-recalc');
  await env.carts.insertOne({ _id: cartId, status: 'Active', webstoreId: store, accountId: 'acct-1', items: [{ sku: 'SKU-1', quantity: 2 }], version: 0 });
  const started = await env.checkout.startCheckout(cartId, { requestedBy: 'svc-storefront' });
  const handle = env.client.workflow.getHandle(checkoutWorkflowId(cartId), started.runId);
  const ready = (recalculations?: number) =>
    eventually('the checkout to be READY', async () => {
      const view = await handle.query(getCheckoutStateQuery);
      return view.phase === 'READY' && view.recalculations === recalculations ? true : undefined;
    });
  await ready(undefined);
  const changed = await env.checkout.addItem(cartId, 'SKU-NEW', 3, { requestedBy: 'buyer-7' });
  expect(changed).toMatchObject({ status: 'Checkout', canceledCheckout: false, recalculated: true });
  await ready(1);
  await env.checkout.placeOrder(cartId, 'buyer-7');
  expect(await handle.result()).toMatchObject({ outcome: 'ORDER_PLACED' });
  return { cartId, runId: started.runId };
}

let checkouts: Checkouts;
beforeAll(async () => {
  checkouts = await runCheckouts();
});

test('every scheduled activity carries a summary; CheckoutState ends Error or Canceled', async () => {
  const { invalid, addToCart } = checkouts;
  const invalidHandle = env.client.workflow.getHandle(checkoutWorkflowId(invalid.cartId), invalid.runId);
  const invalidActivities = scheduledActivities(await invalidHandle.fetchHistory());
  expect(invalidActivities.length).toBeGreaterThan(2);
  for (const a of invalidActivities) expect(a.summary).toEqual(expect.any(String));
  expect(invalidActivities[0]).toEqual({ activityType: 'lockCartForCheckout', summary: `lock cart ${invalid.cartId}` });
  expect(invalidActivities).toContainEqual({ activityType: 'runCheckoutStep', summary: `step Inventory for cart ${invalid.cartId}` });
  expect(invalidActivities.at(-1)).toEqual({ activityType: CANCEL_ACTIVITY_TYPE, summary: 'cancel checkout: reason REQUESTED, by svc-support' });

  const addHandle = env.client.workflow.getHandle(checkoutWorkflowId(addToCart.cartId), addToCart.runId);
  const addActivities = scheduledActivities(await addHandle.fetchHistory());
  for (const a of addActivities) expect(a.summary).toEqual(expect.any(String));
  expect(addActivities.at(-1)).toEqual({ activityType: CANCEL_ACTIVITY_TYPE, summary: 'cancel checkout: reason ADD_TO_CART, by buyer-7' });

  expect((await invalidHandle.describe()).searchAttributes).toMatchObject({ CartId: [invalid.cartId], CheckoutState: ['Error'], WebstoreId: ['store-1'] });
  expect((await addHandle.describe()).searchAttributes).toMatchObject({ CartId: [addToCart.cartId], CheckoutState: ['Canceled'] });
});

test('the list query CartId="…" finds the checkout, through the client and through `temporal workflow list`', async () => {
  const { cartId, runId } = checkouts.invalid;
  const query = `CartId="${cartId}"`;
  // Visibility is eventually consistent: the closed run shows up in the list shortly after it ends.
  const found = await eventuallyListed(query, checkoutWorkflowId(cartId));
  expect(found).toMatchObject({ workflowId: checkoutWorkflowId(cartId), runId, status: { name: 'FAILED' } });

  // The same query through the temporal CLI, as the README tells operators, where this run has one.
  const cli = process.env.TEMPORAL_CLI_PATH ?? path.join(__dirname, '..', '.tools', 'bin', 'temporal');
  if (!existsSync(cli)) return;
  const args = ['workflow', 'list', '--address', env.temporal.connectionOptions.address, '--namespace', env.temporal.namespace];
  const r = spawnSync(cli, [...args, '--query', query, '--output', 'jsonl'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`temporal workflow list failed (${r.status}): ${r.stderr}`);
  const listed = r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { execution?: { workflowId?: string; runId?: string } }).execution);
  expect(listed).toEqual([{ workflowId: checkoutWorkflowId(cartId), runId }]);
});

/** The closed run listed by `query` (with `workflowId`, or any), once visibility has indexed it. */
async function eventuallyListed(query: string, workflowId: string | undefined) {
  const deadline = Date.now() + 30000;
  for (;;) {
    for await (const wf of env.client.workflow.list({ query })) {
      if ((workflowId === undefined || wf.workflowId === workflowId) && wf.status.name !== 'RUNNING') return wf;
    }
    if (Date.now() > deadline) throw new Error(`no closed ${workflowId ?? 'workflow'} listed by ${query}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

(skipReason ? describe.skip : describe)('in the Temporal Web UI (chromium)', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    if (!chromiumPath) {
      throw new Error(`chromium is missing (looked for ${CHROMIUM_PATHS.join(', ')}): install the Debian package "chromium" (.ci/run does)`);
    }
    browser = await launchChromium(chromiumPath);
    page = await browser.context.newPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  const ns = () => encodeURIComponent(env.temporal.namespace);
  const listUrl = (cartId: string) => `${uiUrl}/namespaces/${ns()}/workflows?query=${encodeURIComponent(`CartId="${cartId}"`)}`;
  const historyUrl = (cartId: string, runId: string) =>
    `${uiUrl}/namespaces/${ns()}/workflows/${encodeURIComponent(checkoutWorkflowId(cartId))}/${encodeURIComponent(runId)}/history`;
  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });

  /** Waits until `within` shows each text (the UI renders once its API calls answer). */
  async function see(within: Locator, ...texts: string[]): Promise<void> {
    for (const text of texts) await within.getByText(text).first().waitFor({ state: 'visible', timeout: 30000 });
  }

  /** The row of the compact event table (one row per activity, signal, update) that mentions `text`. */
  const compactRow = (text: string) => page.locator('tr[data-testid="event-summary-row"]', { hasText: text });

  async function showCompactHistory(): Promise<void> {
    await page.getByRole('button', { name: 'Compact' }).click();
    await compactRow(CANCEL_SIGNAL_NAME).waitFor({ state: 'visible', timeout: 30000 });
  }

  test('the list filtered by CartId="…" shows each cart\'s checkout (and, for add to cart, the change that cancelled it)', async () => {
    const { invalid, addToCart } = checkouts;
    // The page lists what visibility knows when it loads: wait until the closed runs are indexed.
    await eventuallyListed(`CartId="${invalid.cartId}"`, checkoutWorkflowId(invalid.cartId));
    await eventuallyListed(`CartId="${addToCart.cartId}"`, checkoutWorkflowId(addToCart.cartId));
    await eventuallyListed(`CartId="${addToCart.cartId}" AND WorkflowType="cartItemsWorkflow"`, undefined);
    await page.goto(listUrl(invalid.cartId));
    await see(page.locator('main'), checkoutWorkflowId(invalid.cartId), 'Failed');
    await shot('ui-list-invalid-operation');

    await page.goto(listUrl(addToCart.cartId));
    await see(page.locator('main'), checkoutWorkflowId(addToCart.cartId), 'checkoutWorkflow', 'cartItemsWorkflow');
    await shot('ui-list-add-to-cart');
  });

  test('the INVALID_OPERATION history shows the signal, the cancel activity, and the failure type and message', async () => {
    const { cartId, runId } = checkouts.invalid;
    await page.goto(historyUrl(cartId, runId));
    const main = page.locator('main');
    // The header: the run Failed, with the failure (type, message, details) as its result.
    await see(main, 'Failed', CLOSED_CART_MESSAGE, '"type": "INVALID_OPERATION"', `lock cart ${cartId}`);
    await shot('ui-history-invalid-operation');

    // The compact event table: the signal with its input, the cancel activity with its summary, failed.
    await showCompactHistory();
    const signal = compactRow(CANCEL_SIGNAL_NAME);
    await see(signal, 'Signal received', '"reason":"REQUESTED"');
    const cancel = compactRow(CANCEL_ACTIVITY_TYPE);
    await see(cancel, 'cancel checkout: reason REQUESTED, by svc-support');
    await page.getByText('Event Type', { exact: true }).scrollIntoViewIfNeeded();
    await page
      .locator('table')
      .last()
      .evaluate((table) => table.scrollIntoView({ block: 'start' }));
    await shot('ui-history-invalid-operation-events');

    // The failed activity's own page: its failure with type, message and details, not retried.
    const history = await env.client.workflow.getHandle(checkoutWorkflowId(cartId), runId).fetchHistory();
    const failedId = String(history.events!.find((e) => e.activityTaskFailedEventAttributes)!.eventId);
    await page.goto(`${historyUrl(cartId, runId)}/events/${failedId}`);
    await see(main, 'RETRY_STATE_NON_RETRYABLE_FAILURE', '"type": "INVALID_OPERATION"', '"httpStatus": 403', CLOSED_CART_MESSAGE, CANCEL_ACTIVITY_TYPE);
    await main.getByText('Retry State', { exact: true }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('ui-event-invalid-operation-failure');
  });

  test('the add-to-cart history shows the signal with reason ADD_TO_CART and the cancel activity', async () => {
    const { cartId, runId } = checkouts.addToCart;
    await page.goto(historyUrl(cartId, runId));
    await see(page.locator('main'), 'Completed', '"outcome": "CANCELED"', '"reason": "ADD_TO_CART"', 'cancel checkout: reason ADD_TO_CART, by buyer-7');
    await showCompactHistory();
    await see(compactRow(CANCEL_SIGNAL_NAME), 'Signal received', '"reason":"ADD_TO_CART"', '"requestedBy":"buyer-7"');
    await see(compactRow(CANCEL_ACTIVITY_TYPE), 'cancel checkout: reason ADD_TO_CART, by buyer-7');
    await page.goto(historyUrl(cartId, runId));
    await see(page.locator('main'), `lock cart ${cartId}`);
    await shot('ui-history-add-to-cart');
  });

  test("a recalculated checkout's history shows the recalculateCheckout Update, the change's activity and the steps run again", async () => {
    const { cartId, runId } = checkouts.recalculated;
    await page.goto(historyUrl(cartId, runId));
    const main = page.locator('main');
    await see(
      main,
      'Completed',
      '"outcome": "ORDER_PLACED"',
      RECALCULATE_UPDATE_NAME,
      `recalculation 1 of cart ${cartId}: add 3 × SKU-NEW, by buyer-7; steps from Confirm Price run again`,
      `step Confirm Price for cart ${cartId} (recalculation 1)`,
    );
    await page.getByText('Event History', { exact: true }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot('ui-history-recalculated');
  });

  test('a running checkout shows its summary, its current details and the summaries of its activities and lease timer', async () => {
    const w = await env.newWorker();
    await w.worker.runUntil(async () => {
      const cartId = uiCartId('ui-ready');
      await insertForeignCart(env.carts, cartId);
      // Started as the client (src/client/start.ts) starts it, with the static summary (see docs/observability.md).
      const input = { cartId, requestedBy: 'svc-storefront' };
      const handle = await env.client.workflow.start('checkoutWorkflow', {
        workflowId: checkoutWorkflowId(cartId),
        taskQueue: env.taskQueue,
        args: [input],
        searchAttributes: { CartId: [cartId] },
        staticSummary: checkoutSummary(input),
      });
      await eventually(`checkout of ${cartId} to be READY`, async () => ((await handle.query(getCheckoutStateQuery)).phase === 'READY' ? true : undefined));

      await page.goto(historyUrl(cartId, handle.firstExecutionRunId));
      await page
        .getByRole('link', { name: 'User Metadata' })
        .or(page.getByRole('tab', { name: 'User Metadata' }))
        .first()
        .click();
      await see(page.locator('main'), `lock cart ${cartId}`, `step Taxes for cart ${cartId}`, `lease: hold cart ${cartId} for 30 min`);
      // The summary and the current details are Markdown, each rendered in a frame of its own. The
      // current details come from the running workflow: a query its worker answers.
      const summary = page.frameLocator('iframe[title="output"]').first().locator('body');
      await see(summary, `checkout of cart ${cartId}, started by svc-storefront`);
      const details = page.frameLocator('iframe[title="output"]').last().locator('body');
      await see(details, 'Checkout Summary', 'waiting for the order', 'store store-1 · account acct-1 · started by svc-storefront');
      await shot('ui-user-metadata-running');

      await handle.signal(cancelCheckoutSignal, { reason: 'REQUESTED', requestedBy: 'svc-support' });
      expect(await handle.result()).toMatchObject({ outcome: 'CANCELED' });
    });
  });
});

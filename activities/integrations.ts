/**
 * What a checkout step does with the store's provider (issue 15; the contract for store teams is
 * docs/integrations.md): the builtin calculators, or an http call to the store's own system, signed,
 * bounded by its timeout, heartbeating while it waits and aborted when the checkout cancels the step.
 * An answer is read strictly: a refusal is a business failure (non-retryable, with its code), anything
 * that is not an answer (no answer in time, a connection error, a 5xx, a malformed body) is retried.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHmac } from 'node:crypto';
import {
  CheckoutError,
  INTEGRATION_IDEMPOTENCY_HEADER,
  INTEGRATION_STEPS,
  INTEGRATION_UNAVAILABLE,
  PRICE_BOOK_MESSAGES,
  SIGNATURE_HEADER,
  SIGNATURE_PREFIX,
  stepOutcomeText,
  type BackgroundStep,
  type CartItem,
  type ErrorCode,
  type IntegrationRequest,
  type IntegrationStep,
  type StepOutcome,
  type Totals,
} from '../src/contract';
import { computeTotals, priceFromBook, unitPriceOf, type BookPrices, type CartDoc, type IntegrationDoc, type StorePricing } from '../src/db';

/** What a step computed: the cart's totals, Confirm Price's repriced items, and its outcome. */
export interface StepWork {
  totals: Totals;
  items?: CartItem[];
  outcome: StepOutcome;
}

/** What a provider answered, once read and checked. */
export type ProviderAnswer = { available: true } | { prices: Record<string, number> } | { shipping: number } | { tax: number };

const HEARTBEAT_EVERY_MS = 1000;
/** More than any answer of the contract needs; a bigger body is not read as one. */
const MAX_ANSWER_CHARS = 1024 * 1024;

export function signBody(body: string, secret: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/**
 * Today's calculators: no call, the cart's own prices. With the store's price book (`book`, a store
 * whose pricing is `book`), Confirm Price reprices every line from it and refuses a line whose SKU
 * has no price there (PRICE_NOT_FOUND, a business failure like a provider's refusal).
 */
export function builtinStep(step: BackgroundStep, items: CartItem[], previous: Totals | undefined, book?: BookPrices): StepWork {
  if (book && step === 'Confirm Price') return bookPricedStep(step, items, previous, book);
  const totals = computeTotals(step, items, previous);
  return { totals, outcome: { provider: 'builtin', answer: answerText(step, totals) } };
}

function bookPricedStep(step: BackgroundStep, items: CartItem[], previous: Totals | undefined, book: BookPrices): StepWork {
  const { items: repriced, missing } = priceFromBook(items, book);
  if (missing.length) {
    const answer = PRICE_BOOK_MESSAGES.stepAnswer(missing);
    throw new CheckoutError('PRICE_NOT_FOUND', stepOutcomeText(step, { provider: 'builtin', answer }), {
      step,
      provider: 'builtin',
      webstoreId: book.webstoreId,
      skus: missing,
    });
  }
  const totals = computeTotals(step, repriced, previous);
  return { totals, items: repriced, outcome: { provider: 'builtin', answer: `${answerText(step, totals)} (${repriced.length} lines from the price book)` } };
}

/** The price book a builtin step needs: Confirm Price's, when the cart's store prices from its book. */
export async function builtinBook(step: BackgroundStep, doc: CartDoc, pricing: StorePricing): Promise<BookPrices | undefined> {
  if (step !== 'Confirm Price') return undefined;
  return pricing.bookFor(
    doc.webstoreId,
    (doc.items ?? []).map((i) => i.sku),
  );
}

/** Calls the store's provider for this step and turns its answer into the step's totals (and repriced items). */
export async function httpStep(provider: IntegrationDoc, doc: CartDoc, sessionId: string): Promise<StepWork> {
  const step = provider.step;
  const items = doc.items ?? [];
  const request: IntegrationRequest = {
    step,
    cartId: doc._id,
    webstoreId: provider.webstoreId,
    accountId: doc.accountId ?? null,
    items: items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: unitPriceOf(i) })),
    totals: computeTotals('Inventory', items, doc.checkout?.totals),
  };
  const { status, text } = await callProvider(provider, JSON.stringify(request), `${sessionId}:${step}`);
  const answer = readAnswer(step, status, text, items);
  return workOf(INTEGRATION_STEPS[step], answer, items, doc.checkout?.totals);
}

function workOf(state: BackgroundStep, answer: ProviderAnswer, items: CartItem[], previous: Totals | undefined): StepWork {
  if ('prices' in answer) {
    const repriced = items.map((i) => ({ ...i, unitPrice: answer.prices[i.sku] }));
    const totals = computeTotals(state, repriced, previous);
    return { totals, items: repriced, outcome: { provider: 'http', answer: `${answerText(state, totals)} (${repriced.length} lines repriced)` } };
  }
  const totals = computeTotals(state, items, previous, 'available' in answer ? {} : answer);
  return { totals, outcome: { provider: 'http', answer: answerText(state, totals) } };
}

function answerText(step: BackgroundStep, totals: Totals): string {
  switch (step) {
    case 'Inventory':
      return 'available';
    case 'Confirm Price':
      return `subtotal ${totals.subtotal}`;
    case 'Shipping Cost':
      return String(totals.shipping);
    case 'Taxes':
      return String(totals.tax);
    case 'Checkout Summary':
      return `total ${totals.total}`;
  }
}

/**
 * POSTs the signed body. Heartbeats while it waits: the heartbeat is how a lost worker is noticed and
 * how Temporal delivers the checkout's cancel, which aborts the call through the activity's
 * cancellation signal (the step then ends cancelled, as any cancelled activity).
 */
async function callProvider(provider: IntegrationDoc, body: string, requestId: string): Promise<{ status: number; text: string }> {
  const ctx = Context.current();
  const state = INTEGRATION_STEPS[provider.step];
  // One signal for both ends of a call: its timeout, and the activity's cancellation.
  const call = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    call.abort();
  }, provider.timeoutMs);
  const onCancel = () => call.abort();
  if (ctx.cancellationSignal.aborted) onCancel();
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  const startedAt = Date.now();
  const beat = () => ctx.heartbeat({ step: state, provider: 'http', waitingMs: Date.now() - startedAt });
  beat();
  const heartbeats = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    const res = await fetch(provider.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(body, provider.secret), [INTEGRATION_IDEMPOTENCY_HEADER]: requestId },
      body,
      // A redirect would resend the call elsewhere, or drop its body: it is answered as not an answer.
      redirect: 'manual',
      signal: call.signal,
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    // Cancelled: the reason is the SDK's CancelledFailure, which reports the activity cancelled.
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    if (timedOut) throw unavailable(state, `no answer within ${provider.timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(state, `no answer (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  } finally {
    clearInterval(heartbeats);
    clearTimeout(timer);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
}

/** Retryable: Temporal tries the step again after its backoff. */
export function unavailable(step: BackgroundStep, why: string, status?: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: INTEGRATION_UNAVAILABLE,
    message: stepOutcomeText(step, { provider: 'http', answer: why }),
    nonRetryable: false,
    details: [{ step, provider: 'http', ...(status !== undefined ? { status } : {}) }],
  });
}

function refusal(code: ErrorCode, step: BackgroundStep, answer: string, details: Record<string, unknown>): CheckoutError {
  return new CheckoutError(code, stepOutcomeText(step, { provider: 'http', answer }), { step, provider: 'http', ...details });
}

/**
 * A provider's answer, read strictly. A refusal (available false, a line without a price, a 4xx but
 * 408/429) throws a CheckoutError with its code; what is no answer (3xx, 5xx, 408, 429, a body that is
 * not the contract's JSON) throws the retryable INTEGRATION_UNAVAILABLE.
 */
export function readAnswer(step: IntegrationStep, status: number, text: string, items: CartItem[]): ProviderAnswer {
  const state = INTEGRATION_STEPS[step];
  // 408 and 429 say "not now", not "no": they are retried like a 5xx.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    const said = text.trim().slice(0, 200);
    throw refusal('INTEGRATION_REFUSED', state, `refused with ${status}${said ? ` (${said})` : ''}`, { status });
  }
  if (status < 200 || status > 299) throw unavailable(state, `answered ${status}`, status);
  const body = parseObject(text);
  if (!body) throw unavailable(state, 'the answer is not a JSON object', status);
  const malformed = (what: string) => unavailable(state, `the answer has no ${what}`, status);
  switch (step) {
    case 'Inventory': {
      if (body.available === true) return { available: true };
      if (body.available !== false) throw malformed('"available": true or false');
      const skus = Array.isArray(body.unavailable) ? body.unavailable.filter((s): s is string => typeof s === 'string') : [];
      throw refusal('INSUFFICIENT_INVENTORY', state, `unavailable ${skus.length ? skus.join(', ') : '(no SKU named)'}`, { unavailable: skus });
    }
    case 'ConfirmPrice': {
      const prices = body.prices;
      if (typeof prices !== 'object' || prices === null || Array.isArray(prices)) throw malformed('"prices" object');
      const table = prices as Record<string, unknown>;
      const price = (sku: string) => (Object.prototype.hasOwnProperty.call(table, sku) ? table[sku] : undefined);
      const missing = items.filter((i) => !isAmount(price(i.sku))).map((i) => i.sku);
      if (missing.length) throw refusal('PRICE_NOT_FOUND', state, `no price for ${missing.join(', ')}`, { skus: missing });
      return { prices: Object.fromEntries(items.map((i) => [i.sku, price(i.sku) as number])) };
    }
    case 'ShippingCost':
      if (!isCents(body.shipping)) throw malformed('"shipping" in cents (a non-negative integer)');
      return { shipping: body.shipping };
    case 'Taxes':
      if (!isCents(body.tax)) throw malformed('"tax" in cents (a non-negative integer)');
      return { tax: body.tax };
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (text.length > MAX_ANSWER_CHARS) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isCents = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

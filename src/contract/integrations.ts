/**
 * Store integrations (issue 15): per store and per step, the provider that serves a checkout step,
 * `builtin` (the service's own calculators) or `http` (the store's own system, called by the step
 * activity). The step names of the admin routes and of the call, the settings and their limits, the
 * call's JSON and signature header, and what a step's outcome says. Pure: no Node, no SDK.
 * The whole contract for a store team: docs/integrations.md.
 */
import type { BackgroundStep, Totals } from './types';

/** The steps a store can serve itself, as the routes and the call name them, with the checkout state each one is. */
export const INTEGRATION_STEPS = {
  Inventory: 'Inventory',
  ConfirmPrice: 'Confirm Price',
  ShippingCost: 'Shipping Cost',
  Taxes: 'Taxes',
} as const satisfies Record<string, BackgroundStep>;
export type IntegrationStep = keyof typeof INTEGRATION_STEPS;
export const INTEGRATION_STEP_NAMES = Object.keys(INTEGRATION_STEPS) as IntegrationStep[];

export const PROVIDER_TYPES = ['builtin', 'http'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/**
 * How long one call may take. The upper bound keeps a call well inside the step activity's
 * start-to-close timeout (10 min, workflows/checkout/steps.ts), so a hanging provider is cut off by
 * its own timeout and retried, never by Temporal's.
 */
export const INTEGRATION_TIMEOUT_MS = { min: 100, max: 60_000, default: 5000 } as const;
export const INTEGRATION_URL_MAX = 2048;
export const INTEGRATION_SECRET_MAX = 1024;

/** The header that signs a call: `sha256=<hex HMAC-SHA256 of the raw body under the store's secret>`. */
export const SIGNATURE_HEADER = 'X-Signature';
export const SIGNATURE_PREFIX = 'sha256=';
/** The same on every attempt of one step of one checkout (`<sessionId>:<step>`): a provider can deduplicate retries. */
export const INTEGRATION_IDEMPOTENCY_HEADER = 'Idempotency-Key';

export function integrationStepOf(step: BackgroundStep): IntegrationStep | undefined {
  return INTEGRATION_STEP_NAMES.find((name) => INTEGRATION_STEPS[name] === step);
}

export function isIntegrationStep(value: unknown): value is IntegrationStep {
  return typeof value === 'string' && (INTEGRATION_STEP_NAMES as string[]).includes(value);
}

/** An http provider as an admin registers it (`PUT /webstores/:webstoreId/integrations/:step`). */
export interface HttpProviderSettings {
  type: 'http';
  url: string;
  secret: string;
  timeoutMs: number;
}

/** What `GET /webstores/:webstoreId/integrations/:step` answers: never the secret, only whether it is set. */
export interface IntegrationView {
  webstoreId: string;
  step: IntegrationStep;
  type: ProviderType;
  url?: string;
  timeoutMs?: number;
  secretSet?: boolean;
  updatedAt?: string;
}

/** The JSON body of a call (POST to the provider's url). Amounts in cents, unit prices in currency units. */
export interface IntegrationRequest {
  step: IntegrationStep;
  cartId: string;
  webstoreId: string;
  accountId: string | null;
  items: { sku: string; quantity: number; unitPrice: number }[];
  totals: Totals;
}

/** How a step ended, for the history and the checkout's current details: "Taxes via http: 777". */
export interface StepOutcome {
  provider: ProviderType;
  answer: string;
}

/** A problem with a PUT body (`field` names what is wrong), or undefined; the body as settings when it is fine. */
export function providerSettingsOf(
  body: unknown,
): { settings: HttpProviderSettings | { type: 'builtin' }; problem?: undefined } | { problem: string; field: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { problem: 'the body must be an object { type, url, secret, timeoutMs }', field: 'body' };
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !['type', 'url', 'secret', 'timeoutMs'].includes(k));
  if (unknown) return { problem: `unknown field ${unknown}`, field: unknown };
  if (b.type === 'builtin') {
    const extra = Object.keys(b).find((k) => k !== 'type');
    return extra ? { problem: `a builtin provider takes no ${extra}`, field: extra } : { settings: { type: 'builtin' } };
  }
  if (b.type !== 'http') return { problem: 'type must be "http" or "builtin"', field: 'type' };
  const urlProblem = outboundUrlProblem(b.url, INTEGRATION_URL_MAX, 'each call');
  if (urlProblem) return { problem: urlProblem, field: 'url' };
  if (typeof b.secret !== 'string' || b.secret.length === 0 || b.secret.length > INTEGRATION_SECRET_MAX) {
    return { problem: `secret must be a non-empty string of at most ${INTEGRATION_SECRET_MAX} characters`, field: 'secret' };
  }
  const { min, max } = INTEGRATION_TIMEOUT_MS;
  const timeoutMs = b.timeoutMs ?? INTEGRATION_TIMEOUT_MS.default;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < min || timeoutMs > max) {
    return { problem: `timeoutMs must be an integer from ${min} to ${max}`, field: 'timeoutMs' };
  }
  return { settings: { type: 'http', url: b.url as string, secret: b.secret, timeoutMs } };
}

/**
 * Why `url` can't be called by this service (an absolute http(s) URL of at most `maxLength`, without
 * credentials: the shared secret is what authenticates), or undefined. Store providers and webhooks.
 */
export function outboundUrlProblem(url: unknown, maxLength: number, secretUse: string): string | undefined {
  const must = `url must be an absolute http:// or https:// URL of at most ${maxLength} characters`;
  if (typeof url !== 'string' || url.length > maxLength) return must;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return must;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return must;
  if (parsed.username || parsed.password) return `url must not carry credentials; the secret signs ${secretUse}`;
  return undefined;
}

/** "Taxes via http: 777": a step's outcome as the history and the current details name it. */
export function stepOutcomeText(step: BackgroundStep, outcome: StepOutcome): string {
  return `${step} via ${outcome.provider}: ${outcome.answer}`;
}

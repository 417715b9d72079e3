/**
 * The TypeBox schemas of the API: ids, SKUs and quantities as the contract defines them, objects
 * that refuse unknown fields (so `{"$ne": null}` or a typo is 400, never silently dropped), and the
 * answers of the routes. One schema validates a request (fastify's Ajv), types its handler (the
 * TypeBox type provider) and documents it (GET /openapi.json, ./openapi.ts).
 *
 * Response schemas document and type the answers; they do not filter them (see the serializer in
 * ./app.ts). test/openapi.test.ts checks real answers against them.
 */
import { Type, type Static, type TObject, type TOptional, type TProperties, type TString } from 'typebox';
import {
  BACKGROUND_STEPS,
  CART_ID_PATTERN,
  CART_STATUSES,
  CHECKOUT_POLICIES,
  CHECKOUT_STATES,
  INTEGRATION_SECRET_MAX,
  INTEGRATION_STEP_NAMES,
  INTEGRATION_TIMEOUT_MS,
  INTEGRATION_URL_MAX,
  MAX_QUANTITY,
  PRICING_MODES,
  PROVIDER_TYPES,
  SKU_PATTERN,
} from '../contract';

export { Type, type Static };

export const ID = Type.String({ minLength: 1, maxLength: 128, pattern: CART_ID_PATTERN.source });
export const SKU = Type.String({ minLength: 1, maxLength: 128, pattern: SKU_PATTERN.source });
export const QUANTITY = Type.Integer({ minimum: 1, maximum: MAX_QUANTITY });
export const NAME = Type.String({ minLength: 1, maxLength: 200 });

type ParamsOf<N extends readonly string[]> = { [K in N[number]]: TString };

/** Path parameters: `sku` is a SKU, every other one an id. */
export function params<const N extends readonly string[]>(...names: N): TObject<ParamsOf<N>> {
  const properties = Object.fromEntries(names.map((n) => [n, n === 'sku' ? SKU : ID])) as ParamsOf<N>;
  return Type.Object(properties, { additionalProperties: false });
}

type BodyOf<P extends TProperties, R extends keyof P> = { [K in keyof P]: K extends R ? P[K] : TOptional<P[K]> };

/**
 * A JSON body that refuses unknown fields. With `required`, the properties it does not name are
 * optional; without it, write optional ones as `Type.Optional(...)`.
 */
export function body<P extends TProperties, R extends keyof P = keyof P>(properties: P, required?: readonly R[]): TObject<BodyOf<P, R>> {
  const entries = Object.entries(properties).map(([k, v]) => [k, required && !required.includes(k as R) ? Type.Optional(v) : v]);
  return Type.Object(Object.fromEntries(entries) as BodyOf<P, R>, { additionalProperties: false });
}

export const EMPTY_BODY = Type.Object({}, { additionalProperties: false });

/** Buyer routes act for the account in X-Effective-Account-Id (fastify matches header names in lower case). */
export const buyerHeaders = Type.Object({
  'X-Effective-Account-Id': Type.String({
    ...ID,
    description: 'The buyer account this request acts for: it must be active, a member of the store, and own the cart.',
  }),
});

// ---- Answers -----------------------------------------------------------------------------------

const enumOf = <T extends string>(values: readonly T[], description?: string) => Type.Enum([...values], description ? { description } : {});
const DATE = Type.String({ format: 'date-time' });
const CANCEL_REASON = Type.String({ description: 'REQUESTED, ADD_TO_CART, EXPIRED, or a reason of the caller (UPPER_SNAKE_CASE).' });

export const CartItemSchema = Type.Object({
  sku: Type.String(),
  quantity: Type.Integer(),
  unitPrice: Type.Optional(Type.Number()),
});

export const TotalsSchema = Type.Object(
  {
    subtotal: Type.Number(),
    shipping: Type.Optional(Type.Number()),
    tax: Type.Optional(Type.Number()),
    total: Type.Optional(Type.Number()),
  },
  { description: 'Amounts in cents.' },
);

const STATE = enumOf([...CHECKOUT_STATES, 'Error']);

export const SessionSchema = Type.Object({
  sessionId: Type.String(),
  workflowId: Type.String(),
  runId: Type.Optional(Type.String()),
  state: STATE,
  nextState: STATE,
  isProcessing: Type.Boolean(),
  isError: Type.Boolean(),
  isArchived: Type.Boolean(),
  backgroundOperation: Type.Object({ id: Type.String(), status: enumOf(['New', 'Running', 'Complete', 'Error', 'Canceled']) }),
  requestedBy: Type.Optional(Type.String()),
  startedAt: DATE,
  totals: Type.Optional(TotalsSchema),
  orderId: Type.Optional(Type.String()),
  archivedAt: Type.Optional(DATE),
  cancelReason: Type.Optional(Type.String()),
  canceledBy: Type.Optional(Type.String()),
  recalculations: Type.Optional(Type.Integer({ description: 'How many item changes this checkout took under the store policy recalculate.' })),
});

export const CartSchema = Type.Object(
  {
    cartId: Type.String(),
    status: enumOf(CART_STATUSES),
    webstoreId: Type.Optional(Type.String()),
    accountId: Type.Optional(Type.String()),
    items: Type.Array(CartItemSchema),
    version: Type.Integer(),
    orderId: Type.Optional(Type.String()),
    checkout: Type.Optional(SessionSchema),
    archivedSessionCount: Type.Integer({ description: 'How many checkout sessions ended on this cart.' }),
  },
  { description: 'A cart with its running checkout session, if any.' },
);

/** An item change that completed within the wait. */
export const ItemsChangedSchema = Type.Object({
  cartId: Type.String(),
  status: enumOf(CART_STATUSES),
  version: Type.Integer(),
  items: Type.Array(CartItemSchema),
  canceledCheckout: Type.Boolean({ description: 'True if a running checkout was cancelled (reason ADD_TO_CART) so the change could land.' }),
  recalculated: Type.Optional(
    Type.Boolean({ description: 'True if the running checkout took the change and runs its steps again (store checkoutPolicy recalculate).' }),
  ),
  requestId: Type.Optional(Type.String({ description: "The change's request id (from the Idempotency-Key, else generated)." })),
});

/** An answer of work that goes on durably after the request's wait. */
const accepted = <P extends TProperties>(properties: P, description: string) =>
  Type.Object({ ...properties, accepted: Type.Literal(true), message: Type.String() }, { description });

export const ItemsAcceptedSchema = accepted(
  { cartId: Type.String(), requestId: Type.String(), workflowId: Type.String() },
  'Accepted: the change completes durably. Repeat the request with the same Idempotency-Key for its result.',
);

export const CheckoutStartedSchema = Type.Object({
  checkoutId: Type.String({ description: 'The checkout workflow id.' }),
  runId: Type.String(),
  status: Type.Literal('Checkout'),
  state: STATE,
  started: Type.Boolean({ description: 'False when the checkout was already running (200).' }),
});

export const CheckoutAcceptedSchema = accepted(
  { checkoutId: Type.String(), runId: Type.String() },
  'The checkout was started but no worker locked the cart within the wait.',
);

export const CancelAnswerSchema = Type.Object({
  cartId: Type.String(),
  canceled: Type.Boolean({ description: 'True if this request unlocked the cart; false if nothing was running.' }),
  reason: CANCEL_REASON,
  status: Type.Optional(enumOf(CART_STATUSES)),
  accepted: Type.Optional(Type.Literal(true)),
  message: Type.String(),
});

export const OrderSchema = Type.Object({ orderId: Type.String() });

export const StoreSchema = Type.Object({
  webstoreId: Type.String(),
  name: Type.String(),
  checkoutPolicy: enumOf(CHECKOUT_POLICIES),
  pricing: enumOf(PRICING_MODES),
});

export const AccountSchema = Type.Object({ accountId: Type.String(), name: Type.String(), active: Type.Boolean() });

export const MembershipSchema = Type.Object({ webstoreId: Type.String(), accountId: Type.String() });

export const INTEGRATION_STEP = enumOf(INTEGRATION_STEP_NAMES, `The checkout step a store serves itself (${BACKGROUND_STEPS.join(', ')} without spaces).`);

export const IntegrationSchema = Type.Object({
  webstoreId: Type.String(),
  step: INTEGRATION_STEP,
  type: enumOf(PROVIDER_TYPES),
  url: Type.Optional(Type.String()),
  timeoutMs: Type.Optional(Type.Integer()),
  secretSet: Type.Optional(Type.Boolean({ description: 'The secret itself is never answered.' })),
  updatedAt: Type.Optional(DATE),
});

export const HealthSchema = Type.Object({
  temporal: Type.String({ description: '"ok" or "unreachable: <why>"' }),
  mongodb: Type.String({ description: '"ok" or "unreachable: <why>"' }),
});

/**
 * What PUT /webstores/:webstoreId/integrations/:step takes. Documentation only: the contract's
 * providerSettingsOf checks the body, so the API and docs/integrations.md give the same reasons.
 */
export const ProviderSettingsSchema = Type.Union([
  Type.Object(
    {
      type: Type.Literal('http'),
      url: Type.String({ maxLength: INTEGRATION_URL_MAX, description: 'An absolute http:// or https:// URL, without credentials.' }),
      secret: Type.String({ minLength: 1, maxLength: INTEGRATION_SECRET_MAX, description: 'Signs each call (X-Signature: sha256=<HMAC>).' }),
      timeoutMs: Type.Optional(
        Type.Integer({ minimum: INTEGRATION_TIMEOUT_MS.min, maximum: INTEGRATION_TIMEOUT_MS.max, default: INTEGRATION_TIMEOUT_MS.default }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('builtin') }, { additionalProperties: false }),
]);

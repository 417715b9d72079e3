/**
 * The JSON schemas the routes share: ids, SKUs and quantities as the contract defines them, and
 * objects that refuse unknown fields (so `{"$ne": null}` or a typo is 400, never silently dropped).
 */
import { CART_ID_PATTERN, MAX_QUANTITY, SKU_PATTERN } from '../contract';

export const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: CART_ID_PATTERN.source } as const;
export const SKU = { type: 'string', minLength: 1, maxLength: 128, pattern: SKU_PATTERN.source } as const;
export const QUANTITY = { type: 'integer', minimum: 1, maximum: MAX_QUANTITY } as const;
export const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;

/** Path parameters: `sku` is a SKU, every other one an id. */
export const params = (...names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, n === 'sku' ? SKU : ID])),
  required: names,
  additionalProperties: false,
});

export const body = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

export const EMPTY_BODY = body({});

/** Buyer routes act for the account in X-Effective-Account-Id. */
export const buyerHeaders = {
  type: 'object',
  properties: { 'x-effective-account-id': ID },
  required: ['x-effective-account-id'],
};

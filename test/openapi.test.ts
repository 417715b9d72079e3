/**
 * The OpenAPI document the API serves at /openapi.json: every route the API registers is in it with
 * its parameters, success and error answers; it is an OpenAPI 3.1 document (structurally, and every
 * schema in it compiles as JSON Schema 2020-12); and real answers of the routes match the schemas it
 * shows (the API checks each answer against its schema in this file).
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { RouteOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { ERROR_CODES } from '../src/contract';
import { setupTestEnv, type TestEnv } from './harness/env';
import { ADMIN_TOKEN, call, setupDirectory, startTestApi, type RunningTestApi } from './harness/http';

let env: TestEnv;
let api: RunningTestApi;
const routes: RouteOptions[] = [];

beforeAll(async () => {
  env = await setupTestEnv('openapi');
  api = await startTestApi({ checkout: env.checkout, temporal: env.client, db: env.mongo.db, checkResponses: true, onRoute: (r) => routes.push(r) });
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is asserted field by field */
type Doc = Record<string, any>;
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const methodsOf = (r: RouteOptions) => [r.method].flat().filter((m) => m !== 'HEAD');
const documented = () => routes.filter((r) => !(r.schema as { hide?: boolean } | undefined)?.hide && methodsOf(r).length > 0);

async function document(): Promise<Doc> {
  const res = await call(api.base, '/openapi.json', { token: null, account: null });
  expect(res.status).toBe(200);
  return res.body as Doc;
}

test('every registered route is in the document, with summary, tags, parameters, its success answers and its error answers', async () => {
  const doc = await document();
  expect(documented().length).toBeGreaterThanOrEqual(16);
  // The only routes left out are the docs page's own assets (and the HEAD routes fastify adds to GET ones).
  const left = routes.filter((x) => !documented().includes(x) && methodsOf(x).length > 0).map((r) => r.url);
  expect(left.filter((url) => !url.startsWith('/docs'))).toEqual([]);

  for (const route of documented()) {
    for (const method of methodsOf(route)) {
      const where = `${method} ${route.url}`;
      const op = doc.paths[openApiPath(route.url)]?.[method.toLowerCase()];
      expect({ where, documented: op !== undefined }).toEqual({ where, documented: true });
      expect({ where, summary: typeof op.summary, tags: op.tags?.length > 0 }).toEqual({ where, summary: 'string', tags: true });
      const statuses = Object.keys(op.responses);
      expect({ where, success: statuses.some((s) => /^2\d\d$/.test(s)) }).toEqual({ where, success: true });
      for (const name of route.url.match(/:[A-Za-z0-9_]+/g) ?? []) {
        expect(op.parameters).toContainEqual(expect.objectContaining({ in: 'path', name: name.slice(1), required: true }));
      }
      const open = ['/healthz', '/metrics', '/openapi.json'].includes(route.url);
      if (open) {
        expect({ where, security: op.security }).toEqual({ where, security: [] });
        continue;
      }
      // Every error answer is [{ errorCode, message }] and lists the codes of its status.
      for (const status of ['400', '401', '429', '503']) expect({ where, status, has: statuses.includes(status) }).toEqual({ where, status, has: true });
      for (const status of statuses.filter((s) => /^[45]\d\d$/.test(s))) {
        const schema = op.responses[status].content['application/json'].schema;
        expect(schema).toMatchObject({ type: 'array', items: { type: 'object', required: ['errorCode', 'message'] } });
        const codes: string[] = schema.items.properties.errorCode.enum;
        for (const code of codes)
          expect([code, (ERROR_CODES as Record<string, number>)[code] ?? { UNAUTHENTICATED: 401 }[code]]).toEqual([code, Number(status)]);
      }
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        expect(op.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: false }));
        expect(op.responses['422'].content['application/json'].schema.items.properties.errorCode.enum).toEqual(['IDEMPOTENCY_KEY_REUSED']);
      }
    }
  }

  const cancel = doc.paths['/carts/{cartId}/checkouts/active'].delete;
  expect(cancel.responses['403'].content['application/json'].schema.items.properties.errorCode.enum).toEqual(
    expect.arrayContaining(['INVALID_OPERATION', 'INSUFFICIENT_ACCESS']),
  );
  expect(cancel.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'X-Effective-Account-Id', required: true }));
  expect(cancel.parameters).toContainEqual(expect.objectContaining({ in: 'query', name: 'reason' }));
  const admin = doc.paths['/webstores/{webstoreId}'].put;
  expect(admin.responses['403'].content['application/json'].schema.items.properties.errorCode.enum).toEqual(['INSUFFICIENT_ACCESS']);
  expect(admin.requestBody.content['application/json'].schema).toMatchObject({ required: ['name'], additionalProperties: false });
  // A body another layer checks is still documented.
  expect(doc.paths['/webstores/{webstoreId}/integrations/{step}'].put.requestBody.content['application/json'].schema.anyOf).toHaveLength(2);
  expect(doc.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
  expect(doc.security).toEqual([{ bearer: [] }]);
});

/** The parts of the OpenAPI 3.1 schema (spec.openapis.org/oas/3.1/schema) that this document uses. */
const OAS31_SUBSET = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+(-.+)?$' },
    info: { type: 'object', required: ['title', 'version'], properties: { title: { type: 'string' }, version: { type: 'string' } } },
    security: { type: 'array', items: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } } },
    tags: { type: 'array', items: { type: 'object', required: ['name'] } },
    components: {
      type: 'object',
      properties: {
        securitySchemes: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['type'],
            properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] } },
          },
        },
      },
    },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'parameters', 'summary', 'description', 'servers'] },
        additionalProperties: { $ref: '#/$defs/operation' },
      },
    },
  },
  $defs: {
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        parameters: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'in', 'schema'],
            properties: { name: { type: 'string' }, in: { enum: ['query', 'header', 'path', 'cookie'] }, required: { type: 'boolean' } },
            if: { properties: { in: { const: 'path' } } },
            then: { required: ['required'], properties: { required: { const: true } } },
          },
        },
        requestBody: { type: 'object', required: ['content'], properties: { content: { $ref: '#/$defs/content' } } },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default)$' },
          additionalProperties: { type: 'object', required: ['description'], properties: { content: { $ref: '#/$defs/content' } } },
        },
        security: { type: 'array' },
      },
    },
    content: { type: 'object', additionalProperties: { type: 'object', properties: { schema: { type: ['object', 'boolean'] } } } },
  },
};

test('the document is OpenAPI 3.1: its structure, and every schema in it compiles as JSON Schema 2020-12', async () => {
  const doc = await document();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const valid = ajv.validate(OAS31_SUBSET, doc);
  expect(ajv.errors ?? []).toEqual([]);
  expect(valid).toBe(true);

  // OpenAPI 3.1 schemas are JSON Schema 2020-12: each must compile (strict: no unknown keyword but OpenAPI's own).
  const strict = addFormats(new Ajv2020({ strict: true, allowUnionTypes: true }));
  for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) strict.addKeyword(keyword);
  let compiled = 0;
  for (const [path, item] of Object.entries<Doc>(doc.paths)) {
    for (const [method, op] of Object.entries<Doc>(item)) {
      const schemas = [
        ...(op.parameters ?? []).map((p: Doc) => p.schema),
        ...Object.values<Doc>(op.requestBody?.content ?? {}).map((c) => c.schema),
        ...Object.values<Doc>(op.responses).flatMap((r) => Object.values<Doc>(r.content ?? {}).map((c) => c.schema)),
      ];
      for (const schema of schemas) {
        try {
          strict.compile(schema);
        } catch (err) {
          throw new Error(`${method.toUpperCase()} ${path}: ${(err as Error).message} in ${JSON.stringify(schema)}`);
        }
        compiled++;
      }
    }
  }
  expect(compiled).toBeGreaterThan(60);
});

test('real answers match the documented schemas: a store, a cart, items, a checkout, its cancel, an order, integrations', async () => {
  const store = `store-${randomUUID().slice(0, 8)}`;
  await setupDirectory(api.base, store, ['acct-1']);
  const w = await env.newWorker();
  await w.worker.runUntil(async () => {
    const answers: [string, number][] = [];
    const ask = async (what: string, path: string, c: Parameters<typeof call>[2] = {}) => {
      const res = await call(api.base, path, c);
      answers.push([what, res.status]);
      return res;
    };
    const created = await ask('create cart', `/webstores/${store}/carts`, { method: 'POST', key: `k-${randomUUID()}` });
    const cartId = created.body.cartId as string;
    await ask('add item', `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-1', quantity: 2, unitPrice: 5 } });
    await ask('set quantity', `/carts/${cartId}/items/SKU-1`, { method: 'PATCH', body: { quantity: 3 } });
    await ask('add another', `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'SKU-2', quantity: 1 } });
    await ask('remove it', `/carts/${cartId}/items/SKU-2`, { method: 'DELETE' });
    await ask('start checkout', `/carts/${cartId}/checkouts`, { method: 'POST' });
    await ask('start again', `/carts/${cartId}/checkouts`, { method: 'POST' });
    await ask('read cart', `/carts/${cartId}`);
    await ask('cancel', `/carts/${cartId}/checkouts/active`, { method: 'DELETE' });
    await ask('cancel nothing', `/carts/${cartId}/checkouts/active?reason=BUYER_LEFT`, { method: 'DELETE' });
    await ask('start for the order', `/carts/${cartId}/checkouts`, { method: 'POST' });
    // The order waits until every step has completed.
    await ask('order', `/carts/${cartId}/checkouts/active/orders`, { method: 'POST' });
    await ask('cancel a closed cart', `/carts/${cartId}/checkouts/active`, { method: 'DELETE' });
    await ask('read closed cart', `/carts/${cartId}`);
    const adminCall = { token: ADMIN_TOKEN, account: null };
    const integration = `/webstores/${store}/integrations/Taxes`;
    await ask('integration put', integration, { ...adminCall, method: 'PUT', body: { type: 'http', url: 'https://tax.example/x', secret: 's3cret' } });
    await ask('integration get', integration, adminCall);
    await ask('integration delete', integration, { ...adminCall, method: 'DELETE' });
    await ask('bad body', `/carts/${cartId}/items`, { method: 'POST', body: { sku: 'A' } });
    await ask('not found', `/carts/nope-${randomUUID()}`);
    await ask('no token', `/carts/${cartId}`, { token: null });
    await ask('healthz', '/healthz', { token: null, account: null });
    await ask('metrics', '/metrics', { token: null, account: null });
    expect(answers).toEqual([
      ['create cart', 201],
      ['add item', 201],
      ['set quantity', 200],
      ['add another', 201],
      ['remove it', 200],
      ['start checkout', 202],
      ['start again', 200],
      ['read cart', 200],
      ['cancel', 200],
      ['cancel nothing', 200],
      ['start for the order', 202],
      ['order', 201],
      ['cancel a closed cart', 403],
      ['read closed cart', 200],
      ['integration put', 200],
      ['integration get', 200],
      ['integration delete', 200],
      ['bad body', 400],
      ['not found', 404],
      ['no token', 401],
      ['healthz', 200],
      ['metrics', 200],
    ]);
  });
});

test('/openapi.json and /docs are served without a token; /docs is the Swagger UI page', async () => {
  const docs = await fetch(`${api.base}/docs/`);
  expect(docs.status).toBe(200);
  expect(docs.headers.get('content-type')).toContain('text/html');
  expect(await docs.text()).toContain('swagger-ui');
  const json = await call(api.base, '/openapi.json', { token: null, account: null });
  expect(json.body).toMatchObject({ openapi: '3.1.0', info: { title: expect.any(String) } });
});

/** An HTTP API instance on a free loopback port, and a small fetch helper for its tests. */
import type { AddressInfo } from 'node:net';
import { buildApi, type ApiDeps, type FastifyInstance } from '../../src/api/app';
import type { ApiRole } from '../../src/config';

export const SERVICE_TOKEN = 'svc-token-0123456789abcdef';
export const OTHER_SERVICE_TOKEN = 'svc-token-fedcba9876543210';
export const ADMIN_TOKEN = 'adm-token-0123456789abcdef';
export const TOKENS = new Map<string, ApiRole>([
  [SERVICE_TOKEN, 'service'],
  [OTHER_SERVICE_TOKEN, 'service'],
  [ADMIN_TOKEN, 'admin'],
]);

export interface RunningTestApi {
  app: FastifyInstance;
  base: string;
  close(): Promise<void>;
}

export async function startTestApi(deps: Omit<ApiDeps, 'tokens'> & { tokens?: ApiDeps['tokens'] }): Promise<RunningTestApi> {
  const app = await buildApi({ tokens: TOKENS, ...deps });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

export interface Call {
  method?: string;
  token?: string | null;
  account?: string | null;
  body?: unknown;
  key?: string;
}

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
  body: any;
  headers: Headers;
}

export async function call(base: string, path: string, c: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (c.token !== null) headers.authorization = `Bearer ${c.token ?? SERVICE_TOKEN}`;
  if (c.account !== null) headers['x-effective-account-id'] = c.account ?? 'acct-1';
  if (c.key !== undefined) headers['idempotency-key'] = c.key;
  let payload: string | undefined;
  if (c.body !== undefined) {
    payload = JSON.stringify(c.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method: c.method ?? 'GET', headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, headers: res.headers };
}

/** Store store-1 with active member acct-1 (and acct-2), through the admin routes. */
export async function setupDirectory(base: string, store = 'store-1', accounts = ['acct-1', 'acct-2']): Promise<void> {
  const admin = (path: string, body?: unknown) => call(base, path, { method: 'PUT', token: ADMIN_TOKEN, account: null, body });
  expect((await admin(`/webstores/${store}`, { name: store })).status).toBe(200);
  for (const id of accounts) {
    expect((await admin(`/accounts/${id}`, { name: id, active: true })).status).toBe(200);
    expect((await admin(`/webstores/${store}/members/${id}`)).status).toBe(200);
  }
}

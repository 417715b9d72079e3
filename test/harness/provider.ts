/**
 * A store's provider as a store team would write one (docs/integrations.md): a node:http server on
 * 127.0.0.1 and a free port that checks the X-Signature of every call against its own secret and
 * answers 401 when it does not match. What it answers is the test's (`respond`), per call; it records
 * every call, whether its signature matched, and whether the caller gave up on it before the answer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IntegrationRequest } from '../../src/contract';

export interface ProviderCall {
  /** 1-based, in arrival order. */
  n: number;
  body: IntegrationRequest;
  signatureOk: boolean;
  idempotencyKey: string | undefined;
  /** Answered, or (for a held call) the caller closed the connection first. */
  answered: boolean;
  abandoned: boolean;
}

/** An answer: a status and a JSON body; or `hold`: never answer (a hanging or slow provider). */
export type Reply = { status: number; json?: unknown } | 'hold';

export class TestProvider {
  readonly calls: ProviderCall[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** `secret` is what the provider checks with; register the same one unless a test wants it refused. */
  static async start(secret: string, respond: (call: ProviderCall) => Reply): Promise<TestProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const provider = new TestProvider(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkout-step`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void provider.handle(req, res, secret, respond));
    return provider;
  }

  callsFor(step: IntegrationRequest['step']): ProviderCall[] {
    return this.calls.filter((c) => c.body.step === step);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, secret: string, respond: (call: ProviderCall) => Reply): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const call: ProviderCall = {
      n: this.calls.length + 1,
      body: JSON.parse(raw.toString('utf8')) as IntegrationRequest,
      signatureOk: signatureMatches(req.headers['x-signature'], raw, secret),
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      answered: false,
      abandoned: false,
    };
    this.calls.push(call);
    res.on('close', () => {
      if (!res.writableFinished) call.abandoned = true;
    });
    if (!call.signatureOk) return answer(res, call, { status: 401, json: { message: 'bad signature' } });
    const reply = respond(call);
    if (reply !== 'hold') answer(res, call, reply);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function answer(res: ServerResponse, call: ProviderCall, reply: { status: number; json?: unknown }): void {
  call.answered = true;
  res.writeHead(reply.status, { 'content-type': 'application/json' });
  res.end(reply.json === undefined ? '' : JSON.stringify(reply.json));
}

/** What a store's provider does with each call: the HMAC of the raw body under its secret, compared in constant time. */
export function signatureMatches(header: string | string[] | undefined, raw: Buffer, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

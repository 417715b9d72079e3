/**
 * What the API answers for an error: a status, a code and a message, and for transient ones
 * (a dependency unreachable, a rate limit) how long to wait before retrying. A failure of MongoDB
 * or Temporal is never a 500: the caller is told to retry.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { unavailableDependency } from '../client';
import { CheckoutError, ERROR_CODES } from '../contract';

export const BODY_LIMIT = 1024 * 1024;
/** Retry-After (seconds) of 503 UNAVAILABLE and 429 RATE_LIMITED. */
export const RETRY_AFTER_S = { UNAVAILABLE: 5, RATE_LIMITED: 1 } as const;

/** Every code an API answer can carry, with its status: the contract's, and those of the HTTP layer. */
export const API_ERROR_STATUS = { ...ERROR_CODES, UNAUTHENTICATED: 401, INTERNAL_ERROR: 500 } as const;
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** An error the API answers with: a status and a code (the domain's, or UNAUTHENTICATED / INTERNAL_ERROR). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface ErrorAnswer {
  status: number;
  errorCode: string;
  message: string;
  retryAfterS?: number;
}

export function describeError(err: FastifyError | Error): ErrorAnswer {
  if (err instanceof HttpError) {
    return { status: err.statusCode, errorCode: err.errorCode, message: err.message, ...(err.retryAfterS ? { retryAfterS: err.retryAfterS } : {}) };
  }
  if (err instanceof CheckoutError) {
    const retryAfterS = err.errorCode === 'UNAVAILABLE' || err.errorCode === 'RATE_LIMITED' ? RETRY_AFTER_S[err.errorCode] : undefined;
    return { status: ERROR_CODES[err.errorCode], errorCode: err.errorCode, message: err.message, ...(retryAfterS ? { retryAfterS } : {}) };
  }
  const down = unavailableDependency(err);
  if (down?.why === 'rate-limited') {
    return {
      status: ERROR_CODES.RATE_LIMITED,
      errorCode: 'RATE_LIMITED',
      message: 'Temporal refused the request for now (a rate or per-workflow limit); retry later.',
      retryAfterS: RETRY_AFTER_S.RATE_LIMITED,
    };
  }
  if (down) {
    return {
      status: ERROR_CODES.UNAVAILABLE,
      errorCode: 'UNAVAILABLE',
      message:
        down.what === 'MongoDB'
          ? 'MongoDB is unreachable; nothing was changed by this request. Retry later.'
          : 'Temporal or its workers did not answer in time; the request may still complete. Retry it (with the same Idempotency-Key), or GET the cart to see.',
      retryAfterS: RETRY_AFTER_S.UNAVAILABLE,
    };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: `${fe.validationContext ?? 'request'}${fe.message.replace(/^[a-z]+/, '')}` };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: `The body is larger than ${BODY_LIMIT} bytes.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, errorCode: 'INVALID_INPUT', message: 'The body must be JSON (Content-Type: application/json).' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: 400, errorCode: 'INVALID_INPUT', message: fe.message };
  }
  return { status: 500, errorCode: 'INTERNAL_ERROR', message: 'Something went wrong; it has been logged.' };
}

/** Every error answer of the API, whatever layer raised it: `[{ errorCode, message }]`, Retry-After when transient. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const { status, errorCode, message, retryAfterS } = describeError(err);
    if (status >= 500) {
      // The whole error, its cause chain too: a 500 is a case nobody foresaw, and the cause says which.
      req.log[status === 503 ? 'warn' : 'error']({ error: err }, 'request failed');
    }
    if (retryAfterS) void reply.header('retry-after', String(retryAfterS));
    void reply.status(status).send([{ errorCode, message }]);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send([{ errorCode: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}.` }]);
  });
}

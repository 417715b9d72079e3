/**
 * MongoDB that cannot be reached right now, told apart from every other failure: the driver's
 * selection and network errors, and the raw socket errors it lets through when the server closes a
 * connection under a request ("This socket has been ended by the other party", EPIPE, ECONNRESET).
 * Callers turn these into UNAVAILABLE (503, retry later), never into an internal error.
 */
import { MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { CheckoutError } from '../contract';

const SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED']);

export function isMongoUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 10; depth++) {
    if (
      e instanceof MongoServerSelectionError ||
      e instanceof MongoNetworkError ||
      e instanceof MongoNotConnectedError ||
      e instanceof MongoTopologyClosedError
    ) {
      return true;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
    if (e instanceof Error && /socket has been ended by the other party/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Runs a read or write of the store; an unreachable MongoDB becomes CheckoutError UNAVAILABLE. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isMongoUnavailable(err)) {
      throw new CheckoutError('UNAVAILABLE', 'MongoDB is unreachable right now; nothing was changed. Retry shortly.', { retryable: true });
    }
    throw err;
  }
}

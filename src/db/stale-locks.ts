/**
 * Releasing a lock whose holder is gone: the run that took it was terminated, failed or its history
 * removed, so no workflow will ever unlock the cart. Used by the client's cancel when no checkout
 * runs. Fenced by the holder's session id and the version read, in one conditional single-document
 * write: a newer checkout's lock, or any concurrent change, is never touched.
 */
import type { Collection, Filter } from 'mongodb';
import type { CartDoc, CheckoutSessionDoc } from './carts';

export interface StaleLockRelease {
  cartId: string;
  /** The session whose holder is known to be gone; a cart held by any other session is left alone. */
  sessionId: string;
  reason: string;
  requestedBy?: string;
}

const MAX_ATTEMPTS = 5;

/** Active again with the session archived and its operation Canceled; undefined when that session no longer holds the cart. */
export async function releaseStaleLock(carts: Collection<CartDoc>, input: StaleLockRelease): Promise<CartDoc | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const doc = await carts.findOne({ _id: input.cartId });
    if (!doc || doc.status !== 'Checkout' || doc.checkout?.sessionId !== input.sessionId) return undefined;
    const now = new Date();
    const session: CheckoutSessionDoc = {
      ...doc.checkout,
      isArchived: true,
      isProcessing: false,
      backgroundOperation: { ...doc.checkout.backgroundOperation, status: 'Canceled' },
      cancelReason: input.reason,
      ...(input.requestedBy ? { canceledBy: input.requestedBy } : {}),
      archivedAt: now,
    };
    const filter: Filter<CartDoc> = {
      _id: doc._id,
      status: 'Checkout',
      'checkout.sessionId': input.sessionId,
      ...(doc.version === undefined ? { version: { $exists: false } } : { version: doc.version }),
    };
    const written = await carts.findOneAndUpdate(
      filter,
      { $set: { status: 'Active', updatedAt: now }, $unset: { checkout: '' }, $push: { archivedSessions: session }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    );
    if (written) return written;
    // Someone wrote the cart between our read and our write: read again and decide again.
  }
  return undefined;
}

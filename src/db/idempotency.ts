/**
 * Idempotency keys of the HTTP API, kept in MongoDB so a restart keeps them. One document per
 * (token scope, key): the request's fingerprint, and once the request is answered, its final status
 * and body. A request first claims its key with one insert (the unique _id decides who runs it), so
 * two requests with the same key never both run; the claim expires, so a holder that died (a crashed
 * API instance) does not block the key forever.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';

import { COLLECTIONS } from '../contract';

export interface IdempotencyDoc {
  /** `<token scope>:<key>` */
  _id: string;
  fingerprint: string;
  state: 'pending' | 'done';
  /** Which request holds a pending claim. */
  claimId: string;
  /** A pending claim not completed by then belongs to a request that is gone; another may take it. */
  claimedUntil: Date;
  status?: number;
  body?: string;
  createdAt: Date;
  completedAt?: Date;
}

export type Claim = { kind: 'claimed'; claimId: string } | { kind: 'done'; status: number; body: string } | { kind: 'pending' } | { kind: 'mismatch' };

const DUPLICATE_KEY = 11000;
const INDEX_OPTIONS_CONFLICT = [85, 86];

export class IdempotencyStore {
  readonly keys: Collection<IdempotencyDoc>;

  constructor(
    db: Db,
    /** How long a key and its answer are kept (the TTL index; also checked on read, as TTL deletion lags). */
    readonly ttlS: number,
  ) {
    this.keys = db.collection<IdempotencyDoc>(COLLECTIONS.idempotencyKeys);
  }

  async ensureIndexes(): Promise<void> {
    try {
      await this.keys.createIndex({ createdAt: 1 }, { name: 'ttl', expireAfterSeconds: this.ttlS });
    } catch (err) {
      // The index exists with another TTL (IDEMPOTENCY_TTL_S changed): change it in place.
      if (!INDEX_OPTIONS_CONFLICT.includes((err as { code?: number }).code ?? 0)) throw err;
      await this.keys.db.command({ collMod: this.keys.collectionName, index: { name: 'ttl', expireAfterSeconds: this.ttlS } });
    }
  }

  /**
   * Claims the key for a request with this fingerprint, or says what holds it: an answer to replay,
   * a request still running, or a different request (the key reused).
   */
  async claim(id: string, fingerprint: string, claimMs: number): Promise<Claim> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimId = randomUUID();
      const now = new Date();
      try {
        await this.keys.insertOne({ _id: id, fingerprint, state: 'pending', claimId, claimedUntil: new Date(now.getTime() + claimMs), createdAt: now });
        return { kind: 'claimed', claimId };
      } catch (err) {
        if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
      }
      const doc = await this.keys.findOne({ _id: id });
      if (!doc) continue; // released or expired in between: try the insert again
      if (doc.createdAt.getTime() + this.ttlS * 1000 < now.getTime()) {
        // Expired but not yet removed by the TTL monitor: the key is free again.
        await this.keys.deleteOne({ _id: id, createdAt: doc.createdAt });
        continue;
      }
      if (doc.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (doc.state === 'done') return { kind: 'done', status: doc.status ?? 200, body: doc.body ?? '' };
      if (doc.claimedUntil.getTime() > now.getTime()) return { kind: 'pending' };
      // The holder is gone: take its claim over, conditioned on the claim we saw, so only one request does.
      const taken = await this.keys.findOneAndUpdate(
        { _id: id, state: 'pending', claimId: doc.claimId },
        { $set: { claimId, claimedUntil: new Date(now.getTime() + claimMs) } },
      );
      if (taken) return { kind: 'claimed', claimId };
    }
    return { kind: 'pending' };
  }

  /** Stores the final answer; only the request that holds the claim can. */
  async complete(id: string, claimId: string, status: number, body: string): Promise<void> {
    await this.keys.updateOne({ _id: id, claimId, state: 'pending' }, { $set: { state: 'done', status, body, completedAt: new Date() } });
  }

  /** Gives the key up without an answer (a 5xx, or work still going on), so a retry runs the request. */
  async release(id: string, claimId: string): Promise<void> {
    await this.keys.deleteOne({ _id: id, claimId, state: 'pending' });
  }
}

/**
 * Observes carts in MongoDB until each reaches the state a measurement waits for (Active, or an item
 * present). mongo-java-server has no change streams, so this polls: ONE query at a time for all the
 * carts being waited on (`_id: { $in: [...] }`), back to back, so the load on MongoDB is the same one
 * query in flight whether 1 or 100 carts are watched.
 *
 * For each cart the moment is bracketed: the state changed after the start of the last read that did
 * not see it (or after the cancel was sent) and before the reply of the first read that did. The
 * latency reported is the upper end (the reply of the first read that sees it: conservative); the
 * width of the bracket is the resolution, reported per sample.
 */
import type { Collection } from 'mongodb';
import { performance } from 'node:perf_hooks';
import type { CartDoc } from '../src/db';

export type CartPredicate = (doc: Pick<CartDoc, '_id' | 'status' | 'items' | 'version'>) => boolean;

export const isActive: CartPredicate = (doc) => doc.status === 'Active';
export const hasItem =
  (sku: string): CartPredicate =>
  (doc) =>
    (doc.items ?? []).some((i) => i.sku === sku);

export interface Observation {
  /** performance.now() of the reply of the first read that saw the state: the latency's end. */
  seenAt: number;
  /** The width of the bracket around the real moment (ms): the measurement's resolution for this sample. */
  resolutionMs: number;
}

interface Watch {
  predicate: CartPredicate;
  /** The earliest the change can have happened: the send, then the start of each read that did not see it. */
  lowerBound: number;
  resolve: (o: Observation) => void;
  reject: (e: Error) => void;
  deadline: number;
}

export class CartWatcher {
  private readonly watches = new Map<string, Watch>();
  private wake: (() => void) | undefined;
  private running = true;
  private readonly loop: Promise<void>;
  /** Reads made and their total duration, to report the polling's own rate and cost. */
  reads = 0;
  readMs = 0;

  constructor(
    private readonly carts: Collection<CartDoc>,
    /** Pause between reads (0: back to back). */
    private readonly gapMs = 0,
  ) {
    this.loop = this.run();
  }

  /** Starts watching a cart; `since` is the performance.now() at which the change was requested. */
  watch(cartId: string, predicate: CartPredicate, since: number, timeoutMs = 120000): Promise<Observation> {
    return new Promise<Observation>((resolve, reject) => {
      this.watches.set(cartId, { predicate, lowerBound: since, resolve, reject, deadline: since + timeoutMs });
      this.wake?.();
    });
  }

  /**
   * Keeps the watcher polling as if a cancel were awaited, without one: used to measure what the
   * polling itself costs the other measurements. Returns the function that ends it.
   */
  keepBusy(): () => void {
    const id = `__busy-${Math.random().toString(36).slice(2)}`;
    this.watch(id, () => false, 0, Number.MAX_SAFE_INTEGER).catch(() => undefined);
    return () => this.finish(id, undefined, new Error('done'));
  }

  private async run(): Promise<void> {
    // Ends when stop() is called; every watch ends by its deadline.
    while (this.running) {
      if (this.watches.size === 0) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      const ids = [...this.watches.keys()];
      const startedAt = performance.now();
      let docs: Array<Pick<CartDoc, '_id' | 'status' | 'items' | 'version'>>;
      try {
        docs = await this.carts.find({ _id: { $in: ids } }, { projection: { _id: 1, status: 1, version: 1, 'items.sku': 1 } }).toArray();
      } catch (err) {
        for (const id of ids) this.finish(id, undefined, err as Error);
        continue;
      }
      const repliedAt = performance.now();
      this.reads++;
      this.readMs += repliedAt - startedAt;
      const byId = new Map(docs.map((d) => [d._id, d]));
      for (const id of ids) {
        const w = this.watches.get(id);
        if (!w) continue;
        const doc = byId.get(id);
        if (doc && w.predicate(doc)) {
          this.finish(id, { seenAt: repliedAt, resolutionMs: repliedAt - w.lowerBound });
        } else if (repliedAt > w.deadline) {
          this.finish(id, undefined, new Error(`cart ${id} did not reach the awaited state in time`));
        } else {
          w.lowerBound = Math.max(w.lowerBound, startedAt);
        }
      }
      if (this.gapMs > 0) await new Promise((r) => setTimeout(r, this.gapMs));
    }
  }

  private finish(id: string, o: Observation | undefined, err?: Error): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    if (o) w.resolve(o);
    else w.reject(err ?? new Error('watch failed'));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const id of [...this.watches.keys()]) this.finish(id, undefined, new Error('watcher stopped'));
    this.wake?.();
    await this.loop;
  }
}

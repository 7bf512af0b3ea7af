import { key } from './keys.js';
import type { BffStore } from './store.js';

/** A held family lock; `release()` frees it only while this holder still owns it. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * One refresh per family across every instance sharing the store: `SET NX PX` with a random
 * owner, released by compare-and-delete, so a lock that outlived its holder is never freed by it.
 */
export class FamilyLock {
  readonly #store: BffStore;
  readonly #ttlMs: number;

  constructor(store: BffStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /** Takes the family's lock, or answers `undefined` while another request holds it. */
  async acquire(fid: string): Promise<HeldLock | undefined> {
    const lockKey = key('lock', fid);
    const owner = crypto.randomUUID();
    if (!(await this.#store.setIfAbsent(lockKey, owner, this.#ttlMs))) return undefined;
    return { release: () => this.#store.deleteIfEquals(lockKey, owner) };
  }
}

import { LRUCache } from 'lru-cache';

/**
 * A replay store for DPoP proofs: answers `true` when `proofId` was recorded before and has not
 * expired, otherwise records it until `expiresAt` (whole milliseconds since the epoch) and answers
 * `false`. The check and the record must be one atomic step (Redis `SET key 1 NX PXAT
 * expiresAt`), or two requests racing with one proof could both pass.
 */
export type ReplayStore = (proofId: string, expiresAt: number) => boolean | Promise<boolean>;

/** What a replay check found: a new proof, a replay, or a proof too old for a full cache to vouch for. */
export type ReplayVerdict = 'new' | 'replayed' | 'forgotten';

/** The in-memory replay cache of one verifier. */
export interface ReplayCache {
  check(proofId: string, expiresAt: number): ReplayVerdict;
  /** Proofs expiring at or before this time (ms) may have been forgotten; 0 while nothing was. */
  readonly forgottenUntil: number;
}

/**
 * A bounded in-memory replay cache. Each entry lives until its proof is too old to pass the
 * `iat` check anyway, so the size needed is the rate of proofs times the window. When the rate
 * outgrows it, the oldest entries are evicted before they expire; rather than forget them and
 * let their proofs be replayed, the cache then refuses every proof that expires no later than
 * the newest evicted one: the window shrinks to what the cache holds. It never grows past
 * `size` entries and never accepts a replay; under overload it refuses some older, valid proofs.
 */
export function memoryReplayCache(options: { size: number; now: () => number }): ReplayCache {
  const { now } = options;
  let forgottenUntil = 0;
  const cache = new LRUCache<string, number>({
    max: options.size,
    // Read the injected clock on every check: lru-cache otherwise caches `now` for 1 ms with a timer.
    ttlResolution: 0,
    perf: { now },
    dispose: (expiresAt, _id, reason) => {
      if (reason === 'evict' && expiresAt > now()) forgottenUntil = Math.max(forgottenUntil, expiresAt);
    },
  });
  return {
    check(proofId, expiresAt) {
      // `has` leaves the entry's place in the eviction order alone, so eviction goes by insertion.
      if (cache.has(proofId)) return 'replayed';
      if (expiresAt <= forgottenUntil) return 'forgotten';
      cache.set(proofId, expiresAt, { ttl: Math.max(1, Math.ceil(expiresAt - now())) });
      return 'new';
    },
    get forgottenUntil() {
      return forgottenUntil;
    },
  };
}

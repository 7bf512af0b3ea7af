/**
 * Where the BFF keeps what must outlive one request but is not in the cookie: access-token
 * caches, rotation records, the denylist. Values are opaque strings (already sealed by the
 * caller when they could act as a credential); every key expires on its own.
 */
export interface BffStore {
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlSeconds` (rounded up to whole seconds by some stores). */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * The embedded store: one process's memory. Enough for a single instance, since the cookie
 * still holds the refresh token; a restart only loses caches. Expired keys are swept as the
 * map is used, so it never grows without bound.
 */
export function memoryStore(options: { now?: () => number; maxEntries?: number } = {}): BffStore {
  const now = options.now ?? (() => Date.now());
  const maxEntries = options.maxEntries ?? 100_000;
  const map = new Map<string, Entry>();
  let writes = 0;

  const sweep = () => {
    const t = now();
    for (const [key, entry] of map) if (entry.expiresAt <= t) map.delete(key);
    // Still full of live keys: drop the oldest inserted (Map keeps insertion order).
    for (const key of map.keys()) {
      if (map.size < maxEntries) break;
      map.delete(key);
    }
  };

  return {
    async get(key) {
      const entry = map.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        map.delete(key);
        return undefined;
      }
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      if (++writes % 1000 === 0 || map.size >= maxEntries) sweep();
      map.delete(key);
      map.set(key, { value, expiresAt: now() + Math.max(1, ttlSeconds) * 1000 });
    },
    async delete(key) {
      map.delete(key);
    },
  };
}

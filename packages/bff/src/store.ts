/**
 * Where the BFF keeps what must outlive one request but is not in the cookie: access-token
 * caches, rotation records, locks, the denylist, rate-limit counters and the
 * user → families index. Values are opaque strings (sealed by the caller when they could act
 * as a credential); every key expires on its own, so nothing grows without bound.
 * `memoryStore()` serves one process; `redisStore()` (`@latchkey/bff/redis`) serves many.
 */
export interface BffStore {
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Stores `value` only when `key` is absent (Redis `SET NX PX`); true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` only while it still holds `value` (releasing a lock one still owns). */
  deleteIfEquals(key: string, value: string): Promise<void>;
  /** Counts a hit in a fixed window that starts with the first hit; returns the count and seconds until the window ends. */
  increment(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  /** Adds `member` to the set at `key`, which then lives at least `ttlSeconds`. */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>;
  /** The members of the set at `key` (none when absent). */
  members(key: string): Promise<string[]>;
}

interface Entry {
  value: string | Set<string>;
  expiresAt: number;
}

/**
 * The embedded store: one process's memory. Enough for a single instance, since the cookie
 * still holds the refresh token; a restart only loses caches. Expired keys are swept as the
 * map is used, and past `maxEntries` the oldest keys go, so it never grows without bound.
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
  const live = (key: string): Entry | undefined => {
    const entry = map.get(key);
    if (entry && entry.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  };
  const put = (key: string, value: Entry['value'], ttlMs: number) => {
    if (++writes % 1000 === 0 || map.size >= maxEntries) sweep();
    map.delete(key);
    map.set(key, { value, expiresAt: now() + Math.max(1, ttlMs) });
  };

  return {
    async get(key) {
      const value = live(key)?.value;
      return typeof value === 'string' ? value : undefined;
    },
    async set(key, value, ttlSeconds) {
      put(key, value, ttlSeconds * 1000);
    },
    async delete(key) {
      map.delete(key);
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      put(key, value, ttlMs);
      return true;
    },
    async deleteIfEquals(key, value) {
      if (live(key)?.value === value) map.delete(key);
    },
    async increment(key, windowSeconds) {
      const entry = live(key);
      if (!entry) {
        put(key, '1', windowSeconds * 1000);
        return { count: 1, resetSeconds: windowSeconds };
      }
      const count = Number(entry.value) + 1;
      entry.value = String(count);
      return { count, resetSeconds: Math.max(1, Math.ceil((entry.expiresAt - now()) / 1000)) };
    },
    async addToSet(key, member, ttlSeconds) {
      const entry = live(key);
      const set = entry?.value instanceof Set ? entry.value : new Set<string>();
      set.add(member);
      put(key, set, Math.max(ttlSeconds * 1000, (entry?.expiresAt ?? 0) - now()));
    },
    async members(key) {
      const value = live(key)?.value;
      return value instanceof Set ? [...value] : [];
    },
  };
}

import type { BffStore } from './store.js';

/** The part of a node-redis v5 client (`createClient()`, connected) that the store uses. */
export interface RedisLike {
  get(key: string): Promise<string | null | unknown>;
  set(key: string, value: string, options?: object): Promise<unknown>;
  del(key: string): Promise<unknown>;
  sMembers(key: string): Promise<string[] | unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisStoreOptions {
  /**
   * A client from the official `redis` package, connected — or the promise `connect()`
   * returns, so a module can build its BFF synchronously: `createClient({ url }).connect()`.
   */
  client: RedisLike | Promise<RedisLike>;
  /** Prefix of every key (default none; the BFF's keys already start with `latchkey:`). */
  prefix?: string;
}

// Compare-and-delete, so a lock that outlived its holder is never released by it.
const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// A fixed window: the first hit (a key with no expiry yet) sets it; returns the count and the seconds left.
const INCREMENT = `local n = redis.call('INCR', KEYS[1]) local t = redis.call('TTL', KEYS[1]) if t < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end return {n, t}`;
// Adds a member and makes the set live at least the given seconds (never shortens it).
const ADD_TO_SET = `redis.call('SADD', KEYS[1], ARGV[1]) if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 1`;

/**
 * A {@link BffStore} on Redis, for more than one BFF instance: locks are `SET NX PX`, lock
 * release is compare-and-delete, counters and sets expire on their own.
 * @example
 * import { createClient } from 'redis';
 * import { redisStore } from '@latchkey/bff/redis';
 * const store = redisStore({ client: createClient({ url: process.env.REDIS_URL }).connect() });
 */
export function redisStore(options: RedisStoreOptions): BffStore {
  const ready = Promise.resolve(options.client);
  // Until the first use, a failed connection is nobody's unhandled rejection; every call then reports it.
  ready.catch(() => {});
  const prefix = options.prefix ?? '';
  const k = (key: string) => prefix + key;
  const seconds = (value: number) => Math.max(1, Math.ceil(value));

  return {
    async get(key) {
      const value = await (await ready).get(k(key));
      return typeof value === 'string' ? value : undefined;
    },
    async set(key, value, ttlSeconds) {
      await (await ready).set(k(key), value, { expiration: { type: 'EX', value: seconds(ttlSeconds) } });
    },
    async delete(key) {
      await (await ready).del(k(key));
    },
    async setIfAbsent(key, value, ttlMs) {
      const answer = await (await ready).set(k(key), value, { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } });
      return answer === 'OK';
    },
    async deleteIfEquals(key, value) {
      await (await ready).eval(DELETE_IF_EQUALS, { keys: [k(key)], arguments: [value] });
    },
    async increment(key, windowSeconds) {
      const [count, ttl] = (await (await ready).eval(INCREMENT, { keys: [k(key)], arguments: [String(seconds(windowSeconds))] })) as [number, number];
      return { count: Number(count), resetSeconds: Math.max(1, Number(ttl)) };
    },
    async addToSet(key, member, ttlSeconds) {
      await (await ready).eval(ADD_TO_SET, { keys: [k(key)], arguments: [member, String(seconds(ttlSeconds))] });
    },
    async members(key) {
      const members = await (await ready).sMembers(k(key));
      return Array.isArray(members) ? members.map(String) : [];
    },
  };
}

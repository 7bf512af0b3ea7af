import { auditLine, type AuditRecord, type AuditSink } from './audit.js';
import type { BffStore } from './store.js';

/** The part of a node-redis v5 client (`createClient()`, connected) that the store uses. */
export interface RedisLike {
  get(key: string): Promise<string | null | unknown>;
  mGet(keys: string[]): Promise<unknown>;
  set(key: string, value: string, options?: object): Promise<unknown>;
  del(key: string): Promise<unknown>;
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
/*
 * The user → families index is a sorted set scored by when each member expires (ms): members
 * expire one by one and the set lives as long as its last one. ARGV[1] is the time now (ms).
 * Sets written by versions before 0.2 are plain sets without a score: the first script to touch
 * one turns it into a sorted set whose members expire with the old key.
 */
const UPGRADE_SET = `local function upgrade(k, now)
  if redis.call('TYPE', k).ok ~= 'set' then return end
  local ttl = redis.call('PTTL', k)
  local members = redis.call('SMEMBERS', k)
  redis.call('DEL', k)
  for _, m in ipairs(members) do redis.call('ZADD', k, now + math.max(ttl, 1000), m) end
  if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
end
upgrade(KEYS[1], tonumber(ARGV[1]))
`;
// Adds (or lengthens) a member, drops the expired, then the soonest to expire beyond ARGV[4] members; returns those dropped.
const ADD_TO_SET = `${UPGRADE_SET}
local now = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[2]), ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
local dropped = {}
if excess > 0 then
  dropped = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
return dropped`;
const REMOVE_FROM_SET = `${UPGRADE_SET}
redis.call('ZREM', KEYS[1], ARGV[2])
return 1`;
const MEMBERS = `${UPGRADE_SET}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')`;
// How many members have not expired: O(log n), for sets too large to read (every live family).
const COUNT_SET = `${UPGRADE_SET}
return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')`;

/**
 * A {@link BffStore} on Redis, for more than one BFF instance: locks are `SET NX PX`, lock
 * release is compare-and-delete, counters and sets expire on their own (a set's members one by one).
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
    async getMany(keys) {
      if (keys.length === 0) return [];
      const values = (await (await ready).mGet(keys.map(k))) as unknown[];
      return keys.map((_, i) => (typeof values[i] === 'string' ? (values[i] as string) : undefined));
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
    async addToSet(key, member, ttlSeconds, maxMembers = 1_000_000) {
      const args = [String(Date.now()), String(Math.max(1, Math.ceil(ttlSeconds * 1000))), member, String(maxMembers)];
      const dropped = await (await ready).eval(ADD_TO_SET, { keys: [k(key)], arguments: args });
      return Array.isArray(dropped) ? dropped.map(String) : [];
    },
    async removeFromSet(key, member) {
      await (await ready).eval(REMOVE_FROM_SET, { keys: [k(key)], arguments: [String(Date.now()), member] });
    },
    async members(key) {
      const members = await (await ready).eval(MEMBERS, { keys: [k(key)], arguments: [String(Date.now())] });
      return Array.isArray(members) ? members.map(String) : [];
    },
    async countSet(key) {
      return Number(await (await ready).eval(COUNT_SET, { keys: [k(key)], arguments: [String(Date.now())] }));
    },
  };
}

/** The part of a node-redis v5 client the audit sink uses. */
export interface RedisCommandClient {
  sendCommand(args: string[]): Promise<unknown>;
}

export interface RedisAuditSinkOptions {
  /** A connected client of the official `redis` package, or the promise `connect()` returns (the store's client will do). */
  client: RedisCommandClient | Promise<RedisCommandClient>;
  /** The stream's key (default `latchkey:audit`). */
  key?: string;
  /** About how many records the stream keeps (default 10,000): `XADD … MAXLEN ~ N` trims the oldest. */
  maxLen?: number;
  /** Each record also as a JSON line (default the console); `false`: the stream only. */
  write?: ((line: string) => void) | false;
}

/**
 * An audit sink on a capped Redis stream, so every instance's dashboard reads one trail:
 * each record is `XADD <key> MAXLEN ~ <maxLen> * record <json>`, and `recent(n)` reads the
 * newest back with `XREVRANGE`. Each record is also written as a JSON line, as by the default sink.
 * @example
 * const client = createClient({ url: process.env.REDIS_URL }).connect();
 * createBff({ ...options, store: redisStore({ client }), audit: redisAuditSink({ client }) });
 */
export function redisAuditSink(options: RedisAuditSinkOptions): AuditSink & { recent(limit: number): Promise<AuditRecord[]> } {
  const ready = Promise.resolve(options.client);
  ready.catch(() => {});
  const key = options.key ?? 'latchkey:audit';
  const maxLen = options.maxLen ?? 10_000;
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new RangeError(`maxLen must be a whole number of at least 1, got ${JSON.stringify(options.maxLen)}.`);
  const write = options.write === undefined ? (line: string) => console.log(line) : options.write;
  return {
    async write(record) {
      if (write) write(auditLine(record));
      await (await ready).sendCommand(['XADD', key, 'MAXLEN', '~', String(maxLen), '*', 'record', JSON.stringify(record)]);
    },
    async recent(limit) {
      const count = Math.max(0, Math.min(Math.floor(limit), maxLen));
      if (count === 0) return [];
      const entries = await (await ready).sendCommand(['XREVRANGE', key, '+', '-', 'COUNT', String(count)]);
      return Array.isArray(entries) ? entries.flatMap(parseEntry) : [];
    },
  };
}

/** One `XREVRANGE` entry, `[id, [field, value, …]]`, as its record; anything else is skipped. */
function parseEntry(entry: unknown): AuditRecord[] {
  const fields = Array.isArray(entry) ? entry[1] : undefined;
  if (!Array.isArray(fields)) return [];
  const at = fields.findIndex((f, i) => i % 2 === 0 && String(f) === 'record');
  if (at < 0) return [];
  try {
    const record = JSON.parse(String(fields[at + 1])) as AuditRecord;
    return typeof record === 'object' && record !== null && typeof record.type === 'string' ? [record] : [];
  } catch {
    return [];
  }
}

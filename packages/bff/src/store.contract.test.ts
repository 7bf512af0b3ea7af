import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { redisStore } from './redis.js';
import { memoryStore, type BffStore } from './store.js';
import { startRedis, type RedisServer } from './test/redisServer.js';

/**
 * One contract, two stores. `wait(ms)` lets time pass: the memory store's clock is
 * injected, while Redis expires keys on its own clock, so its suite really waits (briefly).
 */
function contract(name: string, make: () => Promise<{ store: BffStore; wait: (ms: number) => Promise<void> }>) {
  describe(`${name} store contract`, () => {
    let store: BffStore;
    let wait: (ms: number) => Promise<void>;
    let n = 0;
    const key = (label: string) => `latchkey:test:${name}:${label}:${++n}`;
    beforeAll(async () => {
      ({ store, wait } = await make());
    });

    it('gets what was set, and nothing for an unknown key', async () => {
      const k = key('kv');
      expect(await store.get(k)).toBeUndefined();
      await store.set(k, 'sealed-value', 60);
      expect(await store.get(k)).toBe('sealed-value');
      await store.delete(k);
      expect(await store.get(k)).toBeUndefined();
    });

    it('lets keys expire on their own', async () => {
      const k = key('ttl');
      await store.set(k, 'x', 1);
      await wait(1_200);
      expect(await store.get(k)).toBeUndefined();
    });

    it('setIfAbsent: only the first caller wins, until the key expires', async () => {
      const k = key('lock');
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k, `owner-${i}`, 300)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await store.setIfAbsent(k, 'late', 300)).toBe(false);
      await wait(400);
      expect(await store.setIfAbsent(k, 'after-expiry', 300)).toBe(true);
    });

    it('deleteIfEquals releases only a lock one still owns', async () => {
      const k = key('own');
      await store.setIfAbsent(k, 'mine', 10_000);
      await store.deleteIfEquals(k, 'someone-else');
      expect(await store.get(k)).toBe('mine');
      await store.deleteIfEquals(k, 'mine');
      expect(await store.get(k)).toBeUndefined();
    });

    it('increment counts in a fixed window that ends on its own', async () => {
      const k = key('rate');
      const first = await store.increment(k, 1);
      expect(first).toEqual({ count: 1, resetSeconds: 1 });
      const counts = await Promise.all(Array.from({ length: 9 }, () => store.increment(k, 1)));
      expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const c of counts) expect(c.resetSeconds).toBeGreaterThanOrEqual(1);
      await wait(1_200);
      expect((await store.increment(k, 1)).count).toBe(1);
    });

    it('getMany answers several keys in the order asked', async () => {
      const [a, b] = [key('many'), key('many')];
      await store.set(a, 'first', 60);
      await store.set(b, 'second', 60, { evictable: true });
      expect(await store.getMany([b, key('absent'), a])).toEqual(['second', undefined, 'first']);
      expect(await store.getMany([])).toEqual([]);
    });

    it('keeps sets whose members expire one by one, lengthened but never shortened by a later addition', async () => {
      const k = key('set');
      expect(await store.members(k)).toEqual([]);
      expect(await store.addToSet(k, 'family-a', 60)).toEqual([]);
      await store.addToSet(k, 'family-b', 1);
      await store.addToSet(k, 'family-a', 1);
      expect((await store.members(k)).sort()).toEqual(['family-a', 'family-b']);
      await wait(1_200);
      expect(await store.members(k)).toEqual(['family-a']);
    });

    it('removeFromSet takes one member out', async () => {
      const k = key('remove');
      await store.addToSet(k, 'family-a', 60);
      await store.addToSet(k, 'family-b', 60);
      await store.removeFromSet(k, 'family-a');
      await store.removeFromSet(key('absent'), 'family-a');
      expect(await store.members(k)).toEqual(['family-b']);
    });

    it('countSet counts the members that have not expired or been taken out', async () => {
      const k = key('count');
      expect(await store.countSet!(k)).toBe(0);
      await store.addToSet(k, 'family-a', 60);
      await store.addToSet(k, 'family-b', 1);
      await store.addToSet(k, 'family-c', 60);
      await store.removeFromSet(k, 'family-c');
      expect(await store.countSet!(k)).toBe(2);
      await wait(1_200);
      expect(await store.countSet!(k)).toBe(1);
    });

    it('addToSet with maxMembers drops the members due to expire first, and says which', async () => {
      const k = key('bounded');
      await store.addToSet(k, 'oldest', 100, 3);
      await store.addToSet(k, 'older', 200, 3);
      await store.addToSet(k, 'newer', 300, 3);
      expect(await store.addToSet(k, 'newest', 400, 3)).toEqual(['oldest']);
      expect(await store.addToSet(k, 'latest', 500, 2)).toEqual(['older', 'newer']);
      expect((await store.members(k)).sort()).toEqual(['latest', 'newest']);
    });
  });
}

contract('memory', async () => {
  let now = 1_000_000;
  return { store: memoryStore({ now: () => now }), wait: async (ms) => void (now += ms) };
});

describe('memoryStore() sets', () => {
  it('keeps a set of thousands of members (every live family) exact while sweeping it only now and then', async () => {
    let now = 1_000_000;
    const store = memoryStore({ now: () => now });
    for (let i = 0; i < 3_000; i++) await store.addToSet('latchkey:active', `short-${i}`, 1);
    for (let i = 0; i < 500; i++) await store.addToSet('latchkey:active', `long-${i}`, 60);
    expect(await store.countSet!('latchkey:active')).toBe(3_500);
    now += 1_500;
    expect(await store.countSet!('latchkey:active')).toBe(500);
    expect(await store.members('latchkey:active')).toHaveLength(500);
    // The set lives as long as its last member, however long ago it was swept.
    now += 58_000;
    expect(await store.countSet!('latchkey:active')).toBe(500);
    now += 1_000;
    expect(await store.countSet!('latchkey:active')).toBe(0);
  });
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
contract('redis', async () => ({
  store: redisStore({ client: await redis.client() }),
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
}));

describe('redisStore()', () => {
  it('upgrades a user index written as a plain set (before 0.2) in place, keeping its members and expiry', async () => {
    const client = await redis.client();
    const store = redisStore({ client });
    await client.sAdd('latchkey:user:upgraded', ['family-a', 'family-b']);
    await client.expire('latchkey:user:upgraded', 3600);
    expect((await store.members('latchkey:user:upgraded')).sort()).toEqual(['family-a', 'family-b']);
    expect(await store.addToSet('latchkey:user:upgraded', 'family-c', 60)).toEqual([]);
    await store.removeFromSet('latchkey:user:upgraded', 'family-a');
    expect((await store.members('latchkey:user:upgraded')).sort()).toEqual(['family-b', 'family-c']);
    expect(await client.type('latchkey:user:upgraded')).toBe('zset');
    expect(await client.ttl('latchkey:user:upgraded')).toBeGreaterThan(3000);
  });
});

describe('memoryStore()', () => {
  it('never holds more than maxEntries evictable keys: caches and counters make room, oldest first', async () => {
    const store = memoryStore({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) await store.set(`k${i}`, 'v', 60, { evictable: true });
    for (let i = 0; i < 1_000; i++) await store.increment(`rate${i}`, 60);
    let present = 0;
    for (let i = 0; i < 1_000; i++) if ((await store.get(`k${i}`)) !== undefined) present += 1;
    expect(present).toBeLessThanOrEqual(100);
    expect((await store.increment('rate999', 60)).count).toBe(2);
  });

  it('never evicts security state under pressure: a denylist entry outlives any number of cache writes', async () => {
    const store = memoryStore({ maxEntries: 100 });
    await store.set('latchkey:deny:family', 'logout', 3600);
    await store.setIfAbsent('latchkey:lock:family', 'owner', 60_000);
    await store.addToSet('latchkey:user:alice', 'family', 3600);
    for (let i = 0; i < 10_000; i++) await store.set(`noise${i}`, 'v', 60, { evictable: true });
    for (let i = 0; i < 10_000; i++) await store.increment(`latchkey:rate:anonymousPerIp:${i}`, 60);
    expect(await store.get('latchkey:deny:family')).toBe('logout');
    expect(await store.setIfAbsent('latchkey:lock:family', 'other', 60_000)).toBe(false);
    expect(await store.members('latchkey:user:alice')).toEqual(['family']);
  });

  it('refuses new durable records when full instead of dropping old ones', async () => {
    const store = memoryStore({ maxDurableEntries: 3 });
    for (let i = 0; i < 3; i++) await store.set(`latchkey:deny:${i}`, 'x', 60);
    await expect(store.set('latchkey:deny:3', 'x', 60)).rejects.toThrow(/limit/);
    for (let i = 0; i < 3; i++) expect(await store.get(`latchkey:deny:${i}`)).toBe('x');
    // Overwriting a record it holds is still fine.
    await store.set('latchkey:deny:0', 'y', 60);
    expect(await store.get('latchkey:deny:0')).toBe('y');
  });
});

describe('memoryStore() answers', () => {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const settledAfterMicrotasks = async (pending: Promise<unknown>) => {
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 20; i++) await Promise.resolve();
    return settled;
  };

  it('on a later turn of the event loop, as a networked store does: a request yields once, so others that arrived are taken in', async () => {
    const store = memoryStore();
    await store.set('k', 'v', 60);
    const read = store.getMany(['k', 'absent']);
    expect(await settledAfterMicrotasks(read)).toBe(false);
    await turn();
    expect(await settledAfterMicrotasks(read)).toBe(true);
    expect(await read).toEqual(['v', undefined]);
    // A failure is deferred too, and still a rejection.
    const full = memoryStore({ maxDurableEntries: 1 });
    await full.set('a', 'x', 60);
    const refused = full.set('b', 'x', 60);
    expect(await settledAfterMicrotasks(refused)).toBe(false);
    await expect(refused).rejects.toThrow(/limit/);
  });

  it('with each call taking effect at once, in call order: the first of two locks asked in the same turn wins', async () => {
    const store = memoryStore();
    const first = store.setIfAbsent('lock', 'a', 60_000);
    const second = store.setIfAbsent('lock', 'b', 60_000);
    const read = store.get('lock');
    expect(await Promise.all([first, second, read])).toEqual([true, false, 'a']);
  });

  it('in the same turn with deferAnswers: false', async () => {
    const store = memoryStore({ deferAnswers: false });
    await store.set('k', 'v', 60);
    expect(await settledAfterMicrotasks(store.get('k'))).toBe(true);
    expect(await settledAfterMicrotasks(store.set('k2', 'v', 60))).toBe(true);
  });
});

describe('sharedMemoryStore()', () => {
  it('is one store per process and name, however often it is asked for (Next evaluates a module once per bundle layer)', async () => {
    const { sharedMemoryStore } = await import('./store.js');
    const a = sharedMemoryStore('contract-test');
    await a.set('k', 'v', 60);
    // A second evaluation of the module, as another bundle layer makes one.
    vi.resetModules();
    const again = await import('./store.js');
    expect(again.sharedMemoryStore).not.toBe(sharedMemoryStore);
    expect(again.sharedMemoryStore('contract-test')).toBe(a);
    expect(await again.sharedMemoryStore('contract-test').get('k')).toBe('v');
    expect(sharedMemoryStore('another')).not.toBe(a);
  });
});

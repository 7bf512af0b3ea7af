import { describe, expect, it } from 'vitest';
import { memoryReplayCache } from './replayCache.js';

const clock = (start = 1_000_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('memoryReplayCache()', () => {
  it('answers "replayed" for a proof id it recorded, "new" for another', () => {
    const { now } = clock();
    const cache = memoryReplayCache({ size: 10, now });
    expect(cache.check('a', now() + 60_000)).toBe('new');
    expect(cache.check('a', now() + 60_000)).toBe('replayed');
    expect(cache.check('b', now() + 60_000)).toBe('new');
  });

  it('forgets a proof id once its proof has expired (by the injected clock), so the size needed is rate × window', () => {
    const time = clock();
    const cache = memoryReplayCache({ size: 10, now: time.now });
    cache.check('a', time.now() + 60_000);
    time.advance(59_999);
    expect(cache.check('a', time.now() + 1)).toBe('replayed');
    time.advance(2);
    expect(cache.check('a', time.now() + 60_000)).toBe('new');
  });

  it('never holds more than size entries, and refuses as "forgotten" a replay of an entry evicted before it expired', () => {
    const time = clock();
    const cache = memoryReplayCache({ size: 3, now: time.now });
    for (const id of ['a', 'b', 'c', 'd']) {
      cache.check(id, time.now() + 60_000);
      time.advance(1000);
    }
    // "a" was evicted to make room for "d": its replay must not pass as new.
    expect(cache.check('a', 1_000_000 + 60_000)).toBe('forgotten');
    expect(cache.forgottenUntil).toBe(1_000_000 + 60_000);
    // A proof expiring after the newest evicted one is still accepted: the window shrank, no more.
    expect(cache.check('e', time.now() + 60_000)).toBe('new');
    expect(cache.check('b', 1_001_000 + 60_000)).toBe('forgotten');
  });

  it('does not raise the watermark when the evicted entry had expired anyway', () => {
    const time = clock();
    const cache = memoryReplayCache({ size: 1, now: time.now });
    cache.check('a', time.now() + 1000);
    time.advance(5000);
    expect(cache.check('b', time.now() + 60_000)).toBe('new');
    expect(cache.forgottenUntil).toBe(0);
  });
});

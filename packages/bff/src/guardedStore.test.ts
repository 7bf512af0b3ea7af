import { describe, expect, it, vi } from 'vitest';
import { guardedStore, StoreUnavailableError } from './guardedStore.js';
import { memoryStore } from './store.js';

describe('guardedStore()', () => {
  it('answers StoreUnavailableError past the deadline, logs once, and releases a lock that was won after its caller gave up', async () => {
    const inner = memoryStore();
    let win!: () => void;
    // Slow for one key only: the lock on family f is won after the deadline.
    const slow = {
      ...inner,
      setIfAbsent: (key: string, value: string, ttlMs: number) =>
        key.endsWith(':f') ? new Promise<boolean>((resolve) => (win = () => resolve(inner.setIfAbsent(key, value, ttlMs)))) : inner.setIfAbsent(key, value, ttlMs),
    };
    const release = vi.spyOn(slow, 'deleteIfEquals');
    const log = vi.fn();
    const store = guardedStore(slow, 30, log);
    await expect(store.setIfAbsent('latchkey:lock:f', 'owner', 60_000)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(log).toHaveBeenCalledOnce();
    win();
    await vi.waitFor(() => expect(release).toHaveBeenCalledWith('latchkey:lock:f', 'owner'));
    expect(await inner.get('latchkey:lock:f')).toBeUndefined();
    // In time, nothing is released and the store counts as healthy again.
    expect(await store.setIfAbsent('latchkey:lock:g', 'owner', 60_000)).toBe(true);
    expect(await inner.get('latchkey:lock:g')).toBe('owner');
  });
});

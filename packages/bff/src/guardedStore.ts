import { BffError } from './errors.js';
import type { BffStore } from './store.js';

/** How often deadlines of store calls in flight are checked (ms). */
const SWEEP_MS = 50;

/** The store did not answer in time or failed: a fast 503 that keeps the session, never a hang. */
export class StoreUnavailableError extends BffError {
  constructor(message: string, cause?: unknown) {
    super('store_unavailable', 503, message, { cause, headers: { 'retry-after': '2' } });
  }
}

/**
 * Wraps a store so that every call has a deadline. Past it, or on any error, the call throws
 * {@link StoreUnavailableError}; the first failure after a good spell is logged with its
 * cause, so an outage is visible without a line per request.
 *
 * Deadlines are watched by one timer for all calls in flight (it stops when none are), not one
 * timer per call: a cached `/token` makes a store call or two, and timers were a visible share
 * of its cost. A deadline therefore fires up to {@link SWEEP_MS} late.
 *
 * A lock taken after its caller gave up would block the family until it expires, so a
 * `setIfAbsent` that succeeds late is released at once.
 */
export function guardedStore(store: BffStore, timeoutMs: number, log: (message: string, cause: unknown) => void): BffStore {
  let healthy = true;
  const inFlight = new Set<{ deadline: number; expire: () => void }>();
  let sweeper: ReturnType<typeof setInterval> | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const call of inFlight) if (call.deadline <= now) call.expire();
    if (inFlight.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const guard = <T>(name: string, work: () => Promise<T>, late?: (value: T) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        settled = true;
        inFlight.delete(call);
        if (healthy) log(`[latchkey] the session store failed (${name}); answering 503 store_unavailable until it recovers`, error);
        healthy = false;
        reject(new StoreUnavailableError('The session store is not answering. Try again shortly; the session is kept.', error));
      };
      const call = { deadline: performance.now() + timeoutMs, expire: () => fail(new Error(`${name} took longer than ${timeoutMs} ms`)) };
      inFlight.add(call);
      sweeper ??= setInterval(sweep, Math.min(SWEEP_MS, timeoutMs));
      sweeper.unref?.();
      let pending: Promise<T>;
      try {
        pending = work();
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (settled) return late?.(value);
          settled = true;
          inFlight.delete(call);
          healthy = true;
          resolve(value);
        },
        (error: unknown) => {
          if (!settled) fail(error);
        },
      );
    });
  return {
    get: (key) => guard('get', () => store.get(key)),
    getMany: (keys) => guard('getMany', () => store.getMany(keys)),
    set: (key, value, ttl, options) => guard('set', () => store.set(key, value, ttl, options)),
    delete: (key) => guard('delete', () => store.delete(key)),
    setIfAbsent: (key, value, ttlMs) =>
      guard(
        'setIfAbsent',
        () => store.setIfAbsent(key, value, ttlMs),
        (won) => won && void store.deleteIfEquals(key, value).catch(() => {}),
      ),
    deleteIfEquals: (key, value) => guard('deleteIfEquals', () => store.deleteIfEquals(key, value)),
    increment: (key, windowSeconds) => guard('increment', () => store.increment(key, windowSeconds)),
    addToSet: (key, member, ttl, max) => guard('addToSet', () => store.addToSet(key, member, ttl, max)),
    removeFromSet: (key, member) => guard('removeFromSet', () => store.removeFromSet(key, member)),
    members: (key) => guard('members', () => store.members(key)),
  };
}

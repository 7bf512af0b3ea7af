import { BffError } from './errors.js';
import type { BffStore } from './store.js';

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
 * A lock taken after its caller gave up would block the family until it expires, so a
 * `setIfAbsent` that succeeds late is released at once.
 */
export function guardedStore(store: BffStore, timeoutMs: number, log: (message: string, cause: unknown) => void): BffStore {
  let healthy = true;
  const guard = <T>(name: string, work: () => Promise<T>, late?: (value: T) => void): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const pending = Promise.resolve().then(work);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`${name} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
    });
    if (late) pending.then((value) => timedOut && late(value)).catch(() => {});
    return Promise.race([pending, deadline]).then(
      (value) => {
        clearTimeout(timer);
        healthy = true;
        return value;
      },
      (error: unknown) => {
        clearTimeout(timer);
        pending.catch(() => {});
        if (healthy) log(`[latchkey] the session store failed (${name}); answering 503 store_unavailable until it recovers`, error);
        healthy = false;
        throw new StoreUnavailableError('The session store is not answering. Try again shortly; the session is kept.', error);
      },
    );
  };
  return {
    get: (key) => guard('get', () => store.get(key)),
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
    addToSet: (key, member, ttl) => guard('addToSet', () => store.addToSet(key, member, ttl)),
    members: (key) => guard('members', () => store.members(key)),
  };
}

import type { AccessToken, AuthClient, AuthSnapshot } from '../AuthClient.js';
import type { AuthClientError } from '../errors.js';
import type { SignedOutReason } from '@latchkey/core';

/** Payloads of the events `on()` subscribes to. `trigger` says what started the change (`tab`: another tab's refresh). */
export interface AuthEvents {
  /** A new token is in memory: from the BFF, or (`trigger: 'tab'`) broadcast by the tab that refreshed. */
  tokenRefreshed: { token: AccessToken; trigger: string | undefined };
  /** The session ended: a terminal answer, a sign-out, or either in another tab; never for a visitor who was not signed in. */
  sessionEnded: { reason: SignedOutReason };
  /** A failure was kept in `lastError`: a refresh that failed, or an answer of the BFF on a proxied call. */
  refreshFailed: { error: AuthClientError; trigger: string | undefined };
}

/** Each event, read from one snapshot change: its payload, or `undefined` when it did not happen. */
const readers: { [K in keyof AuthEvents]: (before: AuthSnapshot, after: AuthSnapshot, trigger: string | undefined) => AuthEvents[K] | undefined } = {
  tokenRefreshed: (before, after, trigger) => (after.token && after.token !== before.token ? { token: after.token, trigger } : undefined),
  sessionEnded: (before, after) =>
    // As onSessionEnded: nothing ended for a visitor who was never signed in (a first load without a session).
    after.status === 'unauthenticated' && before.status !== 'unauthenticated' && !(before.status === 'loading' && after.reason === 'login_required')
      ? { reason: after.reason! }
      : undefined,
  refreshFailed: (before, after, trigger) => (after.lastError && after.lastError !== before.lastError ? { error: after.lastError, trigger } : undefined),
};

/**
 * Listens to one kind of event of a client, read from its snapshot changes; returns the
 * unsubscribe function. For logs and devtools; the UI itself renders from the snapshot.
 * @example
 * on(auth, 'tokenRefreshed', ({ trigger }) => console.debug('new token via', trigger));
 */
export function on<K extends keyof AuthEvents>(client: AuthClient, type: K, listener: (payload: AuthEvents[K]) => void): () => void {
  let before = client.getSnapshot();
  return client.subscribe((trigger) => {
    const after = client.getSnapshot();
    const payload = readers[type](before, after, trigger);
    before = after;
    if (payload) listener(payload);
  });
}

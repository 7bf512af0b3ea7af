'use client';

import type { AuthClient, AuthClientError, AuthStatus } from '@latchkey/client';
import type { SessionUser, SessionUserBase, SignedOutReason } from '@latchkey/core';
import { useSyncExternalStore } from 'react';
import { useAuthClient } from './context.js';

export interface UseAuthResult<User extends SessionUserBase = SessionUser> {
  status: AuthStatus;
  /** The user as the BFF built it (its `userClaims` or `mapUser` options), typed by `useAuth<User>()`. */
  user: User | undefined;
  /** Why the user is signed out, when they are. */
  reason: SignedOutReason | undefined;
  /** The last failure; temporary trouble sets it while staying signed in. */
  error: AuthClientError | undefined;
  /**
   * Starts sign-in; `params` (`prompt`, `login_hint`, `max_age`, extra `scope`…) go to the
   * provider when the BFF allows them (`allowedLoginParams`, `allowedScopes`), else 400.
   */
  login: AuthClient['login'];
  logout: (options?: { endProviderSession?: boolean }) => Promise<void>;
}

/**
 * Who is signed in, and the sign-in and sign-out actions. `User` types the user the BFF was
 * configured to build; nothing checks it in the browser.
 * @example
 * const { user } = useAuth<{ sub: string; roles: string[] }>();
 */
export function useAuth<User extends SessionUserBase = SessionUser>(): UseAuthResult<User> {
  const client = useAuthClient();
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  return {
    status: snapshot.status,
    user: snapshot.user as User | undefined,
    reason: snapshot.reason,
    error: snapshot.lastError,
    login: client.login,
    logout: client.logout,
  };
}

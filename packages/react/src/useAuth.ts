'use client';

import type { AuthClientError, AuthStatus } from '@latchkey/client';
import type { SessionUser, SignedOutReason } from '@latchkey/core';
import { useSyncExternalStore } from 'react';
import { useAuthClient } from './context.js';

export interface UseAuthResult {
  status: AuthStatus;
  user: SessionUser | undefined;
  /** Why the user is signed out, when they are. */
  reason: SignedOutReason | undefined;
  /** The last failure; temporary trouble sets it while staying signed in. */
  error: AuthClientError | undefined;
  login: (returnTo?: string) => void;
  logout: (options?: { endProviderSession?: boolean }) => Promise<void>;
}

/** Who is signed in, and the sign-in and sign-out actions. */
export function useAuth(): UseAuthResult {
  const client = useAuthClient();
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  return { status: snapshot.status, user: snapshot.user, reason: snapshot.reason, error: snapshot.lastError, login: client.login, logout: client.logout };
}

/** The current access token and its local expiry, for the rare direct use; re-renders when it changes. */
export function useAccessToken(): { token: string | undefined; expiresAt: number | undefined } {
  const client = useAuthClient();
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  return { token: snapshot.token?.value, expiresAt: snapshot.token?.expiresAt };
}

'use client';

import { useSyncExternalStore } from 'react';
import { useAuthClient } from '../context.js';

/**
 * The current access token and its local expiry, for the rare direct use; re-renders when it
 * changes. Always empty in proxy mode; with DPoP a token is useless without a proof, so call
 * APIs with `fetch` or `authHeaders()` (`@latchkey/react/dpop`) instead.
 */
export function useAccessToken(): { token: string | undefined; expiresAt: number | undefined } {
  const client = useAuthClient();
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  return { token: snapshot.token?.value, expiresAt: snapshot.token?.expiresAt };
}

'use client';

import { hasScope } from '@latchkey/core';
import { useSyncExternalStore } from 'react';
import { useAuthClient } from '../context.js';

/**
 * Whether the current access token grants every one of these scopes (one scope, a
 * space-separated string or a list); `false` while there is no token, and so always in proxy
 * mode, where the browser holds none. Re-renders when the answer changes.
 * @example
 * const canWrite = useHasScope('notes:write');
 */
export function useHasScope(scope: string | readonly string[]): boolean {
  const client = useAuthClient();
  const granted = () => hasScope(client.getSnapshot().token?.scope, scope);
  return useSyncExternalStore(client.subscribe, granted, granted);
}

'use client';

import type { AuthedContext } from '@latchkey/react';
import { createContext, useContext } from 'react';
import type { DemoMode } from '../lib/config';

/** The demo's LATCHKEY_MODE, read on the server and handed down by the layout. */
export const DemoModeContext = createContext<DemoMode>('token');

/** Whether this page holds an access token (`token`) or leaves every token to the BFF (`proxy`). */
export function useDemoMode(): DemoMode {
  return useContext(DemoModeContext);
}

type Path = `/${string}`;

/**
 * The one difference between the modes, for the page: `notesApi(fetch, '/items')` calls the
 * notes API at /api/notes/items with the page's token (token mode), or as
 * /api/auth/proxy/notes/items through the BFF, which attaches the token (proxy mode). Everything
 * else on the page is the same code.
 */
export function useNotesApi(): (fetch: AuthedContext['fetch'], path: Path, init?: RequestInit) => Promise<Response> {
  const mode = useDemoMode();
  return mode === 'proxy' ? proxied : direct;
}

const proxied = (fetch: AuthedContext['fetch'], path: Path, init?: RequestInit) => fetch('notes', path, init);
const direct = (fetch: AuthedContext['fetch'], path: Path, init?: RequestInit) => fetch(`/api/notes${path}`, init);

'use client';

import { AuthProvider, type SessionUser } from '@latchkey/react';
import { LatchkeyDevtools } from '@latchkey/react/devtools';
import { dpop as dpopBinding } from '@latchkey/react/dpop';
import { proxyMode } from '@latchkey/react/proxy';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import type { DemoMode } from '../lib/config';
import { DemoModeContext } from './notesApi';

export function Providers({ children, initialSession, mode, dpop }: { children: ReactNode; initialSession: SessionUser | null | undefined; mode: DemoMode; dpop: boolean }) {
  const [queryClient] = useState(() => new QueryClient());
  // Proxy mode holds no token in the page: the BFF attaches it to calls through /api/auth/proxy.
  const [authMode] = useState(() => (mode === 'proxy' ? proxyMode() : undefined));
  // LATCHKEY_DPOP=1: the access token is bound to a key this page makes and cannot export.
  const [binding] = useState(() => (dpop ? dpopBinding() : undefined));
  return (
    <AuthProvider baseUrl="/api/auth" initialSession={initialSession} mode={authMode} dpop={binding}>
      <DemoModeContext.Provider value={mode}>
        <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      </DemoModeContext.Provider>
      {/* A demo shows its internals; a production app leaves this import out. */}
      <LatchkeyDevtools initialIsOpen />
    </AuthProvider>
  );
}

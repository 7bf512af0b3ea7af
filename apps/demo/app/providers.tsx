'use client';

import { AuthProvider, type SessionUser } from '@latchkey/react';
import { LatchkeyDevtools } from '@latchkey/react/devtools';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';

export function Providers({ children, initialSession }: { children: ReactNode; initialSession: SessionUser | null | undefined }) {
  const [queryClient] = useState(() => new QueryClient());
  return (
    <AuthProvider baseUrl="/api/auth" initialSession={initialSession}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      {/* A demo shows its internals; a production app leaves this import out. */}
      <LatchkeyDevtools initialIsOpen />
    </AuthProvider>
  );
}

'use client';

import { AuthProvider } from '@latchkey/react';
import { LatchkeyDevtools } from '@latchkey/react/devtools';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient());
  return (
    <AuthProvider baseUrl="/api/auth">
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      {/* A demo shows its internals; a production app leaves this import out. */}
      <LatchkeyDevtools initialIsOpen />
    </AuthProvider>
  );
}

'use client';

import { AuthClient, type AuthClientOptions } from '@latchkey/client';
import type { SignedOutReason } from '@latchkey/core';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { AuthContext } from './context.js';

export interface AuthProviderProps extends Omit<AuthClientOptions, 'onSessionEnded'> {
  children?: ReactNode;
  /** A client made elsewhere (tests, or to use it outside React too). */
  client?: AuthClient;
  /** Called once when the session ends; the app typically shows a sign-in prompt. */
  onSessionEnded?: (reason: SignedOutReason) => void;
}

/**
 * Provides the auth client to the tree and mounts it while the provider is mounted.
 * @example
 * <AuthProvider baseUrl="/api/auth" apiOrigins={['https://api.example.com']} onSessionEnded={() => toast('Please sign in again')}>
 *   <QueryClientProvider client={queryClient}><App /></QueryClientProvider>
 * </AuthProvider>
 */
export function AuthProvider({ children, client: given, onSessionEnded, ...options }: AuthProviderProps) {
  const onEnded = useRef(onSessionEnded);
  onEnded.current = onSessionEnded;
  const [client] = useState(() => given ?? new AuthClient({ ...options, onSessionEnded: (reason) => onEnded.current?.(reason) }));
  useEffect(() => client.mount(), [client]);
  return <AuthContext.Provider value={client}>{children}</AuthContext.Provider>;
}

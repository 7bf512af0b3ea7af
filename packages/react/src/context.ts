'use client';

import { createContext, useContext } from 'react';
import type { AuthClient } from '@latchkey/client';

export const AuthContext = createContext<AuthClient | null>(null);

/** The `AuthClient` of the nearest `<AuthProvider>`. */
export function useAuthClient(): AuthClient {
  const client = useContext(AuthContext);
  if (!client) throw new Error('Wrap your app in <AuthProvider>.');
  return client;
}

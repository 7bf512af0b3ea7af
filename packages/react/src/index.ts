export { AuthProvider, type AuthProviderProps } from './AuthProvider.js';
export { useAuthClient } from './context.js';
export { useAuth, type UseAuthResult } from './useAuth.js';
export {
  useAuthedMutation,
  useAuthedQuery,
  useAuthedSuspenseQuery,
  type AuthedContext,
  type UseAuthedMutationOptions,
  type UseAuthedQueryOptions,
  type UseAuthedSuspenseQueryOptions,
} from './queries.js';
export { AuthClient, AuthClientError, type AuthSnapshot, type AuthStatus } from '@latchkey/client';
export {
  type LatchkeyErrorCode,
  type ScopeSource,
  type SessionResponseBody,
  type SessionUser,
  type SessionUserBase,
  type SignedOutReason,
  type TokenResponseBody,
} from '@latchkey/core';

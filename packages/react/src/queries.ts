import type { AuthClient } from '@latchkey/client';
import { LatchkeyError } from '@latchkey/core';
import {
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
  type QueryFunctionContext,
  type QueryKey,
  type UseMutationOptions,
  type UseMutationResult,
  type UseQueryOptions,
  type UseQueryResult,
} from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { useAuthClient } from './context.js';

/** What an authed query or mutation function is handed besides Query's own context. */
export interface AuthedContext {
  /** `fetch` with the access token attached, refreshed and retried once when it expired. */
  fetch: AuthClient['fetch'];
}

export type UseAuthedQueryOptions<TData, TError, TKey extends QueryKey> = Omit<UseQueryOptions<TData, TError, TData, TKey>, 'queryFn'> & {
  queryFn: (context: QueryFunctionContext<TKey> & AuthedContext) => Promise<TData>;
};

const META = 'latchkey';
const cleared = new WeakMap<QueryClient, WeakSet<AuthClient>>();

/** Auth failures are answered by signing in again, never by Query retrying them. */
function retryUnlessAuth(failureCount: number, error: unknown): boolean {
  if (error instanceof LatchkeyError) return false;
  return failureCount < 3;
}

/** Removes every authed query when the session ends, so one user's data never shows to the next. */
function useClearOnSessionEnd(client: AuthClient, queryClient: QueryClient) {
  useEffect(() => {
    let clients = cleared.get(queryClient);
    if (!clients) cleared.set(queryClient, (clients = new WeakSet()));
    if (clients.has(client)) return undefined;
    clients.add(client);
    let user = client.getSnapshot().user?.sub;
    const remove = () => queryClient.removeQueries({ predicate: (q) => q.meta?.[META] === true });
    const offEnded = client.on('sessionEnded', remove);
    const offRefreshed = client.on('tokenRefreshed', () => {
      const next = client.getSnapshot().user?.sub;
      if (user !== undefined && next !== user) remove();
      user = next;
    });
    return () => {
      offEnded();
      offRefreshed();
      clients.delete(client);
    };
  }, [client, queryClient]);
}

/**
 * `useQuery` that runs only while signed in and hands its function the authed `fetch`.
 * @example
 * const notes = useAuthedQuery({ queryKey: ['notes'], queryFn: ({ fetch, signal }) => fetch('/api/notes', { signal }).then((r) => r.json()) });
 */
export function useAuthedQuery<TData = unknown, TError = Error, TKey extends QueryKey = QueryKey>(
  options: UseAuthedQueryOptions<TData, TError, TKey>,
): UseQueryResult<TData, TError> {
  const client = useAuthClient();
  const queryClient = useQueryClient();
  useClearOnSessionEnd(client, queryClient);
  const status = useSyncExternalStore(client.subscribe, () => client.getSnapshot().status, () => client.getSnapshot().status);
  const { queryFn, enabled, meta, ...rest } = options;
  return useQuery<TData, TError, TData, TKey>({
    retry: retryUnlessAuth,
    ...rest,
    meta: { ...meta, [META]: true },
    enabled: status === 'authenticated' && (enabled ?? true),
    queryFn: (context) => queryFn({ ...context, fetch: client.fetch }),
  } as UseQueryOptions<TData, TError, TData, TKey>);
}

export type UseAuthedMutationOptions<TData, TError, TVariables, TContext> = Omit<
  UseMutationOptions<TData, TError, TVariables, TContext>,
  'mutationFn'
> & {
  mutationFn: (variables: TVariables, context: AuthedContext) => Promise<TData>;
};

/** `useMutation` whose function is handed the authed `fetch`. */
export function useAuthedMutation<TData = unknown, TError = Error, TVariables = void, TContext = unknown>(
  options: UseAuthedMutationOptions<TData, TError, TVariables, TContext>,
): UseMutationResult<TData, TError, TVariables, TContext> {
  const client = useAuthClient();
  const { mutationFn, ...rest } = options;
  return useMutation<TData, TError, TVariables, TContext>({
    ...rest,
    mutationFn: (variables) => mutationFn(variables, { fetch: client.fetch }),
  });
}

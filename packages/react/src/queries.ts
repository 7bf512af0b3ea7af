'use client';

import type { AuthClient } from '@latchkey/client';
import { LatchkeyError } from '@latchkey/core';
import {
  useMutation,
  useQuery,
  useQueryClient,
  useSuspenseQuery,
  type Query,
  type QueryClient,
  type QueryFunctionContext,
  type QueryKey,
  type UseMutationOptions,
  type UseMutationResult,
  type UseQueryOptions,
  type UseQueryResult,
  type UseSuspenseQueryOptions,
  type UseSuspenseQueryResult,
} from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { useAuthClient } from './context.js';

/** What an authed query or mutation function is handed besides Query's own context. */
export interface AuthedContext {
  /**
   * The client's authed `fetch`: `fetch(url, init)` with the access token attached, refreshed and
   * retried once when it expired; `fetch(api, path, init)` through the BFF's proxy (proxy mode).
   */
  fetch: AuthClient['fetch'];
}

type AuthedQueryFn<TData, TKey extends QueryKey> = (context: QueryFunctionContext<TKey> & AuthedContext) => Promise<TData>;

export type UseAuthedQueryOptions<TData, TError, TKey extends QueryKey> = Omit<UseQueryOptions<TData, TError, TData, TKey>, 'queryFn'> & {
  queryFn: AuthedQueryFn<TData, TKey>;
};

export type UseAuthedSuspenseQueryOptions<TData, TError, TKey extends QueryKey> = Omit<
  UseSuspenseQueryOptions<TData, TError, TData, TKey>,
  'queryFn'
> & { queryFn: AuthedQueryFn<TData, TKey> };

const META = 'latchkey';
const isAuthed = (query: Query) => query.meta?.[META] === true;

/** Per query client and auth client: the release of each authed hook mounted. */
const watches = new WeakMap<QueryClient, Map<AuthClient, () => () => void>>();

/**
 * Removes every authed query from `queryClient` when the user signs out or another user
 * appears, so one user's data never shows to the next. One watch per (query client, auth
 * client), counted by the authed hooks mounted; it outlives the last of them for as long as
 * their data stays cached (`gcTime`), since a component mounted later would show it at once.
 * Returns the hook's release.
 */
function watch(queryClient: QueryClient, client: AuthClient): () => void {
  const byClient = watches.get(queryClient) ?? new Map<AuthClient, () => () => void>();
  watches.set(queryClient, byClient);
  let hold = byClient.get(client);
  if (!hold) {
    const cache = queryClient.getQueryCache();
    let user = client.getSnapshot().user?.sub;
    let mounted = 0;
    const release = () => {
      if (mounted || cache.getAll().some(isAuthed)) return;
      offs.forEach((off) => off());
      byClient.delete(client);
    };
    const offs = [
      client.subscribe(() => {
        const next = client.getSnapshot().user?.sub;
        if (user !== undefined && next !== user) queryClient.removeQueries({ predicate: isAuthed });
        user = next;
      }),
      cache.subscribe(release),
    ];
    byClient.set(
      client,
      (hold = () => {
        mounted += 1;
        return () => {
          mounted -= 1;
          release();
        };
      }),
    );
  }
  return hold();
}

/** Auth failures are answered by signing in again, never by Query retrying them. */
const retry = (failureCount: number, error: unknown) => !(error instanceof LatchkeyError) && failureCount < 3;

/**
 * Shared by the authed hooks: removes every authed query when the session ends or another
 * user appears, so one user's data never shows to the next; marks the query as authed, hands
 * its function the authed `fetch`, and turns off Query retries for auth errors.
 */
function useAuthed<O extends { queryFn: AuthedQueryFn<never, never>; meta?: Record<string, unknown> }>(options: O) {
  const client = useAuthClient();
  const queryClient = useQueryClient();
  useEffect(() => watch(queryClient, client), [client, queryClient]);
  const { queryFn, meta } = options;
  return {
    retry,
    ...options,
    meta: { ...meta, [META]: true },
    queryFn: (context: object) => queryFn({ ...context, fetch: client.fetch } as never),
  };
}

/**
 * `useQuery` that runs only while signed in and hands its function the authed `fetch`.
 * @example
 * const notes = useAuthedQuery({ queryKey: ['notes'], queryFn: ({ fetch, signal }) => fetch('/api/notes', { signal }).then((r) => r.json()) });
 */
export function useAuthedQuery<TData = unknown, TError = Error, TKey extends QueryKey = QueryKey>(
  options: UseAuthedQueryOptions<TData, TError, TKey>,
): UseQueryResult<TData, TError> {
  const authed = useAuthed(options as never);
  const client = useAuthClient();
  const signedIn = useSyncExternalStore(client.subscribe, () => client.getSnapshot().status, () => 'loading') === 'authenticated';
  const { enabled } = options;
  return useQuery({
    ...(authed as object),
    // Query 5 takes `enabled` as a boolean or as a function of the query: either way, only while signed in.
    enabled: typeof enabled === 'function' ? (query: never) => signedIn && enabled(query) : signedIn && enabled !== false,
  } as UseQueryOptions<TData, TError, TData, TKey>);
}

/**
 * `useSuspenseQuery` for authed data: suspends while the session loads and throws a
 * `LatchkeyError` (`login_required`, `session_expired`…) to the nearest error boundary when
 * signed out.
 */
export function useAuthedSuspenseQuery<TData = unknown, TError = Error, TKey extends QueryKey = QueryKey>(
  options: UseAuthedSuspenseQueryOptions<TData, TError, TKey>,
): UseSuspenseQueryResult<TData, TError> {
  return useSuspenseQuery(useAuthed(options as never) as UseSuspenseQueryOptions<TData, TError, TData, TKey>);
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
  return useMutation<TData, TError, TVariables, TContext>({
    ...options,
    mutationFn: (variables) => options.mutationFn(variables, { fetch: client.fetch }),
  });
}

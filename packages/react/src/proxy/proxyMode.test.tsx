import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useAccessToken } from '../extras/index.js';
import { AuthProvider, useAuth, useAuthClient, useAuthedMutation, useAuthedQuery } from '../index.js';
import { proxyMode } from './index.js';

afterEach(cleanup);

/** A BFF in proxy-only mode: /session, /proxy/* and a /token that answers 404. */
function proxyBff() {
  const calls = { token: 0, proxied: [] as [string, RequestInit][] };
  let signedIn = true;
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url.includes('/api/auth/token')) {
      calls.token += 1;
      return json(404, { error: 'not_found', error_description: 'proxy only' });
    }
    if (url.endsWith('/api/auth/session')) return json(200, signedIn ? { authenticated: true, user: { sub: 'alice' } } : { authenticated: false });
    calls.proxied.push([url, init]);
    if (!signedIn) return json(401, { error: 'session_expired', error_description: 'Session over' });
    return json(200, [{ owner: 'alice', method: init.method ?? 'GET' }]);
  });
  return { fetch, calls, signOutUpstream: () => (signedIn = false) };
}

function Notes() {
  const { status } = useAuth();
  const { token } = useAccessToken();
  const notes = useAuthedQuery({
    queryKey: ['notes'],
    queryFn: ({ fetch, signal }) => fetch('notes', '/items', { signal }).then((r) => r.json() as Promise<{ owner: string }[]>),
  });
  const add = useAuthedMutation({ mutationFn: (text: string, { fetch }) => fetch('notes', '/items', { method: 'POST', body: text }).then((r) => r.json()) });
  return (
    <div>
      <span data-testid="status">{status}</span>
      <span data-testid="token">{token ?? 'none'}</span>
      <span data-testid="notes">{notes.data ? notes.data.map((n) => n.owner).join(',') : notes.fetchStatus}</span>
      <button onClick={() => add.mutate('hi')}>{add.data ? JSON.stringify(add.data) : 'add'}</button>
    </div>
  );
}

describe('<AuthProvider mode={proxyMode()}>', () => {
  it('runs authed queries and mutations through the BFF proxy with one fetch API, and holds no token', async () => {
    const bff = proxyBff();
    render(
      <AuthProvider mode={proxyMode()} fetch={bff.fetch} triggers={() => undefined} locks={null} channel={null}>
        <QueryClientProvider client={new QueryClient()}>
          <Notes />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    expect(screen.getByTestId('status').textContent).toBe('authenticated');
    expect(screen.getByTestId('token').textContent).toBe('none');
    await act(async () => screen.getByRole('button').click());
    await waitFor(() => expect(screen.getByRole('button').textContent).toBe('[{"owner":"alice","method":"POST"}]'));
    expect(bff.calls.proxied.map(([url, init]) => [url, init.method ?? 'GET', new Headers(init.headers).get('x-latchkey')])).toEqual([
      ['/api/auth/proxy/notes/items', 'GET', '1'],
      ['/api/auth/proxy/notes/items', 'POST', '1'],
    ]);
    expect(bff.calls.token).toBe(0);
  });

  it('a terminal answer of the proxy signs out and removes the authed data', async () => {
    const bff = proxyBff();
    const queryClient = new QueryClient();
    const onSessionEnded = vi.fn();
    render(
      <AuthProvider mode={proxyMode()} fetch={bff.fetch} triggers={() => undefined} locks={null} channel={null} onSessionEnded={onSessionEnded}>
        <QueryClientProvider client={queryClient}>
          <Notes />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    bff.signOutUpstream();
    await act(() => queryClient.refetchQueries({ queryKey: ['notes'] }));
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('unauthenticated'));
    expect(onSessionEnded).toHaveBeenCalledWith('session_expired');
    expect(queryClient.getQueryData(['notes'])).toBeUndefined();
  });

  it('useAuthClient().getAccessToken() rejects with a clear error', async () => {
    const bff = proxyBff();
    let client!: ReturnType<typeof useAuthClient>;
    function Grab() {
      client = useAuthClient();
      return null;
    }
    render(
      <AuthProvider mode={proxyMode()} fetch={bff.fetch} triggers={() => undefined} locks={null} channel={null}>
        <Grab />
      </AuthProvider>,
    );
    await expect(client.getAccessToken()).rejects.toMatchObject({ code: 'configuration_error', message: expect.stringContaining('proxy mode') });
  });
});

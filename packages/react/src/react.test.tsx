import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { AuthClient, TriggerManager, type AuthClientOptions } from '@latchkey/client';
import { Component, Suspense, useState, type ReactNode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureFresh, useAccessToken } from './extras/index.js';
import { AuthProvider, useAuth, useAuthClient, useAuthedMutation, useAuthedQuery, useAuthedSuspenseQuery } from './index.js';

afterEach(cleanup);

function fakeBff(clientOptions: Partial<AuthClientOptions> = {}) {
  const calls = { token: 0, notes: 0, seen: [] as string[], urls: [] as string[] };
  let signedIn = true;
  let user = 'alice';
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url.split('?')[0]!.endsWith('/token')) {
      calls.token += 1;
      if (!signedIn) return json(401, { error: 'session_expired', error_description: 'Session over' });
      return json(200, { accessToken: `at-${user}-${calls.token}`, tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: user, name: user } });
    }
    if (url.endsWith('/logout')) return json(200, {});
    calls.notes += 1;
    const auth = new Headers(init.headers).get('authorization') ?? '';
    calls.seen.push(auth);
    calls.urls.push(url);
    return json(200, [{ id: 1, owner: auth.split('-')[1], method: init.method ?? 'GET' }]);
  });
  const options: AuthClientOptions = { fetch, triggers: new TriggerManager(() => undefined), navigate: vi.fn(), currentPath: () => '/', locks: null, channel: null, ...clientOptions };
  const client = new AuthClient(options);
  return {
    client,
    /** The options the client was made with, to give `<AuthProvider>` instead of the client. */
    options,
    calls,
    signOutUpstream: () => (signedIn = false),
    switchUser: (u: string) => (user = u),
  };
}

function Notes() {
  const { status, user } = useAuth();
  const { token } = useAccessToken();
  const notes = useAuthedQuery({
    queryKey: ['notes'],
    queryFn: ({ fetch, signal }) => fetch('/api/notes', { signal }).then((r) => r.json() as Promise<{ owner: string }[]>),
  });
  return (
    <div>
      <span data-testid="status">{status}</span>
      <span data-testid="user">{user?.sub ?? '-'}</span>
      <span data-testid="has-token">{token ? 'yes' : 'no'}</span>
      <span data-testid="notes">{notes.data ? notes.data.map((n) => n.owner).join(',') : notes.fetchStatus}</span>
    </div>
  );
}

function renderApp(bff: ReturnType<typeof fakeBff>, queryClient = new QueryClient()) {
  render(
    <AuthProvider client={bff.client}>
      <QueryClientProvider client={queryClient}>
        <Notes />
      </QueryClientProvider>
    </AuthProvider>,
  );
  return queryClient;
}

describe('<AuthProvider> + useAuth + useAuthedQuery', () => {
  it('shows loading, then the user, and runs the query only once authenticated', async () => {
    const bff = fakeBff();
    renderApp(bff);
    expect(screen.getByTestId('status').textContent).toBe('loading');
    expect(screen.getByTestId('notes').textContent).toBe('idle');
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    expect(screen.getByTestId('status').textContent).toBe('authenticated');
    expect(screen.getByTestId('user').textContent).toBe('alice');
    expect(screen.getByTestId('has-token').textContent).toBe('yes');
    expect(bff.calls.notes).toBe(1);
  });

  it('never runs the query when the session is over, and says why', async () => {
    const bff = fakeBff();
    bff.signOutUpstream();
    renderApp(bff);
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('unauthenticated'));
    expect(bff.client.getSnapshot().reason).toBe('session_expired');
    expect(bff.calls.notes).toBe(0);
  });

  it('removes authed queries from the cache on sign-out, so the next user never sees them', async () => {
    const bff = fakeBff();
    const queryClient = renderApp(bff);
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    expect(queryClient.getQueryData(['notes'])).toBeDefined();
    await act(() => bff.client.logout());
    expect(screen.getByTestId('status').textContent).toBe('unauthenticated');
    expect(queryClient.getQueryData(['notes'])).toBeUndefined();
    expect(screen.getByTestId('has-token').textContent).toBe('no');
  });

  it('removes authed queries when a refresh reveals another user', async () => {
    const bff = fakeBff();
    const queryClient = renderApp(bff);
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    const removed = vi.spyOn(queryClient, 'removeQueries');
    bff.switchUser('bob');
    await act(() => bff.client.refresh('manual'));
    expect(removed).toHaveBeenCalled();
    await waitFor(() => expect(screen.getByTestId('user').textContent).toBe('bob'));
  });

  it('useAuthedMutation hands the authed fetch to the mutation function', async () => {
    const bff = fakeBff();
    let result: unknown;
    function Poster() {
      const m = useAuthedMutation({ mutationFn: (text: string, { fetch }) => fetch('/api/notes', { method: 'POST', body: text }).then((r) => r.json()) });
      const { status } = useAuth();
      return <button onClick={() => m.mutateAsync('hi').then((r) => (result = r))}>{status}</button>;
    }
    render(
      <AuthProvider client={bff.client}>
        <QueryClientProvider client={new QueryClient()}>
          <Poster />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByRole('button').textContent).toBe('authenticated'));
    await act(async () => screen.getByRole('button').click());
    await waitFor(() => expect(result).toEqual([{ id: 1, owner: 'alice', method: 'POST' }]));
  });

  it('throws a clear error when a hook is used outside <AuthProvider>', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Notes />)).toThrow(/Wrap your app in <AuthProvider>/);
    spy.mockRestore();
  });
});

class Boundary extends Component<{ children: ReactNode }, { error?: Error & { code?: string } }> {
  override state: { error?: Error & { code?: string } } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    return this.state.error ? <span data-testid="boundary">{this.state.error.code}</span> : this.props.children;
  }
}

function SuspenseNotes() {
  const client = useAuthClient();
  const notes = useAuthedSuspenseQuery({
    queryKey: ['suspense-notes'],
    queryFn: async ({ fetch }) => {
      await ensureFresh(client, 30);
      return fetch('/api/notes').then((r) => r.json() as Promise<{ owner: string }[]>);
    },
  });
  return <span data-testid="suspense-notes">{notes.data.map((n) => n.owner).join(',')}</span>;
}

function renderSuspense(bff: ReturnType<typeof fakeBff>) {
  render(
    <AuthProvider client={bff.client}>
      <QueryClientProvider client={new QueryClient()}>
        <Boundary>
          <Suspense fallback={<span data-testid="fallback">loading</span>}>
            <SuspenseNotes />
          </Suspense>
        </Boundary>
      </QueryClientProvider>
    </AuthProvider>,
  );
}

/** An authed query that logs what each render shows: its owners, or its fetch status. */
function OwnersOf({ name, log }: { name: string; log: string[] }) {
  const notes = useAuthedQuery({
    queryKey: [name],
    queryFn: ({ fetch }) => fetch(`/api/${name}`).then((r) => r.json() as Promise<{ owner: string }[]>),
  });
  const shown = notes.data ? notes.data.map((n) => n.owner).join(',') : notes.fetchStatus;
  log.push(`${name}:${shown}`);
  return <span data-testid={name}>{shown}</span>;
}

/** Two authed queries, each shown or not. */
function renderTwo(bff: ReturnType<typeof fakeBff>, log: string[]) {
  let show: (which: { a: boolean; b: boolean }) => void = () => {};
  function App() {
    const [which, setWhich] = useState({ a: true, b: true });
    show = setWhich;
    return (
      <>
        {which.a && <OwnersOf name="a" log={log} />}
        {which.b && <OwnersOf name="b" log={log} />}
      </>
    );
  }
  render(
    <AuthProvider client={bff.client}>
      <QueryClientProvider client={new QueryClient()}>
        <App />
      </QueryClientProvider>
    </AuthProvider>,
  );
  return (which: { a: boolean; b: boolean }) => act(() => show(which));
}

describe('sign-out purge', () => {
  it('still removes the data after the first authed component unmounts: the next user never sees it', async () => {
    const bff = fakeBff();
    const log: string[] = [];
    const show = renderTwo(bff, log);
    await waitFor(() => expect([screen.getByTestId('a').textContent, screen.getByTestId('b').textContent]).toEqual(['alice', 'alice']));
    await show({ a: false, b: true }); // the first one, whose effect ran first, goes away
    const from = log.length;
    await act(() => bff.client.logout());
    bff.switchUser('bob');
    await act(() => bff.client.refresh('tab')); // bob signs in (in another tab, say)
    await waitFor(() => expect(screen.getByTestId('b').textContent).toBe('bob'));
    await show({ a: true, b: true });
    await waitFor(() => expect(screen.getByTestId('a').textContent).toBe('bob'));
    expect(log.slice(from).filter((line) => line.includes('alice'))).toEqual([]);
  });

  it('removes the data cached by authed components that have all unmounted, before any mounts again', async () => {
    const bff = fakeBff();
    const log: string[] = [];
    const show = renderTwo(bff, log);
    await waitFor(() => expect(screen.getByTestId('b').textContent).toBe('alice'));
    await show({ a: false, b: false }); // a page without authed data: theirs stays cached for gcTime
    await act(() => bff.client.logout());
    bff.switchUser('bob');
    await act(() => bff.client.refresh('tab'));
    const from = log.length;
    await show({ a: true, b: true });
    await waitFor(() => expect([screen.getByTestId('a').textContent, screen.getByTestId('b').textContent]).toEqual(['bob', 'bob']));
    expect(log.slice(from).filter((line) => line.includes('alice'))).toEqual([]);
  });

  it('stops watching once no authed hook is mounted and the cache has let their data go', async () => {
    const bff = fakeBff();
    const subscriptions: { off: () => void; ended: boolean }[] = [];
    const subscribe = bff.client.subscribe;
    bff.client.subscribe = (listener) => {
      const off = subscribe(listener);
      const entry = { ended: false, off: () => ((entry.ended = true), off()) };
      subscriptions.push(entry);
      return entry.off;
    };
    const queryClient = new QueryClient({ defaultOptions: { queries: { gcTime: 0 } } });
    const { unmount } = render(
      <AuthProvider client={bff.client}>
        <QueryClientProvider client={queryClient}>
          <Notes />
          <Notes />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getAllByTestId('notes').map((n) => n.textContent)).toEqual(['alice', 'alice']));
    expect(queryClient.getQueryCache().hasListeners()).toBe(true);
    unmount();
    await waitFor(() => expect(queryClient.getQueryCache().getAll()).toEqual([]));
    expect(queryClient.getQueryCache().hasListeners()).toBe(false);
    expect(subscriptions.filter((s) => !s.ended)).toEqual([]);
  });
});

describe('useAuthedQuery enabled', () => {
  it('honours enabled given as a function of the query, and still runs only while signed in', async () => {
    const bff = fakeBff();
    const asked: unknown[] = [];
    let setAllow: (allow: boolean) => void = () => {};
    function Gated() {
      const [allow, set] = useState(false);
      setAllow = set;
      const notes = useAuthedQuery({
        queryKey: ['gated'],
        queryFn: ({ fetch }) => fetch('/api/gated').then((r) => r.json() as Promise<{ owner: string }[]>),
        enabled: (query) => {
          asked.push(query.queryKey);
          return allow;
        },
      });
      const { status } = useAuth();
      return <span data-testid="gated">{`${status}:${notes.data ? notes.data[0]!.owner : notes.fetchStatus}`}</span>;
    }
    render(
      <AuthProvider client={bff.client}>
        <QueryClientProvider client={new QueryClient()}>
          <Gated />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('gated').textContent).toBe('authenticated:idle'));
    expect(asked).toContainEqual(['gated']);
    expect(bff.calls.notes).toBe(0);
    await act(() => setAllow(true));
    await waitFor(() => expect(screen.getByTestId('gated').textContent).toBe('authenticated:alice'));
    expect(bff.calls.notes).toBe(1);
  });

  it('never runs while signed out, whatever the function says', async () => {
    const bff = fakeBff();
    bff.signOutUpstream();
    const queryFn = vi.fn(({ fetch }: { fetch: typeof globalThis.fetch }) => fetch('/api/always').then((r) => r.json()));
    function Always() {
      const notes = useAuthedQuery({ queryKey: ['always'], queryFn, enabled: () => true });
      const { status } = useAuth();
      return <span data-testid="always">{`${status}:${notes.fetchStatus}`}</span>;
    }
    render(
      <AuthProvider client={bff.client}>
        <QueryClientProvider client={new QueryClient()}>
          <Always />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('always').textContent).toBe('unauthenticated:idle'));
    expect(queryFn).not.toHaveBeenCalled();
    expect(bff.calls.token).toBe(1);
  });
});

describe('<AuthProvider apiOrigins>', () => {
  it('sends the token to the page origin and the listed API origins only', async () => {
    const bff = fakeBff();
    let results: number[] | undefined;
    function Calls() {
      const { status } = useAuth();
      const fetch = useAuthClient().fetch;
      if (status === 'authenticated' && !results) {
        results = [];
        void Promise.all(['/api/notes', 'https://api.example.com/v1/notes', 'https://api.example.com.evil.com/notes'].map((url) => fetch(url).then((r) => r.status))).then((s) => (results = s));
      }
      return <span data-testid="calls">{status}</span>;
    }
    render(
      <AuthProvider {...bff.options} apiOrigins={['https://api.example.com']}>
        <Calls />
      </AuthProvider>,
    );
    await waitFor(() => expect(results).toHaveLength(3));
    const seen = Object.fromEntries(bff.calls.urls.map((url, i) => [url, bff.calls.seen[i]]));
    expect(seen).toEqual({
      '/api/notes': expect.stringMatching(/^Bearer at-alice-/),
      'https://api.example.com/v1/notes': expect.stringMatching(/^Bearer at-alice-/),
      'https://api.example.com.evil.com/notes': '',
    });
  });

  it('refuses an apiOrigins entry that is not an origin', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<AuthProvider apiOrigins={['https://api.example.com/v1']} />)).toThrow(/"https:\/\/api\.example\.com\/v1" is not an origin/);
    spy.mockRestore();
  });
});

describe('useAuthedSuspenseQuery', () => {
  it('suspends while the session loads, then renders with fetch from its context (and ensureFresh from extras)', async () => {
    const bff = fakeBff();
    renderSuspense(bff);
    expect(screen.getByTestId('fallback')).toBeDefined();
    await waitFor(() => expect(screen.getByTestId('suspense-notes').textContent).toBe('alice'));
    expect(bff.calls.token).toBe(1);
  });

  it('throws the session-ended error to the error boundary, and Query does not retry it', async () => {
    const bff = fakeBff();
    bff.signOutUpstream();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    renderSuspense(bff);
    await waitFor(() => expect(screen.getByTestId('boundary').textContent).toBe('session_expired'));
    spy.mockRestore();
    expect(bff.calls.notes).toBe(0);
    expect(bff.calls.token).toBe(1);
  });
});

describe('focus', () => {
  it("Query's focus refetch waits for the focus refresh and never sends the old token", async () => {
    let now = 10_000_000;
    // Real browser triggers (happy-dom's window and document) and an injected clock.
    const bff = fakeBff({ triggers: new TriggerManager(), now: () => now });
    renderApp(bff);
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    expect(bff.calls.seen).toEqual(['Bearer at-alice-1']);
    now += 250_000; // the tab was in the background: the token is due, no timer has run
    await act(async () => {
      document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    });
    await waitFor(() => expect(bff.calls.notes).toBe(2));
    expect(bff.calls.token).toBe(2);
    expect(bff.calls.seen).toEqual(['Bearer at-alice-1', 'Bearer at-alice-2']);
  });
});


describe('<LatchkeyDevtools>', () => {
  it('shows the countdown, the refresh history with triggers and outcomes, and the last error', async () => {
    const { LatchkeyDevtools } = await import('./devtools/index.js');
    const bff = fakeBff();
    render(
      <AuthProvider client={bff.client}>
        <LatchkeyDevtools initialIsOpen />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('devtools-status').textContent).toBe('authenticated · alice'));
    expect(screen.getByTestId('devtools-countdown').textContent).toMatch(/^expires in (299|300) s$/);
    expect(screen.getByTestId('devtools-error').textContent).toBe('none');
    bff.signOutUpstream();
    await act(() => bff.client.refresh('focus'));
    const rows = [...screen.getByTestId('devtools-history').querySelectorAll('tbody tr')].map((r) => r.textContent);
    // Newest first: the session ended after the failed focus refresh; the first load was the initial refresh.
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/-session ended session_expired/);
    expect(rows[1]).toMatch(/focusfailed session_expired: Session over/);
    expect(rows[2]).toMatch(/initialrefreshed valid 300 s/);
    expect(screen.getByTestId('devtools-status').textContent).toBe('unauthenticated (session_expired)');
    expect(screen.getByTestId('devtools-error').textContent).toBe('session_expired: Session over');
  });
});

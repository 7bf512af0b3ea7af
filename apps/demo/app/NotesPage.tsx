'use client';

import { useAuth, useAuthedQuery } from '@latchkey/react';
import { useAccessToken } from '@latchkey/react/extras';
import { useEffect, useState } from 'react';
import { useDemoMode, useNotesApi } from './notesApi';

interface NotesResponse {
  owner: string;
  notes: { id: number; text: string }[];
  servedAt: string;
}

const REASONS: Record<string, string> = {
  login_required: 'You are not signed in.',
  session_expired: 'Your session expired. Sign in again.',
  session_revoked: 'Your session was ended. Sign in again.',
  logged_out: 'You signed out.',
};

export function NotesPage() {
  const { status, user, reason, error, login, logout } = useAuth();
  const mode = useDemoMode();
  const notesApi = useNotesApi();
  const notes = useAuthedQuery({
    queryKey: ['notes'],
    queryFn: async ({ fetch, signal }): Promise<NotesResponse> => {
      const response = await notesApi(fetch, '/items', { signal });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(`the notes API answered ${response.status}${body.error_description ? `: ${body.error_description}` : ''}`);
      }
      return response.json();
    },
    refetchInterval: 3000,
  });
  const [loads, setLoads] = useState(0);
  useEffect(() => {
    if (notes.dataUpdatedAt) setLoads((n) => n + 1);
  }, [notes.dataUpdatedAt]);

  return (
    <main>
      <h1>Latchkey demo</h1>
      <p>
        Status: <strong data-testid="auth-status">{status}</strong>
        {status === 'authenticated' && user ? <> as <span data-testid="user-name">{user.name ?? user.sub}</span></> : null}
      </p>
      {error ? <p data-testid="last-error" role="status">Last problem: {error.message}</p> : null}
      <p>
        <a href="/server">The same notes, fetched on the server</a> (a server component and a server action).
      </p>

      {status === 'unauthenticated' ? (
        <>
          <p data-testid="signed-out-reason">{REASONS[reason ?? 'login_required']}</p>
          <button data-testid="sign-in" onClick={() => login('/')}>Sign in</button>
        </>
      ) : null}

      {status === 'authenticated' ? (
        <>
          <button data-testid="sign-out" onClick={() => void logout({ endProviderSession: true })}>Sign out</button>{' '}
          <button data-testid="reload-notes" onClick={() => void notes.refetch()}>Reload notes</button>
          {mode === 'proxy' ? (
            <p data-testid="proxy-mode">Proxy mode: this page holds no access token. It calls /api/auth/proxy/notes/…, and the BFF attaches the token on the server.</p>
          ) : (
            <TokenCountdown />
          )}
          <h2>Your notes</h2>
          {notes.isError ? <p data-testid="notes-error">Could not load notes: {notes.error.message}</p> : null}
          <ul data-testid="notes">
            {notes.data?.notes.map((n) => <li key={n.id}>{n.text}</li>)}
          </ul>
          <p>
            Loads so far: <span data-testid="notes-loads">{loads}</span> · last served at{' '}
            <span data-testid="notes-served-at">{notes.data?.servedAt ?? '-'}</span>
          </p>
        </>
      ) : null}
    </main>
  );
}

function TokenCountdown() {
  const { expiresAt } = useAccessToken();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  if (!expiresAt) return null;
  return <p>Access token (in memory only) expires in <span data-testid="token-ttl">{Math.max(0, Math.round((expiresAt - now) / 1000))}</span> s.</p>;
}

import { useAuth, useAuthedQuery } from '@latchkey/react';

interface Notes {
  owner: string;
  notes: { id: number; text: string }[];
}

export function App() {
  const { status, user, login, logout } = useAuth();
  const notes = useAuthedQuery({
    queryKey: ['notes'],
    queryFn: async ({ fetch, signal }): Promise<Notes> => {
      // `fetch` from Latchkey adds the access token; /api/notes is proxied to the BFF's server.
      const response = await fetch('/api/notes', { signal });
      if (!response.ok) throw new Error(`the notes API answered ${response.status}`);
      return response.json();
    },
  });

  return (
    <main style={{ font: '16px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '2rem auto' }}>
      <h1>Latchkey · Vite SPA</h1>
      <p>
        Status: <strong data-testid="auth-status">{status}</strong>
        {user ? <> as <span data-testid="user-name">{user.name ?? user.sub}</span></> : null}
      </p>
      {status === 'unauthenticated' ? (
        <button data-testid="sign-in" onClick={() => login('/')}>Sign in</button>
      ) : null}
      {status === 'authenticated' ? (
        <>
          <button data-testid="sign-out" onClick={() => void logout()}>Sign out</button>
          {notes.isError ? <p data-testid="notes-error">{notes.error.message}</p> : null}
          <ul data-testid="notes">
            {notes.data?.notes.map((n) => <li key={n.id}>{n.text}</li>)}
          </ul>
        </>
      ) : null}
    </main>
  );
}

import { Suspense } from 'react';
import { demoConfig } from '../../lib/config';
import { getAuth } from '../../lib/auth';
import { ActionPanel } from './ActionPanel';

export const dynamic = 'force-dynamic';

/**
 * Calling an API from the server with the user's token: this server component fetches the
 * notes with `getAccessToken()` while it renders (it cannot set cookies, so a rotation stays
 * pending on the server until the browser's next call), and the panel below does the same
 * from a server action (which sets the rotated cookie on its response).
 */
export default function ServerPage() {
  return (
    <main>
      <h1>From the server</h1>
      <Suspense fallback={<p>Loading…</p>}>
        <RenderedNotes />
      </Suspense>
      <ActionPanel />
      <p>
        <a href="/">Back to the SPA page</a>
      </p>
    </main>
  );
}

async function RenderedNotes() {
  const auth = getAuth();
  const user = await auth.requireSession({ returnTo: '/server' });
  const { accessToken, expiresIn } = await auth.getAccessToken();
  const response = await fetch(`${demoConfig.appOrigin}/api/notes`, { headers: { authorization: `Bearer ${accessToken}` }, cache: 'no-store' });
  const body = (await response.json()) as { owner?: string; notes?: { text: string }[]; error?: string };
  return (
    <section>
      <p>
        Rendered for <span data-testid="rsc-user">{user.sub}</span> with a token valid for {expiresIn} s more.
      </p>
      <p>
        The API answered <span data-testid="rsc-status">{response.status}</span>
        {body.owner ? <> with the notes of <span data-testid="rsc-owner">{body.owner}</span></> : <> ({body.error})</>}.
      </p>
    </section>
  );
}

import { forbidden } from 'next/navigation';
import { getAuth, isAdmin } from '../../lib/auth';
import { Dashboard } from './Dashboard';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Latchkey demo: operations' };

/**
 * The operations dashboard, for users whose ID token carries the admin role (alice in the dev
 * provider): live charts of the BFF's traffic, the audit trail, and a user's sessions with
 * revoke buttons. Checked here on the server (a visitor signs in first, anyone else gets 403),
 * and again by each API route the page calls.
 */
export default async function AdminPage() {
  const user = await getAuth().requireSession({ returnTo: '/admin' });
  if (!isAdmin(user)) forbidden();
  return (
    <main>
      <h1>Operations</h1>
      <p>
        Signed in as <span data-testid="admin-user">{user.sub}</span>. Figures are this server process&apos;s; the audit trail is
        every instance&apos;s when the demo runs on Redis. <a href="/">Back to the SPA page</a>
      </p>
      <Dashboard />
    </main>
  );
}

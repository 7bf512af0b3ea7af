import type { ReactNode } from 'react';
import { getAuth } from '../lib/auth';
import { Providers } from './providers';

export const metadata = { title: 'Latchkey demo' };

/**
 * Renders who is signed in on the server, so the first paint knows (no "Loading…") and a
 * visitor who is not signed in causes no request to the BFF at all.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await getAuth().getSession();
  return (
    <html lang="en">
      <body style={{ font: '16px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '2rem auto', padding: '0 1rem' }}>
        <Providers initialSession={session}>{children}</Providers>
      </body>
    </html>
  );
}

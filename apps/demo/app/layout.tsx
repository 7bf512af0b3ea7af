import type { ReactNode } from 'react';
import { getAuth } from '../lib/auth';
import { dpopFromEnv, modeFromEnv } from '../lib/config';
import { Providers } from './providers';

export const metadata = { title: 'Latchkey demo' };

/**
 * Renders who is signed in on the server, so the first paint knows (no "Loading…") and a
 * visitor who is not signed in causes no request to the BFF at all. The mode (LATCHKEY_MODE) is
 * read here, on the server, so one build of the demo runs in either.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await getAuth().getSession();
  return (
    <html lang="en">
      <body style={{ font: '16px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '2rem auto', padding: '0 1rem' }}>
        <Providers initialSession={session} mode={modeFromEnv()} dpop={dpopFromEnv()}>{children}</Providers>
      </body>
    </html>
  );
}

import type { ReactNode } from 'react';
import { Providers } from './providers';

export const metadata = { title: 'Latchkey demo' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ font: '16px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '2rem auto', padding: '0 1rem' }}>
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}

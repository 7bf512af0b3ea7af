/**
 * The calls README.md's "Token mode, token mode with DPoP, or proxy mode" table and its
 * `@latchkey/react/extras` prose name, as files
 * for the fresh app: `next build` type-checks them against the packed packages, so a table
 * that names an entry point or option the published packages lack fails the build. No page
 * imports them, so nothing of them runs or ships.
 */
export const MODE_SNIPPETS: { path: string; content: string }[] = [
  {
    path: 'lib/latchkeyModes.ts',
    content: `import { createBff } from '@latchkey/bff';
import { createVerifier } from '@latchkey/resource';

export const tokenModeWithDpop = () => createBff({ dpop: true });
export const proxyModeBff = () => createBff({ apis: { notes: { url: 'https://api.example.com/v1/' } } });
export const dpopApi = () => createVerifier({ issuer: 'https://idp.example.com/', audience: 'https://api.example.com', dpop: {} });
`,
  },
  {
    path: 'lib/latchkeyModesClient.tsx',
    content: `'use client';
import { AuthProvider } from '@latchkey/react';
import { dpop } from '@latchkey/react/dpop';
import { ensureFresh, useAccessToken, useHasScope } from '@latchkey/react/extras';
import { proxyMode } from '@latchkey/react/proxy';

export function WithDpop({ children }: { children: React.ReactNode }) {
  return <AuthProvider dpop={dpop()}>{children}</AuthProvider>;
}

export function WithProxy({ children }: { children: React.ReactNode }) {
  return <AuthProvider mode={proxyMode()}>{children}</AuthProvider>;
}

export function useExtras() {
  const { token } = useAccessToken();
  return { token, canWrite: useHasScope('notes:write'), ensureFresh };
}
`,
  },
];

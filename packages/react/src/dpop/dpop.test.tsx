import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthProvider, useAuthClient, useAuthedQuery } from '../index.js';
import { authHeaders, dpop } from './index.js';

afterEach(cleanup);

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** A BFF with DPoP (a proof for its named endpoint, or 400) and an API that records what it was sent. */
function dpopBff() {
  const api: { authorization: string | null; proof: Record<string, unknown> | undefined }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const headers = new Headers(init.headers);
    const proof = headers.get('dpop');
    if (url.startsWith('/api/auth/token')) {
      const htu = { 'x-latchkey-dpop-htu': 'https://idp.example/token' };
      if (!proof) return json(400, { error: 'invalid_dpop_proof', error_description: 'A DPoP proof is required' }, htu);
      return json(200, { accessToken: 'at-1', tokenType: 'DPoP', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } }, htu);
    }
    api.push({ authorization: headers.get('authorization'), proof: proof ? claimsOf(proof) : undefined });
    return json(200, [{ owner: 'alice' }]);
  });
  return { fetch, api };
}

function Notes({ onClient }: { onClient: (client: ReturnType<typeof useAuthClient>) => void }) {
  onClient(useAuthClient());
  const notes = useAuthedQuery({
    queryKey: ['notes'],
    queryFn: ({ fetch, signal }) => fetch('https://api.example/notes', { signal }).then((r) => r.json() as Promise<{ owner: string }[]>),
  });
  return <span data-testid="notes">{notes.data ? notes.data.map((n) => n.owner).join(',') : notes.fetchStatus}</span>;
}

describe('<AuthProvider dpop={dpop()}>', () => {
  it('sends authed queries with the DPoP scheme and a proof, and authHeaders() gives both for other calls', async () => {
    const bff = dpopBff();
    let client!: ReturnType<typeof useAuthClient>;
    render(
      <AuthProvider dpop={dpop()} fetch={bff.fetch} triggers={() => undefined} locks={null} channel={null} apiOrigins={['https://api.example']} pageOrigin={() => 'https://app.example'}>
        <QueryClientProvider client={new QueryClient()}>
          <Notes onClient={(c) => (client = c)} />
        </QueryClientProvider>
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('notes').textContent).toBe('alice'));
    expect(bff.api).toEqual([{ authorization: 'DPoP at-1', proof: expect.objectContaining({ htm: 'GET', htu: 'https://api.example/notes' }) }]);
    const headers = await authHeaders(client, 'POST', 'https://api.example/upload');
    expect(headers.authorization).toBe('DPoP at-1');
    expect(claimsOf(headers.dpop!)).toMatchObject({ htm: 'POST', htu: 'https://api.example/upload' });
  });
});

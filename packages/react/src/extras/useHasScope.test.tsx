import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { AuthClient } from '@latchkey/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthProvider, useAuth } from '../index.js';
import { useHasScope } from './index.js';

afterEach(cleanup);

/** A client whose BFF answers `/token` with this scope. */
function clientWith(scope: string) {
  const fetch = vi.fn(async () =>
    Response.json({ accessToken: 'at', tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope, user: { sub: 'alice' } }),
  );
  return new AuthClient({ fetch, triggers: () => undefined, navigate: vi.fn(), currentPath: () => '/', locks: null, channel: null });
}

function Scope({ scope }: { scope: string | string[] }) {
  return <span data-testid="scope">{`${String(scope)}=${useHasScope(scope)}`}</span>;
}

function Probe({ scopes }: { scopes: (string | string[])[] }) {
  return (
    <div>
      <span data-testid="status">{useAuth().status}</span>
      {scopes.map((scope) => (
        <Scope key={String(scope)} scope={scope} />
      ))}
    </div>
  );
}

const answers = () => screen.getAllByTestId('scope').map((node) => node.textContent).join(' ');

describe('useHasScope()', () => {
  it('answers false for every scope while there is no token yet', () => {
    render(
      <AuthProvider client={clientWith('notes:read')}>
        <Probe scopes={['notes:read']} />
      </AuthProvider>,
    );
    expect(screen.getByTestId('status').textContent).toBe('loading');
    expect(answers()).toBe('notes:read=false');
  });

  it("reads the current access token's scope: granted ones true, others false, lists need all", async () => {
    render(
      <AuthProvider client={clientWith('openid notes:read notes:write')}>
        <Probe scopes={['notes:read', 'notes:delete', 'notes', ['notes:read', 'notes:write'], ['notes:read', 'notes:delete'], '']} />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('authenticated'));
    expect(answers()).toBe('notes:read=true notes:delete=false notes=false notes:read,notes:write=true notes:read,notes:delete=false =false');
  });

  it('answers false again once the session ends', async () => {
    const client = clientWith('notes:read');
    render(
      <AuthProvider client={client}>
        <Probe scopes={['notes:read']} />
      </AuthProvider>,
    );
    await waitFor(() => expect(answers()).toBe('notes:read=true'));
    await client.logout();
    await waitFor(() => expect(answers()).toBe('notes:read=false'));
  });
});

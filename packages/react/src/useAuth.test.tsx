import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { AuthClient, TriggerManager } from '@latchkey/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthProvider, useAuth } from './index.js';

afterEach(cleanup);

/** A client whose BFF answers `/token` with this scope and user. */
function clientWith(scope: string, user: Record<string, unknown> = { sub: 'alice', roles: [] }) {
  const fetch = vi.fn(async () =>
    Response.json({ accessToken: 'at', tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope, user }, { headers: { 'content-type': 'application/json' } }),
  );
  return new AuthClient({ fetch, triggers: new TriggerManager(() => undefined), navigate: vi.fn(), currentPath: () => '/', locks: null, channel: null });
}

interface AppUser {
  sub: string;
  roles: string[];
}

function Probe({ scopes }: { scopes: (string | string[])[] }) {
  const { status, user, hasScope } = useAuth<AppUser>();
  return (
    <div>
      <span data-testid="status">{status}</span>
      {/* Typed by useAuth<AppUser>(): `roles` is a string[] here, no cast. */}
      <span data-testid="roles">{user?.roles.join(',') ?? '-'}</span>
      <span data-testid="scopes">{scopes.map((s) => `${String(s)}=${hasScope(s)}`).join(' ')}</span>
    </div>
  );
}

describe('useAuth().hasScope()', () => {
  it('answers false for every scope while there is no token yet', () => {
    render(
      <AuthProvider client={clientWith('notes:read')}>
        <Probe scopes={['notes:read']} />
      </AuthProvider>,
    );
    expect(screen.getByTestId('status').textContent).toBe('loading');
    expect(screen.getByTestId('scopes').textContent).toBe('notes:read=false');
  });

  it("reads the current access token's scope: granted ones true, others false, lists need all", async () => {
    render(
      <AuthProvider client={clientWith('openid notes:read notes:write', { sub: 'alice', roles: ['admin', 'editor'] })}>
        <Probe scopes={['notes:read', 'notes:delete', 'notes', ['notes:read', 'notes:write'], ['notes:read', 'notes:delete'], '']} />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('authenticated'));
    expect(screen.getByTestId('scopes').textContent).toBe(
      'notes:read=true notes:delete=false notes=false notes:read,notes:write=true notes:read,notes:delete=false =false',
    );
  });

  it('hands out the user as the BFF built it, with the claims its mapUser chose', async () => {
    render(
      <AuthProvider client={clientWith('', { sub: 'alice', roles: ['admin', 'editor'] })}>
        <Probe scopes={[]} />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('roles').textContent).toBe('admin,editor'));
  });
});

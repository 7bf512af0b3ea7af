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

function Probe() {
  const { status, user } = useAuth<AppUser>();
  return (
    <div>
      <span data-testid="status">{status}</span>
      {/* Typed by useAuth<AppUser>(): `roles` is a string[] here, no cast. */}
      <span data-testid="roles">{user?.roles.join(',') ?? '-'}</span>
    </div>
  );
}

describe('useAuth()', () => {
  it('hands out the user as the BFF built it, with the claims its mapUser chose', async () => {
    render(
      <AuthProvider client={clientWith('', { sub: 'alice', roles: ['admin', 'editor'] })}>
        <Probe />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('roles').textContent).toBe('admin,editor'));
  });
});

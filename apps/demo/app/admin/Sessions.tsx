'use client';

import type { AdminSession } from '@latchkey/bff';
import { useState, type FormEvent } from 'react';

/** What every admin POST carries: the BFF's CSRF gate is checked again by the route. */
const POST_HEADERS = { 'content-type': 'application/json', 'x-latchkey': '1' };

const when = (ms: number | undefined) => (ms ? new Date(ms).toLocaleTimeString() : '—');

/** A user's live sessions, with a revoke button each and one for all of them. */
export function Sessions() {
  const [sub, setSub] = useState('');
  const [shown, setShown] = useState<{ sub: string; sessions: AdminSession[] } | undefined>();
  const [message, setMessage] = useState<string | undefined>();

  const load = async (user: string) => {
    const response = await fetch(`/admin/api/sessions?sub=${encodeURIComponent(user)}`, { cache: 'no-store' });
    if (!response.ok) return setMessage(`Listing answered ${response.status}`);
    setShown((await response.json()) as { sub: string; sessions: AdminSession[] });
  };
  const revoke = async (body: { family: string } | { sub: string }) => {
    const response = await fetch('/admin/api/revoke', { method: 'POST', headers: POST_HEADERS, body: JSON.stringify(body) });
    const answer = (await response.json()) as { revoked?: number; error?: string };
    setMessage(response.ok ? `Revoked ${answer.revoked} session${answer.revoked === 1 ? '' : 's'}.` : `Revoking answered ${response.status} ${answer.error}`);
    if (shown) await load(shown.sub);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (sub.trim()) void load(sub.trim());
  };

  return (
    <section>
      <h2>Sessions of a user</h2>
      <form onSubmit={submit}>
        <input data-testid="sessions-sub" placeholder="user (sub), e.g. bob" value={sub} onChange={(e) => setSub(e.target.value)} />{' '}
        <button data-testid="sessions-load" type="submit">
          Show sessions
        </button>
      </form>
      {message && <p data-testid="admin-message">{message}</p>}
      {shown && (
        <>
          <p>
            <span data-testid="session-count">{shown.sessions.length}</span> live session{shown.sessions.length === 1 ? '' : 's'} of {shown.sub}{' '}
            {shown.sessions.length > 0 && (
              <button data-testid="revoke-user" onClick={() => void revoke({ sub: shown.sub })}>
                Revoke all
              </button>
            )}
          </p>
          <table style={{ fontSize: 12, borderCollapse: 'collapse', width: '100%' }}>
            <tbody>
              {shown.sessions.map((s) => (
                <tr key={s.family} data-testid="session-row" title={s.userAgent}>
                  <td>{s.family}</td>
                  <td>signed in {when(s.createdAt)}</td>
                  <td>refreshed {when(s.lastRefreshAt)}</td>
                  <td>active {when(s.lastActivityAt ?? s.lastSeenAt)}</td>
                  <td>{s.ip ?? 'IP unknown'}</td>
                  <td>{(s.userAgent ?? '').slice(0, 40)}</td>
                  <td>v{s.versions ?? '?'}</td>
                  <td>
                    <button data-testid="revoke-session" onClick={() => void revoke({ family: s.family })}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

'use client';

import type { AuthClient } from '@latchkey/client';
import { on } from '@latchkey/client/extras';
import { useEffect, useState, useSyncExternalStore, type CSSProperties } from 'react';
import { useAuthClient } from '../context.js';

/** One line of the refresh history. */
export interface DevtoolsEntry {
  at: number;
  /** What started it: `timer`, `focus`, `visibilitychange`, `online`, `request`, `rejected`, `tab`… */
  trigger: string;
  outcome: 'refreshed' | 'from another tab' | 'failed' | 'session ended';
  detail: string;
}

export interface LatchkeyDevtoolsProps {
  /** Start with the panel open (default false: a small button in the corner). */
  initialIsOpen?: boolean;
  /** How many history lines to keep (default 20). */
  historySize?: number;
  /** Which corner (default bottom-right). */
  position?: 'bottom-right' | 'bottom-left';
}

/** Collects what the panel shows from the client's events and the Web Locks state. */
function useDevtoolsState(client: AuthClient, historySize: number) {
  const [history, setHistory] = useState<DevtoolsEntry[]>([]);
  const [lock, setLock] = useState<{ tab: 'this tab' | 'another tab'; at: number } | undefined>();
  const [held, setHeld] = useState<boolean | undefined>();
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    const add = (entry: Omit<DevtoolsEntry, 'at'>) => setHistory((h) => [{ at: Date.now(), ...entry }, ...h].slice(0, historySize));
    const offs = [
      on(client, 'tokenRefreshed', (e) => {
        // A token from the BFF means this tab held the refresh lock; one from another tab, that tab did.
        setLock({ tab: e.trigger === 'tab' ? 'another tab' : 'this tab', at: Date.now() });
        add({
          trigger: e.trigger ?? '-',
          outcome: e.trigger === 'tab' ? 'from another tab' : 'refreshed',
          detail: `valid ${Math.round((e.token.expiresAt - e.token.receivedAt) / 1000)} s`,
        });
      }),
      on(client, 'refreshFailed', (e) => add({ trigger: e.trigger ?? '-', outcome: 'failed', detail: `${e.error.code}: ${e.error.message}` })),
      on(client, 'sessionEnded', (e) => add({ trigger: '-', outcome: 'session ended', detail: e.reason })),
    ];
    const tick = setInterval(() => {
      setNow(Date.now());
      void globalThis.navigator?.locks
        ?.query()
        .then((state) => setHeld(state.held?.some((l) => l.name === client.channelName) ?? false))
        .catch(() => setHeld(undefined));
    }, 1000);
    return () => {
      offs.forEach((off) => off());
      clearInterval(tick);
    };
  }, [client, historySize]);

  return { history, lock, held, now };
}

const panel: CSSProperties = {
  position: 'fixed',
  bottom: 12,
  zIndex: 2147483647,
  font: '12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace',
  background: '#101418',
  color: '#e6edf3',
  border: '1px solid #30363d',
  borderRadius: 8,
  boxShadow: '0 4px 16px rgba(0,0,0,.3)',
};

/**
 * A small panel for development, like React Query Devtools: the token countdown, the refresh
 * history with triggers and outcomes, which tab holds the cross-tab refresh lock, and the last
 * error. Import it from `@latchkey/react/devtools`; nothing of it reaches a bundle that does not.
 * @example
 * <AuthProvider><App /><LatchkeyDevtools /></AuthProvider>
 */
export function LatchkeyDevtools({ initialIsOpen = false, historySize = 20, position = 'bottom-right' }: LatchkeyDevtoolsProps) {
  const client = useAuthClient();
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  const { history, lock, held, now } = useDevtoolsState(client, historySize);
  const [open, setOpen] = useState(initialIsOpen);
  const side = position === 'bottom-left' ? { left: 12 } : { right: 12 };
  const left = snapshot.token ? Math.max(0, Math.round((snapshot.token.expiresAt - now) / 1000)) : undefined;

  if (!open) {
    return (
      <button type="button" data-testid="latchkey-devtools-toggle" style={{ ...panel, ...side, padding: '6px 10px', cursor: 'pointer' }} onClick={() => setOpen(true)}>
        🔑 {snapshot.status === 'authenticated' ? `${left ?? '-'} s` : snapshot.status}
      </button>
    );
  }
  return (
    <section data-testid="latchkey-devtools" aria-label="Latchkey devtools" style={{ ...panel, ...side, width: 380, maxHeight: '60vh', overflow: 'auto', padding: 10 }}>
      <header style={{ display: 'flex', justifyContent: 'space-between', marginBottom: 6 }}>
        <strong>Latchkey</strong>
        <button type="button" onClick={() => setOpen(false)} aria-label="Close Latchkey devtools">
          ×
        </button>
      </header>
      <dl style={{ display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '2px 8px', margin: 0 }}>
        <dt>status</dt>
        <dd data-testid="devtools-status" style={{ margin: 0 }}>
          {snapshot.status}
          {snapshot.reason ? ` (${snapshot.reason})` : ''}
          {snapshot.user ? ` · ${snapshot.user.name ?? snapshot.user.sub}` : ''}
        </dd>
        <dt>token</dt>
        <dd data-testid="devtools-countdown" style={{ margin: 0 }}>
          {left === undefined ? 'none in memory' : `expires in ${left} s`}
        </dd>
        <dt>lock</dt>
        <dd data-testid="devtools-lock" style={{ margin: 0 }}>
          {held === undefined ? 'Web Locks unavailable' : held ? 'held now' : 'free'}
          {lock ? ` · last refresh by ${lock.tab} ${Math.round((now - lock.at) / 1000)} s ago` : ''}
        </dd>
        <dt>last error</dt>
        <dd data-testid="devtools-error" style={{ margin: 0, color: snapshot.lastError ? '#ff7b72' : undefined }}>
          {snapshot.lastError ? `${snapshot.lastError.code}: ${snapshot.lastError.message}` : 'none'}
        </dd>
      </dl>
      <table data-testid="devtools-history" style={{ width: '100%', marginTop: 8, borderCollapse: 'collapse' }}>
        <thead>
          <tr style={{ textAlign: 'left' }}>
            <th>time</th>
            <th>trigger</th>
            <th>outcome</th>
          </tr>
        </thead>
        <tbody>
          {history.map((entry, i) => (
            <tr key={history.length - i} title={entry.detail}>
              <td>{new Date(entry.at).toLocaleTimeString()}</td>
              <td>{entry.trigger}</td>
              <td style={{ color: entry.outcome === 'failed' || entry.outcome === 'session ended' ? '#ff7b72' : '#7ee787' }}>
                {entry.outcome} <span style={{ color: '#8b949e' }}>{entry.detail}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthClient } from './AuthClient.js';
import type { TabChannel, TabLocks, TabMessage } from './tabs.js';
import { TriggerManager } from './triggerManager.js';
import { on } from './extras/index.js';

/** One Web Lock shared by every tab: callbacks run one at a time, first come first served. */
function fakeLocks(): TabLocks & { grants: number } {
  let tail: Promise<unknown> = Promise.resolve();
  const locks = {
    grants: 0,
    request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
      const run = tail.then(() => {
        locks.grants += 1;
        return callback();
      });
      tail = run.catch(() => {});
      return run;
    },
  };
  return locks;
}

/**
 * A BroadcastChannel hub: a message reaches every other open channel (never its sender) as a
 * structured clone, before the lock passes on, as in Chromium.
 */
function fakeChannels() {
  const open = new Set<TabChannel>();
  const sent: TabMessage[] = [];
  const factory = (): TabChannel => {
    const channel: TabChannel = {
      onmessage: null,
      postMessage(message) {
        sent.push(message);
        for (const other of open) {
          if (other !== channel) queueMicrotask(() => other.onmessage?.({ data: structuredClone(message) }));
        }
      },
      close: () => open.delete(channel),
    };
    open.add(channel);
    return channel;
  };
  return { factory, sent, open };
}

/** `count` tabs of one app against one fake BFF that counts /token calls. */
function tabs(count: number, options: { shared?: boolean; lifetime?: number } = {}) {
  const shared = options.shared ?? true;
  const bff = { tokenCalls: 0, issued: 0, answer: undefined as undefined | (() => Response) };
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url.endsWith('/logout')) return json(200, {});
    bff.tokenCalls += 1;
    bodies.push(Object.fromEntries([...new URL(url, 'http://app').searchParams].map(([k, v]) => [k, Number(v)])));
    if (bff.answer) return bff.answer();
    bff.issued += 1;
    return json(200, { accessToken: `at-${bff.issued}`, tokenType: 'Bearer', expiresIn: options.lifetime ?? 300, expiresAt: 0, scope: '', user: { sub: 'alice' } });
  });
  const locks = fakeLocks();
  const channels = fakeChannels();
  const bodies: unknown[] = [];
  const clients = Array.from({ length: count }, () => {
    const ended = vi.fn();
    let input: (source: string) => void = () => {};
    const client = new AuthClient({
      fetch,
      triggers: new TriggerManager(() => undefined),
      activity: new TriggerManager((trigger) => {
        input = trigger;
      }),
      locks: shared ? locks : null,
      channel: shared ? channels.factory : null,
      onSessionEnded: ended,
      navigate: () => {},
      currentPath: () => '/',
    });
    const unmount = client.mount();
    return { client, ended, unmount, input: () => input('activity') };
  });
  return { bff, clients, locks, channels, json, bodies };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 5_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('one refresh across tabs', () => {
  it('five tabs opening at once load the session with one BFF call', async () => {
    const w = tabs(5);
    await settle();
    expect(w.bff.tokenCalls).toBe(1);
    for (const { client } of w.clients) expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', token: { value: 'at-1' } });
  });

  it('five tabs at expiry cause one BFF call, and every tab holds the new token', async () => {
    const w = tabs(5);
    await settle();
    const adopted = vi.fn();
    for (const { client } of w.clients) on(client, 'tokenRefreshed', adopted);
    // All five timers fire at the same due time (240 s into a 300 s token).
    await vi.advanceTimersByTimeAsync(240_000);
    expect(w.bff.tokenCalls).toBe(2);
    for (const { client } of w.clients) expect(client.getSnapshot().token!.value).toBe('at-2');
    // Once per tab: one from the BFF, four from the broadcast.
    expect(adopted).toHaveBeenCalledTimes(5);
    expect(adopted.mock.calls.filter(([e]) => e.trigger === 'tab')).toHaveLength(4);
  });

  it('a tab that gets the lock after another refreshed uses the broadcast token without calling the BFF', async () => {
    const w = tabs(2);
    await settle();
    vi.setSystemTime(Date.now() + 250_000); // both asleep past the due time, no timer has fired
    const [a, b] = w.clients.map((t) => t.client);
    const tokens = await Promise.all([a!.getAccessToken(), b!.getAccessToken()]);
    expect(tokens).toEqual(['at-2', 'at-2']);
    expect(w.bff.tokenCalls).toBe(2);
    expect(w.locks.grants).toBe(4); // both tabs took the lock twice; only one of each pair called the BFF
  });

  it('ignores a broadcast token older than the one it holds', async () => {
    const w = tabs(2);
    await settle();
    const [a, b] = w.clients.map((t) => t.client);
    await a!.refresh('manual');
    const newest = a!.getSnapshot().token!;
    expect(b!.getSnapshot().token).toEqual(newest);
    const stale: TabMessage = { t: 'token', token: { ...newest, value: 'old', expiresAt: newest.expiresAt - 1000 }, user: { sub: 'alice' } };
    const other = w.channels.factory();
    other.postMessage(stale);
    await settle();
    expect(b!.getSnapshot().token!.value).toBe(newest.value);
  });

  it('sign-out in one tab signs out every tab, each calling onSessionEnded once', async () => {
    const w = tabs(4);
    await settle();
    await w.clients[0]!.client.logout();
    await settle();
    for (const { client, ended } of w.clients) {
      expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out', token: undefined });
      expect(ended).toHaveBeenCalledTimes(1);
      expect(ended).toHaveBeenCalledWith('logged_out');
    }
    // The news travels once: receiving tabs do not echo it.
    expect(w.channels.sent.filter((m) => m.t === 'end')).toHaveLength(1);
  });

  it('a tab that finds no session (reopened after the sign-out) does not re-word the reason the others show', async () => {
    const w = tabs(3);
    await settle();
    await w.clients[0]!.client.logout();
    await settle();
    // That tab comes back from the provider's logout page and asks the BFF: no cookie any more.
    w.bff.answer = () => w.json(401, { error: 'login_required', error_description: 'Not signed in.' });
    await w.clients[0]!.client.refresh('load');
    await settle();
    expect(w.clients[0]!.client.getSnapshot().reason).toBe('login_required');
    for (const { client } of w.clients.slice(1)) expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out' });
    expect(w.channels.sent.filter((m) => m.t === 'end')).toHaveLength(1);
  });

  it('a terminal answer in one tab ends the session in every tab with the same reason', async () => {
    const w = tabs(3);
    await settle();
    w.bff.answer = () => w.json(401, { error: 'session_revoked', error_description: 'Refresh token reuse was detected.' });
    await w.clients[1]!.client.refresh('manual');
    await settle();
    for (const { client, ended } of w.clients) {
      expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'session_revoked' });
      expect(ended).toHaveBeenCalledTimes(1);
    }
    expect(w.bff.tokenCalls).toBe(2);
  });

  it('without Web Locks and BroadcastChannel every tab still works, each asking the BFF (which dedupes)', async () => {
    const w = tabs(3, { shared: false });
    await settle();
    expect(w.bff.tokenCalls).toBe(3);
    for (const { client } of w.clients) expect(client.getSnapshot().status).toBe('authenticated');
    await vi.advanceTimersByTimeAsync(240_000);
    expect(w.bff.tokenCalls).toBe(6);
    for (const { client } of w.clients) expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('closes its channel on the last unmount and stops hearing other tabs', async () => {
    const w = tabs(2);
    await settle();
    expect(w.channels.open.size).toBe(2);
    const extra = w.clients[1]!.client.mount();
    w.clients[1]!.unmount();
    expect(w.channels.open.size).toBe(2); // still mounted once
    extra();
    expect(w.channels.open.size).toBe(1);
    await w.clients[0]!.client.logout();
    await settle();
    expect(w.clients[1]!.client.getSnapshot().status).toBe('authenticated');
  });

  it('the tab that refreshes reports input made in another tab, so the idle timeout follows the person', async () => {
    const w = tabs(2);
    await settle();
    await vi.advanceTimersByTimeAsync(100_000);
    w.clients[1]!.input(); // the person works in tab 2
    await settle();
    await vi.advanceTimersByTimeAsync(20_000);
    await w.clients[0]!.client.refresh('timer'); // tab 1's timer wins the refresh
    expect(w.bodies.at(-1)).toMatchObject({ idle: 20 });
  });
});

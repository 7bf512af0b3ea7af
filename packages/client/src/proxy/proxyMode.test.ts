import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthClient } from '../AuthClient.js';
import { AuthClientError } from '../errors.js';
import type { TabChannel, TabMessage } from '../tabs.js';
import { ensureFresh, on } from '../extras/index.js';
import { proxyMode } from './index.js';

/** A BroadcastChannel hub: a message reaches every other open channel (never its sender). */
function fakeChannels() {
  const open = new Set<TabChannel>();
  const sent: TabMessage[] = [];
  const factory = (): TabChannel => {
    const channel: TabChannel = {
      onmessage: null,
      postMessage(message) {
        sent.push(message);
        for (const other of open) if (other !== channel) queueMicrotask(() => other.onmessage?.({ data: structuredClone(message) }));
      },
      close: () => open.delete(channel),
    };
    open.add(channel);
    return channel;
  };
  return { factory, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/**
 * A fake BFF in proxy-only mode: `GET /session` says whether alice is signed in, `POST /token`
 * answers 404 (and is counted, so a test sees it was never called), and `/proxy/*` answers what
 * `state.proxyAnswer` says (by default the API's 200). Several tabs may share it.
 */
function proxyWorld(options: { tabs?: number; channel?: boolean } = {}) {
  const state = {
    signedIn: true,
    sessionCalls: 0,
    tokenCalls: 0,
    /** Each proxied call: its URL and init as the client sent them. */
    proxied: [] as { url: string; init: RequestInit }[],
    proxyAnswer: () => json(200, { items: [] }),
  };
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const path = url.split('?')[0]!;
    if (path.endsWith('/api/auth/token')) {
      state.tokenCalls += 1;
      return json(404, { error: 'not_found', error_description: 'No /token in proxy-only mode.' });
    }
    if (path.endsWith('/api/auth/session')) {
      state.sessionCalls += 1;
      return json(200, state.signedIn ? { authenticated: true, user: { sub: 'alice' } } : { authenticated: false });
    }
    if (path.endsWith('/api/auth/logout')) return json(200, {});
    if (path.startsWith('/api/auth/proxy/')) {
      state.proxied.push({ url, init });
      return state.proxyAnswer();
    }
    throw new Error(`unexpected call to ${url}`);
  });
  const channels = options.channel ? fakeChannels() : undefined;
  const tabs = Array.from({ length: options.tabs ?? 1 }, () => {
    let fire: (source: string) => void = () => {};
    let act: (source: string) => void = () => {};
    const onSessionEnded = vi.fn();
    const client = new AuthClient({
      mode: proxyMode(),
      fetch,
      triggers: (trigger) => void (fire = trigger),
      activity: (trigger) => void (act = trigger),
      locks: null,
      channel: channels?.factory ?? null,
      onSessionEnded,
      navigate: vi.fn(),
      currentPath: () => '/',
      pageOrigin: () => 'https://app.example',
    });
    return { client, onSessionEnded, fire: (source: string) => fire(source), input: () => act('activity') };
  });
  return { state, fetch, tabs, sent: channels?.sent ?? [], ...tabs[0]! };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('proxy mode', () => {
  it('learns the session from GET /session, holds no token, and never calls /token', async () => {
    const w = proxyWorld();
    w.client.mount();
    await settle();
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', user: { sub: 'alice' }, token: undefined, lastError: undefined });
    expect(w.state.sessionCalls).toBe(1);
    const [url, init] = w.fetch.mock.calls[0]!;
    expect([String(url), init?.method]).toEqual(['/api/auth/session', 'GET']);
    // Everything that would refresh a token in token mode: focus, timers, calls through the proxy.
    w.fire('focus');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    await w.client.fetch('notes', '/items');
    await w.client.refresh('manual');
    await expect(w.client.getAccessToken()).rejects.toMatchObject({ code: 'configuration_error', message: expect.stringContaining('proxy mode') });
    await expect(ensureFresh(w.client, 60)).rejects.toBeInstanceOf(AuthClientError);
    expect(w.state.tokenCalls).toBe(0);
    expect(w.client.getSnapshot().token).toBeUndefined();
  });

  it('a first load without a session is signed out quietly: no onSessionEnded, no event', async () => {
    const w = proxyWorld();
    w.state.signedIn = false;
    const ended = vi.fn();
    on(w.client, 'sessionEnded', ended);
    w.client.mount();
    await settle();
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'login_required' });
    expect(w.onSessionEnded).not.toHaveBeenCalled();
    expect(ended).not.toHaveBeenCalled();
  });

  it('looks at /session again when the tab comes back, and every minute while mounted', async () => {
    const w = proxyWorld();
    const unmount = w.client.mount();
    await settle();
    expect(w.state.sessionCalls).toBe(1);
    w.fire('visibilitychange');
    await settle();
    expect(w.state.sessionCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(w.state.sessionCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(w.state.sessionCalls).toBe(3);
    unmount();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(w.state.sessionCalls).toBe(3);
  });

  it('notices a session that ended on the server at its next look, and says so once', async () => {
    const w = proxyWorld();
    w.client.mount();
    await settle();
    w.state.signedIn = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'login_required', user: undefined });
    expect(w.onSessionEnded).toHaveBeenCalledTimes(1);
  });

  describe('fetch(api, path)', () => {
    it('goes to the proxy route with the cookie, the CSRF header and the idle seconds, and hands back the API answer', async () => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      vi.setSystemTime(Date.now() + 42_000); // no input for 42 s since the page opened
      const response = await w.client.fetch('notes', '/items?limit=5', { method: 'POST', body: '{"a":1}', headers: { 'x-app': 'yes' } });
      expect(await response.json()).toEqual({ items: [] });
      const { url, init } = w.state.proxied[0]!;
      expect(url).toBe('/api/auth/proxy/notes/items?limit=5');
      expect(init).toMatchObject({ method: 'POST', body: '{"a":1}', credentials: 'same-origin' });
      const headers = new Headers(init.headers);
      expect([headers.get('x-latchkey'), headers.get('x-latchkey-idle'), headers.get('x-app')]).toEqual(['1', '42', 'yes']);
      expect(headers.get('authorization')).toBeNull();
    });

    it('reports the seconds since the last input in this tab', async () => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      vi.setSystemTime(Date.now() + 30_000);
      w.input();
      vi.setSystemTime(Date.now() + 5_000);
      await w.client.fetch('notes', '/items');
      expect(new Headers(w.state.proxied[0]!.init.headers).get('x-latchkey-idle')).toBe('5');
    });

    it('encodes the API name as one path segment', async () => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      await w.client.fetch('billing/v2?x#y', '/a b');
      expect(w.state.proxied[0]!.url).toBe('/api/auth/proxy/billing%2Fv2%3Fx%23y/a b');
    });

    it.each(['items', '', 'https://evil.example/x', '..'])('refuses a path %j that does not start with "/" with a TypeError, sending nothing', async (path) => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      await expect(w.client.fetch('notes', path as '/')).rejects.toThrow(TypeError);
      await expect(w.client.fetch('notes', path as '/')).rejects.toThrow(`Proxy path "${path}" must start with "/".`);
      expect(w.state.proxied).toEqual([]);
    });

    it.each(['login_required', 'session_expired', 'session_revoked'])('a BFF 401 %s ends the session here and in every other tab', async (code) => {
      const w = proxyWorld({ tabs: 2, channel: true });
      for (const tab of w.tabs) tab.client.mount();
      await settle();
      w.state.proxyAnswer = () => json(401, { error: code, error_description: 'over' });
      const response = await w.client.fetch('notes', '/items');
      expect(response.status).toBe(401);
      await settle();
      for (const tab of w.tabs) {
        expect(tab.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: code });
        expect(tab.onSessionEnded).toHaveBeenCalledTimes(1);
      }
      expect(w.sent).toContainEqual({ t: 'end', reason: code });
      expect(w.client.getSnapshot().lastError).toMatchObject({ code, message: 'over', status: 401 });
      // Signed out: the next call is refused without a request, as a token would be.
      await expect(w.client.fetch('notes', '/items')).rejects.toMatchObject({ code });
      expect(w.state.proxied).toHaveLength(1);
    });

    it.each([
      ['a bare 401', () => new Response('nope', { status: 401 })],
      ['a 401 with an API error code', () => json(401, { error: 'invalid_token', error_description: 'bad token' }, { 'www-authenticate': 'Bearer error="invalid_token"' })],
      ['a 403', () => json(403, { error: 'insufficient_scope', error_description: 'no' })],
      ['an API 503 without a BFF code', () => json(503, { error: 'maintenance', error_description: 'back soon' })],
      ['a terminal code on a status other than 401', () => json(400, { error: 'session_expired', error_description: 'odd' })],
    ])('passes %s from the API through, signed in, retrying nothing', async (_name, answer) => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      w.state.proxyAnswer = answer;
      const before = w.client.getSnapshot();
      const response = await w.client.fetch('notes', '/items');
      expect(response.status).toBe(answer().status);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(w.state.proxied).toHaveLength(1);
      expect(w.client.getSnapshot()).toBe(before);
      expect(w.onSessionEnded).not.toHaveBeenCalled();
    });

    it.each([
      ['503 upstream_unavailable', 503, 'upstream_unavailable'],
      ['429 rate_limited', 429, 'rate_limited'],
    ])('a BFF %s keeps the session, sets lastError with Retry-After, and the next good look at /session clears it', async (_name, status, code) => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      w.state.proxyAnswer = () => json(status, { error: code, error_description: 'later' }, { 'retry-after': '7' });
      const response = await w.client.fetch('notes', '/items');
      expect(response.status).toBe(status);
      expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', user: { sub: 'alice' }, lastError: { code, retryAfter: 7 } });
      expect(w.onSessionEnded).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(7_000);
      expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', lastError: undefined });
      expect(w.state.proxied).toHaveLength(1);
    });

    it('drops a terminal answer that left before a sign-out: the reason stays logged_out', async () => {
      const w = proxyWorld();
      w.client.mount();
      await settle();
      let answer!: (response: Response) => void;
      w.state.proxyAnswer = () => new Promise<Response>((resolve) => (answer = resolve)) as never;
      const pending = w.client.fetch('notes', '/items');
      await settle();
      await w.client.logout();
      answer(json(401, { error: 'session_revoked', error_description: 'gone' }));
      await pending;
      expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out' });
    });
  });

  it('a session one tab finds gone on the server ends in every tab at once', async () => {
    const w = proxyWorld({ tabs: 2, channel: true });
    for (const tab of w.tabs) tab.client.mount();
    await settle();
    w.state.signedIn = false;
    await w.client.refresh('focus');
    await settle();
    expect(w.state.sessionCalls).toBe(3);
    for (const tab of w.tabs) {
      expect(tab.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'login_required' });
      expect(tab.onSessionEnded).toHaveBeenCalledTimes(1);
    }
  });

  it('sign-out reaches the other tabs', async () => {
    const w = proxyWorld({ tabs: 2, channel: true });
    for (const tab of w.tabs) tab.client.mount();
    await settle();
    await w.client.logout();
    await settle();
    expect(w.tabs[1]!.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out' });
    expect(w.tabs[1]!.onSessionEnded).toHaveBeenCalledWith('logged_out');
  });
});

describe('proxyMode({ browserToken: true })', () => {
  it('keeps token mode, and fetch(api, path) goes through the proxy without the token, for a BFF that proxies some APIs', async () => {
    const calls: [string, RequestInit][] = [];
    const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      calls.push([String(input), init]);
      if (String(input).includes('/token')) return json(200, { accessToken: 'at-1', tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } });
      return json(200, {});
    });
    const client = new AuthClient({ mode: proxyMode({ browserToken: true }), fetch, triggers: () => undefined, activity: () => undefined, locks: null, channel: null });
    client.mount();
    await settle();
    await client.fetch('notes', '/items');
    const [url, init] = calls.at(-1)!;
    expect(url).toBe('/api/auth/proxy/notes/items');
    expect(new Headers(init.headers).get('authorization')).toBeNull();
    expect(new Headers(init.headers).get('x-latchkey')).toBe('1');
  });
});

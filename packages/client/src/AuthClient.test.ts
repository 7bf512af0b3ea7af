import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RefreshPolicy } from '@latchkey/core';
import { AuthClient } from './AuthClient.js';
import { AuthClientError } from './errors.js';
import type { TabLocks } from './tabs.js';
import { TriggerManager } from './triggerManager.js';
import { ensureFresh, on } from './extras/index.js';

/**
 * A fake BFF + API: issues numbered tokens, and the API accepts only the newest one. The page
 * is on https://app.example and lists https://api.example as an API origin.
 */
function world(options: { lifetime?: number; policy?: RefreshPolicy; locks?: TabLocks; apiOrigins?: string[]; pageOrigin?: () => string | undefined } = {}) {
  const lifetime = options.lifetime ?? 300;
  const state = {
    issued: 0,
    tokenCalls: 0,
    apiCalls: 0,
    tokenAnswer: undefined as undefined | (() => Response),
    bodies: [] as unknown[],
    /** Each API call's URL and Authorization header. */
    seen: [] as [string, string | null][],
  };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.split('?')[0]!.endsWith('/api/auth/token')) {
      state.tokenCalls += 1;
      // The parameters travel in the query; there is no body.
      expect(init.body).toBeUndefined();
      state.bodies.push(Object.fromEntries([...new URL(url, 'http://app').searchParams].map(([k, v]) => [k, Number(v)])));
      expect(new Headers(init.headers).get('x-latchkey')).toBe('1');
      if (state.tokenAnswer) return state.tokenAnswer();
      state.issued += 1;
      return json(200, { accessToken: `at-${state.issued}`, tokenType: 'Bearer', expiresIn: lifetime, expiresAt: 0, scope: 'notes:read', user: { sub: 'alice' } });
    }
    if (url.endsWith('/api/auth/logout')) return json(200, { endSessionUrl: 'https://idp.example/end' });
    state.apiCalls += 1;
    // Sending reads the body; a Request carries its own, which can be read once.
    const body = init.body ?? (input instanceof Request ? await input.text() : null);
    const auth = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined)).get('authorization');
    state.seen.push([url, auth]);
    if (auth !== `Bearer at-${state.issued}`) {
      return json(401, { error: 'invalid_token', error_description: 'The access token expired' }, {
        'www-authenticate': 'Bearer error="invalid_token", error_description="The access token expired"',
      });
    }
    return json(200, { ok: true, body });
  });
  const triggers = new TriggerManager(() => undefined);
  let fire: (source: string) => void = () => {};
  triggers.setEventListener((trigger) => {
    fire = trigger;
  });
  const navigate = vi.fn();
  const onSessionEnded = vi.fn();
  let act: (source: string) => void = () => {};
  const activity = new TriggerManager((trigger) => {
    act = trigger;
  });
  const net = { online: true };
  const client = new AuthClient({
    fetch,
    triggers,
    activity,
    navigate,
    onSessionEnded,
    currentPath: () => '/here?x=1',
    isOnline: () => net.online,
    locks: options.locks ?? null,
    channel: null,
    policy: options.policy,
    apiOrigins: options.apiOrigins ?? ['https://api.example'],
    pageOrigin: options.pageOrigin ?? (() => 'https://app.example'),
  });
  return { client, state, fetch, fire: (s: string) => fire(s), input: () => act('activity'), net, navigate, onSessionEnded, json };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/**
 * App code that throws, and what the client queued to report it: the client rethrows such an
 * error in a microtask, queued right after the throw, so the next queueMicrotask call after a
 * `fail()` is the client's (every other call goes through untouched).
 */
function appBugs() {
  const reported: (() => void)[] = [];
  const queue = globalThis.queueMicrotask;
  let failed = false;
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
    if (!failed) return queue(callback);
    failed = false;
    reported.push(callback);
  });
  const fail = (message: string): never => {
    failed = true;
    throw new Error(message);
  };
  return { reported, fail };
}

/** A Web Lock for one tab: runs each callback at once, and passes its failure on as the real API does. */
const soloLock: TabLocks = { request: (_name, callback) => callback() };

describe('AuthClient', () => {
  it('starts loading, then becomes authenticated with the user and an in-memory token', async () => {
    const w = world();
    expect(w.client.getSnapshot().status).toBe('loading');
    w.client.mount();
    await settle();
    const snap = w.client.getSnapshot();
    expect(snap).toMatchObject({ status: 'authenticated', user: { sub: 'alice' }, token: { value: 'at-1' } });
    expect(snap.token!.expiresAt).toBe(1_000_000 + 300_000);
  });

  it('keeps the same snapshot object while nothing changes', async () => {
    const w = world();
    w.client.mount();
    await settle();
    expect(w.client.getSnapshot()).toBe(w.client.getSnapshot());
  });

  it('refreshes on its own timer 60 s before a 5-minute token expires, not earlier', async () => {
    const w = world();
    w.client.mount();
    await settle();
    await vi.advanceTimersByTimeAsync(239_000);
    expect(w.state.tokenCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(w.state.tokenCalls).toBe(2);
    expect(w.client.getSnapshot().token!.value).toBe('at-2');
    // It asks for more validity than the due threshold, so the BFF cannot hand back the due token.
    // A timer refresh is not a person at the page: it reports 240 s without input, extending nothing.
    expect(w.state.bodies[1]).toEqual({ idle: 240, minValidity: 61 });
  });

  it('refreshes at once when the tab becomes visible after sleeping past expiry', async () => {
    const w = world();
    w.client.mount();
    await settle();
    // A laptop lid closed for an hour: the clock moved, but no timer fired.
    vi.setSystemTime(1_000_000 + 3_600_000);
    w.fire('visibilitychange');
    await settle();
    expect(w.state.tokenCalls).toBe(2);
    expect(w.client.getSnapshot().token!.value).toBe('at-2');
  });

  it('does not refresh on focus when the token is not due', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.fire('focus');
    await settle();
    expect(w.state.tokenCalls).toBe(1);
  });

  it('joins the refresh under way from every entry point: one /token call, and every caller gets its token', async () => {
    const w = world(); // no Web Locks: only the client's own single flight stands between callers and the BFF
    w.client.mount();
    await settle();
    vi.setSystemTime(Date.now() + 250_000); // due
    w.fire('focus');
    const results = await Promise.all([
      w.client.getAccessToken(),
      w.client.getAccessToken(),
      w.client.fetch('/api/notes').then((r) => r.status),
      w.client.fetch('https://api.example/notes').then((r) => r.status),
      ensureFresh(w.client, 100),
      w.client.refresh('manual'),
    ]);
    expect(results).toEqual(['at-2', 'at-2', 200, 200, 'at-2', undefined]);
    expect(w.state.tokenCalls).toBe(2);
    expect(w.state.apiCalls).toBe(2); // no request went out with the old token
  });

  it('a request made during a refresh of a token that is not yet due waits for it and sends the new token', async () => {
    const w = world();
    w.client.mount();
    await settle();
    const refreshing = w.client.refresh('manual'); // as ensureFresh() or a rejected token would start
    const [response, token] = await Promise.all([w.client.fetch('/api/notes'), w.client.getAccessToken()]);
    await refreshing;
    expect(response.status).toBe(200);
    expect(token).toBe('at-2');
    expect(w.state.seen).toEqual([['/api/notes', 'Bearer at-2']]);
    expect(w.state.tokenCalls).toBe(2);
  });

  it('runs one refresh for many simultaneous callers', async () => {
    const w = world();
    w.client.mount();
    await settle();
    vi.setSystemTime(1_000_000 + 250_000);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => w.client.getAccessToken()));
    expect(new Set(tokens)).toEqual(new Set(['at-2']));
    expect(w.state.tokenCalls).toBe(2);
  });

  it('fetch() attaches the token, and on 401 invalid_token refreshes once and retries once', async () => {
    const w = world();
    w.client.mount();
    await settle();
    // The API moved on (e.g. the token was revoked): only a newer token works.
    w.state.issued += 1;
    const response = await w.client.fetch('https://api.example/notes', { method: 'POST', body: '{"a":1}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, body: '{"a":1}' });
    expect(w.state.apiCalls).toBe(2);
    expect(w.state.tokenCalls).toBe(2);
  });

  it('50 parallel requests meeting 401 cause one refresh and are each retried once', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.issued += 1;
    const responses = await Promise.all(Array.from({ length: 50 }, () => w.client.fetch('https://api.example/notes')));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(w.state.tokenCalls).toBe(2);
    expect(w.state.apiCalls).toBe(100);
  });

  it.each([
    ['Bearer error="invalid_token"', { 'www-authenticate': 'Bearer error="invalid_token"' }, {}, true],
    ['a JSON token_expired', {}, { error: 'token_expired', error_description: 'expired' }, true],
    ['a JSON invalid_token', {}, { error: 'invalid_token', error_description: 'expired' }, true],
    ['a Bearer challenge naming no error', { 'www-authenticate': 'Bearer realm="api"' }, {}, true],
    ['Bearer error="insufficient_scope"', { 'www-authenticate': 'Bearer error="insufficient_scope"' }, {}, false],
    ['a Bearer challenge with another error', { 'www-authenticate': 'Bearer error="invalid_request"' }, {}, false],
    ['no challenge and no error code', {}, {}, false],
    ['a terminal code', {}, { error: 'session_expired', error_description: 'over' }, false],
  ])('on a 401 with %s, refreshes and retries: %s', async (_name, headers, body, retried) => {
    const w = world();
    w.client.mount();
    await settle();
    const api = w.fetch.getMockImplementation()!;
    let first = true;
    w.fetch.mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).includes('/api/auth/') || !first) return api(input, init);
      first = false;
      w.state.apiCalls += 1;
      return w.json(401, body, headers as Record<string, string>);
    });
    const response = await w.client.fetch('https://api.example/notes');
    expect(response.status).toBe(retried ? 200 : 401);
    expect([w.state.apiCalls, w.state.tokenCalls]).toEqual(retried ? [2, 2] : [1, 1]);
  });

  it('never loops: a second 401 is returned with its reason in lastError', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.fetch.mockImplementation(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = String(input);
      if (url.endsWith('/token')) {
        w.state.tokenCalls += 1;
        return w.json(200, { accessToken: `at-${++w.state.issued}`, tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } });
      }
      w.state.apiCalls += 1;
      void init;
      return w.json(401, { error: 'invalid_token', error_description: 'audience mismatch' }, { 'www-authenticate': 'Bearer error="invalid_token", error_description="audience mismatch"' });
    });
    const response = await w.client.fetch('https://api.example/notes');
    expect(response.status).toBe(401);
    expect(w.state.apiCalls).toBe(2);
    expect(w.client.getSnapshot().lastError).toMatchObject({ code: 'invalid_token', message: 'audience mismatch' });
  });

  it('replays a Request from its clone when the API says its token expired', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.issued += 1;
    const request = new Request('https://api.example/notes', { method: 'POST', body: '{"a":1}', headers: { 'x-kept': 'yes' } });
    const response = await w.client.fetch(request);
    expect(await response.json()).toEqual({ ok: true, body: '{"a":1}' });
    expect(w.state.seen.map(([, auth]) => auth)).toEqual(['Bearer at-1', 'Bearer at-3']);
    expect(w.state.tokenCalls).toBe(2);
  });

  it('does not retry a request whose body is a stream', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.issued += 1;
    const body = new ReadableStream({ start: (c) => c.close() });
    const response = await w.client.fetch('https://api.example/upload', { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(401);
    expect(w.state.apiCalls).toBe(1);
  });

  it.each(['login_required', 'session_expired', 'session_revoked'])('moves to unauthenticated with reason %s and calls onSessionEnded once', async (code) => {
    const w = world();
    const ended = vi.fn();
    on(w.client, 'sessionEnded', ended);
    w.client.mount();
    await settle();
    w.state.tokenAnswer = () => w.json(401, { error: code, error_description: 'ended' });
    await w.client.refresh('timer');
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: code, token: undefined });
    expect(w.onSessionEnded).toHaveBeenCalledTimes(1);
    expect(w.onSessionEnded).toHaveBeenCalledWith(code);
    expect(ended).toHaveBeenCalledTimes(1);
    await expect(w.client.getAccessToken()).rejects.toMatchObject({ code });
  });

  it.each([
    ['a network error', () => Promise.reject(new TypeError('Failed to fetch'))],
    ['503 upstream_unavailable', () => new Response('{"error":"upstream_unavailable","error_description":"down"}', { status: 503, headers: { 'retry-after': '7' } })],
    ['429 rate_limited', () => new Response('{"error":"rate_limited","error_description":"slow down"}', { status: 429, headers: { 'retry-after': '7' } })],
  ])('stays authenticated with lastError on %s, keeps the token, and retries later', async (_name, answer) => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.tokenAnswer = answer as () => Response;
    vi.setSystemTime(1_000_000 + 250_000);
    await w.client.refresh('timer');
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', token: { value: 'at-1' } });
    expect(w.client.getSnapshot().lastError).toBeDefined();
    expect(await w.client.getAccessToken()).toBe('at-1');
    const calls = w.state.tokenCalls;
    w.state.tokenAnswer = undefined;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(w.state.tokenCalls).toBeGreaterThan(calls);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', lastError: undefined });
  });

  it('honours Retry-After before trying again', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.tokenAnswer = () => new Response('{"error":"upstream_unavailable","error_description":"down"}', { status: 503, headers: { 'retry-after': '30' } });
    await w.client.refresh('timer');
    const calls = w.state.tokenCalls;
    await vi.advanceTimersByTimeAsync(29_000);
    expect(w.state.tokenCalls).toBe(calls);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(w.state.tokenCalls).toBe(calls + 1);
  });

  it('logout() tells the BFF, drops the token and ends the session as logged_out', async () => {
    const w = world();
    w.client.mount();
    await settle();
    await w.client.logout({ endProviderSession: true });
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out', token: undefined });
    expect(w.navigate).toHaveBeenCalledWith('https://idp.example/end');
  });

  it('login() sends the browser to /login with the current path as returnTo', () => {
    const w = world();
    w.client.login();
    expect(w.navigate).toHaveBeenCalledWith('/api/auth/login?returnTo=%2Fhere%3Fx%3D1');
  });

  it('login() passes authorization parameters for this sign-in, returnTo winning over a params entry of that name', () => {
    const w = world();
    w.client.login('/notes', { prompt: 'login', login_hint: 'a@b.example', returnTo: '//evil' });
    expect(w.navigate).toHaveBeenCalledWith('/api/auth/login?prompt=login&login_hint=a%40b.example&returnTo=%2Fnotes');
  });

  describe('first load', () => {
    it('asks with optional=1, and a 204 (no session cookie) signs nobody out: no onSessionEnded, no event', async () => {
      const w = world();
      w.state.tokenAnswer = () => new Response(null, { status: 204 });
      const ended = vi.fn();
      on(w.client, 'sessionEnded', ended);
      w.client.mount();
      await settle();
      expect(w.state.bodies).toEqual([{ idle: 0, optional: 1 }]);
      expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'login_required', user: undefined });
      expect(w.onSessionEnded).not.toHaveBeenCalled();
      expect(ended).not.toHaveBeenCalled();
      await expect(w.client.getAccessToken()).rejects.toMatchObject({ code: 'login_required' });
    });

    it('takes a 200 that carries no token for what it is, an unexpected answer, not a sign-in', async () => {
      const w = world();
      w.state.tokenAnswer = () => w.json(200, { user: { sub: 'alice' }, tokenType: 'Bearer' });
      w.client.mount();
      await settle();
      expect(w.client.getSnapshot()).toMatchObject({ status: 'loading', token: undefined, lastError: { code: 'unexpected_response' } });
    });

    it('reports a session that expired while the page was closed: that is news', async () => {
      const w = world();
      w.state.tokenAnswer = () => w.json(401, { error: 'session_expired', error_description: 'ended' });
      w.client.mount();
      await settle();
      expect(w.onSessionEnded).toHaveBeenCalledWith('session_expired');
    });

    it('sends optional=1 only while it does not know whether anyone is signed in', async () => {
      const w = world();
      w.client.mount();
      await settle();
      await w.client.refresh('manual');
      expect(w.state.bodies).toEqual([{ idle: 0, optional: 1 }, { idle: 0, minValidity: 61 }]);
    });

    it('with initialSession null, makes no request at all, and a query gets login_required', async () => {
      const w = world();
      const client = new AuthClient({ fetch: w.fetch, initialSession: null, locks: null, channel: null, triggers: new TriggerManager(() => undefined) });
      expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: undefined });
      client.mount();
      await settle();
      expect(w.fetch).not.toHaveBeenCalled();
      await expect(client.getAccessToken()).rejects.toMatchObject({ code: 'login_required' });
      expect(w.fetch).not.toHaveBeenCalled();
    });

    it('with initialSession a user, is authenticated on the first render and fetches the token on mount', async () => {
      const w = world();
      const client = new AuthClient({ fetch: w.fetch, initialSession: { sub: 'alice', name: 'Alice' }, locks: null, channel: null, triggers: new TriggerManager(() => undefined) });
      expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', user: { sub: 'alice', name: 'Alice' }, token: undefined });
      client.mount();
      await settle();
      expect(w.state.bodies).toEqual([{ idle: 0 }]);
      expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', token: { value: 'at-1' } });
    });

    it('a request before the mount-time fetch settles waits for the token instead of failing', async () => {
      const w = world();
      const client = new AuthClient({ fetch: w.fetch, initialSession: { sub: 'alice' }, locks: null, channel: null, triggers: new TriggerManager(() => undefined) });
      await expect(client.getAccessToken()).resolves.toBe('at-1');
    });

    it('reports idle 0 for a token asked for before the first mount, not the time since 1970', async () => {
      const w = world();
      await w.client.getAccessToken();
      expect(w.state.bodies[0]).toMatchObject({ idle: 0 });
    });

    it('uses no randomness and no clock while constructed (servers prerender providers)', () => {
      const random = vi.spyOn(Math, 'random');
      const now = vi.fn(() => 1);
      const client = new AuthClient({ now, locks: null, channel: null, triggers: new TriggerManager(() => undefined), activity: new TriggerManager(() => undefined) });
      expect(random).not.toHaveBeenCalled();
      expect(now).not.toHaveBeenCalled();
      expect(client.getSnapshot().status).toBe('loading');
    });
  });

  it('detaches timers and triggers on the last unmount', async () => {
    const w = world();
    const a = w.client.mount();
    const b = w.client.mount();
    await settle();
    a();
    b();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(w.state.tokenCalls).toBe(1);
  });
});

describe('TriggerManager', () => {
  it('attaches on the first subscriber and detaches on the last', () => {
    const cleanup = vi.fn();
    const setup = vi.fn(() => cleanup);
    const m = new TriggerManager(setup);
    const u1 = m.subscribe(() => {});
    const u2 = m.subscribe(() => {});
    expect(setup).toHaveBeenCalledTimes(1);
    u1();
    expect(cleanup).not.toHaveBeenCalled();
    u2();
    expect(cleanup).toHaveBeenCalledTimes(1);
  });
});

describe('trigger sources', () => {
  it('takes a bare setup for triggers and activity, attached on mount and detached on the last unmount', async () => {
    const w = world();
    const log: string[] = [];
    let fire: (source: string) => void = () => {};
    const client = new AuthClient({
      fetch: w.fetch,
      locks: null,
      channel: null,
      triggers: (trigger) => {
        log.push('triggers on');
        fire = trigger;
        return () => log.push('triggers off');
      },
      // A setup may return nothing (no window: a server render).
      activity: () => void log.push('activity on'),
    });
    const unmount = client.mount();
    await settle();
    expect(log).toEqual(['triggers on', 'activity on']);
    vi.setSystemTime(Date.now() + 250_000); // due
    fire('focus');
    await settle();
    expect(w.state.tokenCalls).toBe(2);
    unmount();
    expect(log).toEqual(['triggers on', 'activity on', 'triggers off']);
  });
});

describe('AuthClient lifecycle', () => {
  it('a tab woken after sleeping past expiry refreshes before its first request goes out', async () => {
    const w = world();
    w.client.mount();
    await settle();
    vi.setSystemTime(Date.now() + 2 * 3_600_000); // the laptop slept; no timer fired
    const response = await w.client.fetch('/api/notes');
    expect(response.status).toBe(200);
    const urls = w.fetch.mock.calls.map(([input]) => String(input).split('?')[0]);
    expect(urls).toEqual(['/api/auth/token', '/api/auth/token', '/api/notes']);
    expect(w.state.apiCalls).toBe(1); // no 401 on the way
  });

  it('a request made while a focus refresh is under way waits for it instead of racing it', async () => {
    const w = world();
    w.client.mount();
    await settle();
    vi.setSystemTime(Date.now() + 250_000); // due, not expired: the old token would still be sent
    w.fire('focus');
    const response = await w.client.fetch('/api/notes');
    expect(response.status).toBe(200);
    expect(w.state.tokenCalls).toBe(2);
    expect(w.state.apiCalls).toBe(1);
  });

  it('offline, it keeps the token and waits for `online` instead of retrying on a timer', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.net.online = false;
    w.state.tokenAnswer = () => Promise.reject(new TypeError('Failed to fetch')) as never;
    vi.setSystemTime(Date.now() + 250_000);
    await w.client.refresh('timer');
    const calls = w.state.tokenCalls;
    await vi.advanceTimersByTimeAsync(10 * 60_000); // long past expiry, still offline
    expect(w.state.tokenCalls).toBe(calls);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', lastError: { code: 'network_error' } });
    w.net.online = true;
    w.state.tokenAnswer = undefined;
    w.fire('online');
    await settle();
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', token: { value: 'at-2' }, lastError: undefined });
  });

  it('backs off exponentially with jitter while the BFF keeps answering 503', async () => {
    const w = world();
    w.client.mount();
    await settle();
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    w.state.tokenAnswer = () => new Response('{"error":"upstream_unavailable","error_description":"down"}', { status: 503 });
    const attempts: number[] = [];
    on(w.client, 'refreshFailed', () => attempts.push(Date.now()));
    await w.client.refresh('manual');
    await vi.advanceTimersByTimeAsync(40_000);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // Equal jitter tops at 1, 2, 4, 8, 16 s: each wait about twice the one before.
    expect(gaps.slice(0, 4).map((g) => Math.round(g / 1000))).toEqual([1, 2, 4, 8]);
    vi.mocked(Math.random).mockRestore();
  });

  it('does not retry on a timer when the BFF answers 500 configuration_error: keeps the token, says why, waits for the next trigger', async () => {
    const w = world();
    w.client.mount();
    await settle();
    w.state.tokenAnswer = () =>
      new Response('{"error":"configuration_error","error_description":"Sign-in is misconfigured on the server"}', { status: 500 });
    const before = w.state.tokenCalls;
    await w.client.refresh('manual');
    await vi.advanceTimersByTimeAsync(600_000);
    expect(w.state.tokenCalls - before).toBe(1);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', lastError: { code: 'configuration_error' } });
  });

  it.each([
    ['a 401 login_required', () => new Response('{"error":"login_required","error_description":"Not signed in."}', { status: 401 })],
    ['a 200 with a token', () => new Response(JSON.stringify({ accessToken: 'late', tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } }), { status: 200 })],
  ])('a /token answer under way at sign-out (%s) neither signs the tab back in nor re-words why it is signed out', async (_name, late) => {
    const w = world();
    w.client.mount();
    await settle();
    let answer!: (response: Response) => void;
    w.state.tokenAnswer = (() => new Promise<Response>((resolve) => (answer = resolve))) as never;
    const refreshing = w.client.refresh('manual');
    await settle();
    w.state.tokenAnswer = undefined;
    await w.client.logout();
    answer(late());
    await refreshing;
    await settle();
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'logged_out', token: undefined });
  });

  it('reports how long ago a person last used the page, so timers never count as use', async () => {
    const w = world();
    w.client.mount();
    await settle();
    expect(w.state.bodies[0]).toEqual({ idle: 0, optional: 1 }); // opening the page counts
    await vi.advanceTimersByTimeAsync(30_000);
    await w.client.refresh('manual');
    expect(w.state.bodies[1]).toMatchObject({ idle: 30 });
    w.input();
    await vi.advanceTimersByTimeAsync(5_000);
    await w.client.refresh('manual');
    expect(w.state.bodies[2]).toMatchObject({ idle: 5 });
  });

  describe('ensureFresh()', () => {
    it('returns the token in memory when it has long enough left', async () => {
      const w = world();
      w.client.mount();
      await settle();
      expect(await ensureFresh(w.client, 120)).toBe('at-1');
      expect(w.state.tokenCalls).toBe(1);
    });

    it('refreshes first, asking the BFF for that validity, when the token has less left', async () => {
      const w = world();
      w.client.mount();
      await settle();
      vi.setSystemTime(Date.now() + 200_000); // 100 s left, not yet due
      expect(await ensureFresh(w.client, 150)).toBe('at-2');
      expect(w.state.bodies[1]).toMatchObject({ minValidity: 150 });
    });

    it("says plainly when the provider's tokens live shorter than asked", async () => {
      const w = world();
      w.client.mount();
      await settle();
      const error = await ensureFresh(w.client, 900).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'insufficient_lifetime' });
      expect(String((error as Error).message)).toBe('Asked for 900 s; tokens live 300 s.');
    });

    it('rejects with the reason when signed out', async () => {
      const w = world();
      w.client.mount();
      await settle();
      await w.client.logout();
      await expect(ensureFresh(w.client, 60)).rejects.toMatchObject({ code: 'logged_out' });
    });
  });

  describe('events', () => {
    it('fire once each, with typed payloads, until unsubscribed', async () => {
      const w = world();
      const refreshed = vi.fn();
      const failed = vi.fn();
      const ended = vi.fn();
      const off = on(w.client, 'tokenRefreshed', refreshed);
      on(w.client, 'refreshFailed', failed);
      on(w.client, 'sessionEnded', ended);
      w.client.mount();
      await settle();
      expect(refreshed).toHaveBeenCalledTimes(1);
      expect(refreshed.mock.calls[0]![0]).toMatchObject({ trigger: 'initial', token: { value: 'at-1' } });
      off();
      await w.client.refresh('manual');
      expect(refreshed).toHaveBeenCalledTimes(1);
      w.state.tokenAnswer = () => new Response('{"error":"session_expired","error_description":"over"}', { status: 401 });
      await w.client.refresh('manual');
      await w.client.refresh('manual'); // already ended: no second sessionEnded
      expect(failed).toHaveBeenCalledTimes(2);
      expect(failed.mock.calls[0]![0]).toMatchObject({ trigger: 'manual', error: { code: 'session_expired' } });
      expect(ended).toHaveBeenCalledTimes(1);
      expect(ended).toHaveBeenCalledWith({ reason: 'session_expired' });
      expect(w.onSessionEnded).toHaveBeenCalledTimes(1);
    });
  });

  it('follows a configured policy', async () => {
    const w = world({ policy: { minRemainingSeconds: 10, minRemainingRatio: 0.1, maxRemainingRatio: 0.5 } });
    w.client.mount();
    await settle();
    await vi.advanceTimersByTimeAsync(269_000); // due at 300 - max(10, 30) = 270 s
    expect(w.state.tokenCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(w.state.tokenCalls).toBe(2);
  });
});


describe('app code that throws', () => {
  it.each([
    ['with Web Locks', soloLock],
    ['without Web Locks', undefined],
  ])('a throwing tokenRefreshed listener is reported on its own; every scheduled refresh still happens, one /token call each (%s)', async (_name, locks) => {
    const { reported, fail } = appBugs();
    const w = world({ locks });
    const listener = vi.fn(() => fail('a bug in the app'));
    on(w.client, 'tokenRefreshed', listener);
    w.client.mount();
    await settle();
    expect(w.state.tokenCalls).toBe(1);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'authenticated', token: { value: 'at-1' } });
    await vi.advanceTimersByTimeAsync(240_000);
    expect(w.state.tokenCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(240_000);
    expect(w.state.tokenCalls).toBe(3);
    expect(w.client.getSnapshot().token!.value).toBe('at-3');
    await expect(w.client.refresh('manual')).resolves.toBeUndefined();
    expect(w.state.tokenCalls).toBe(4);
    expect(listener).toHaveBeenCalledTimes(4);
    // Each error is rethrown later, on its own, where the console and window.onerror see it.
    expect(reported).toHaveLength(4);
    for (const rethrow of reported) expect(rethrow).toThrow('a bug in the app');
  });

  it('a throwing subscriber or onSessionEnded does not stop the session from ending, nor other listeners from hearing it', async () => {
    const { reported, fail } = appBugs();
    const w = world({ locks: soloLock });
    w.onSessionEnded.mockImplementation(() => fail('onSessionEnded bug'));
    w.client.mount();
    await settle();
    w.client.subscribe(() => fail('subscriber bug'));
    const ended = vi.fn();
    on(w.client, 'sessionEnded', ended);
    w.state.tokenAnswer = () => w.json(401, { error: 'session_revoked', error_description: 'revoked' });
    await expect(w.client.refresh('manual')).resolves.toBeUndefined();
    expect(w.state.tokenCalls).toBe(2);
    expect(w.client.getSnapshot()).toMatchObject({ status: 'unauthenticated', reason: 'session_revoked' });
    expect(ended).toHaveBeenCalledWith({ reason: 'session_revoked' });
    expect(reported).toHaveLength(2);
    expect(reported[0]).toThrow('subscriber bug');
    expect(reported[1]).toThrow('onSessionEnded bug');
  });
});

describe('fetch() sends the token only to the page origin and apiOrigins', () => {
  async function ready(options: Parameters<typeof world>[0] = {}) {
    const w = world({ apiOrigins: ['https://api.example.com'], ...options });
    w.client.mount();
    await settle();
    return w;
  }
  const auths = (w: ReturnType<typeof world>) => w.state.seen.map(([, auth]) => auth);

  it.each([
    ['a relative URL', '/api/notes'],
    ['a path-relative URL', 'notes?x=1'],
    ['an absolute URL on the page origin', 'https://app.example/api/notes'],
    ['a listed API origin', 'https://api.example.com/v1/notes'],
    ['a listed API origin with its default port spelled out', 'https://api.example.com:443/v1/notes'],
    ['a listed API origin as a URL object', new URL('https://api.example.com/v1/notes')],
    ['a listed API origin as a Request', new Request('https://api.example.com/v1/notes')],
  ])('attaches it to %s', async (_name, input) => {
    const w = await ready();
    const response = await w.client.fetch(input);
    expect(response.status).toBe(200);
    expect(auths(w)).toEqual(['Bearer at-1']);
  });

  it.each([
    ['an unlisted origin', 'https://other.example/notes'],
    ['a host that merely starts with the listed one', 'https://api.example.com.evil.com/notes'],
    ['the listed host on another port', 'https://api.example.com:8443/notes'],
    ['the listed host over another scheme', 'http://api.example.com/notes'],
    ['userinfo that spells the listed host', 'https://api.example.com@evil.com/notes'],
    ['a protocol-relative URL', '//evil.com/notes'],
    ['the listed origin in the path', 'https://evil.com/https://api.example.com/notes'],
    ['the page origin in the query', 'https://evil.com/?https://app.example'],
    ['the page host on another port', 'https://app.example:8443/notes'],
    ['an unlisted origin as a Request', new Request('https://evil.com/notes')],
  ])('sends %s no token, and neither refreshes nor retries for it', async (_name, input) => {
    const w = await ready();
    vi.setSystemTime(Date.now() + 250_000); // due: a request to a trusted origin would refresh first
    const response = await w.client.fetch(input);
    expect(response.status).toBe(401); // the fake API refuses it, as it came without a token
    expect(auths(w)).toEqual([null]);
    expect(w.state.tokenCalls).toBe(1);
  });

  it('reads the page origin on each call; without one, relative URLs get no token', async () => {
    let page: string | undefined = 'https://app.example';
    const w = await ready({ pageOrigin: () => page });
    await w.client.fetch('/notes');
    page = 'https://elsewhere.example';
    await w.client.fetch('https://app.example/notes');
    page = undefined; // not a browser page: no `location`
    await w.client.fetch('/notes');
    await w.client.fetch('https://api.example.com/notes');
    expect(auths(w)).toEqual(['Bearer at-1', null, null, 'Bearer at-1']);
  });

  it.each([
    ['HTTPS://API.Example.COM:443', 'https://api.example.com'],
    ['http://localhost:8080/', 'http://localhost:8080'],
  ])('refuses %j, an origin spelled otherwise than URL.origin, naming the spelling to write', (entry, origin) => {
    expect(() => world({ apiOrigins: [entry] })).toThrow(`apiOrigins: "${entry}" is not an origin; write "${origin}".`);
  });

  it('in production, checks no entry and compares them as they are: one spelled otherwise never gets the token', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    try {
      const w = await ready({ apiOrigins: ['HTTPS://API.Example.COM:443', 'https://api.example.com/v1', 'http://localhost:8080'] });
      await w.client.fetch('https://api.example.com/a');
      await w.client.fetch('https://api.example.com/v1/a');
      await w.client.fetch('http://localhost:8080/b');
      expect(auths(w)).toEqual([null, null, 'Bearer at-1']);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each([
    'https://api.example.com/v1',
    'api.example.com',
    '*',
    '',
    'https://user:pw@api.example.com',
    'https://api.example.com?x=1',
    'https://api.example.com/#top',
    'file:///srv/api',
    'blob:https://api.example.com/1',
  ])('refuses %j in apiOrigins with configuration_error, quoting it', (entry) => {
    const error = (() => {
      try {
        world({ apiOrigins: ['https://ok.example', entry] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(AuthClientError);
    expect(error).toMatchObject({ code: 'configuration_error', message: expect.stringContaining(`"${entry}" is not an origin`) });
  });
});

describe('backoff while the BFF keeps failing', () => {
  /** The waits between failed attempts, with Math.random() pinned to `random`. */
  async function gaps(random: number, headers: Record<string, string> = {}) {
    const w = world();
    w.client.mount();
    await settle();
    vi.spyOn(Math, 'random').mockReturnValue(random);
    w.state.tokenAnswer = () => new Response('{"error":"upstream_unavailable","error_description":"down"}', { status: 503, headers });
    const attempts: number[] = [];
    on(w.client, 'refreshFailed', () => attempts.push(Date.now()));
    await w.client.refresh('manual');
    await vi.advanceTimersByTimeAsync(400_000);
    return attempts.slice(1, 9).map((t, i) => t - attempts[i]!);
  }
  /** Exponential steps, capped at 60 s. */
  const steps = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];
  const top = 1 - Number.EPSILON / 2; // the largest value Math.random() returns

  it('waits half the step when Math.random() is 0: equal jitter never retries at once', async () => {
    expect(await gaps(0)).toEqual(steps.map((s) => s / 2));
  });

  it('waits just under the whole step when Math.random() is at its top, never longer', async () => {
    const waits = await gaps(top);
    expect(waits).toHaveLength(steps.length);
    waits.forEach((wait, i) => {
      expect(wait).toBeLessThanOrEqual(steps[i]!);
      expect(wait).toBeGreaterThanOrEqual(steps[i]! - 1); // timers count whole milliseconds
    });
  });

  it('takes Retry-After as the least wait at either end of the jitter, and never as a cap', async () => {
    expect(await gaps(0, { 'retry-after': '20' })).toEqual([20_000, 20_000, 20_000, 20_000, 20_000, 20_000, 30_000, 30_000]);
    vi.restoreAllMocks();
    const waits = await gaps(top, { 'retry-after': '1' });
    expect(waits[0]).toBe(1000);
    waits.slice(1).forEach((wait, i) => expect(wait).toBeGreaterThanOrEqual(steps[i + 1]! - 1));
  });
});

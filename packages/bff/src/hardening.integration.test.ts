import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sealData, unsealData } from 'iron-session';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '@latchkey/idp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBff } from './createBff.js';
import type { BffEvent } from './events.js';
import { redisStore } from './redis.js';
import type { SessionData } from './session.js';
import { memoryStore, type BffStore } from './store.js';
import { APP, Jar, postTo, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';
import { startRedis, type RedisServer } from './test/redisServer.js';
import { landingTarget } from './landing.js';

const unseal = (cookie: string) => unsealData<SessionData>(cookie, { password: { 1: SECRET } });
const cleared = (response: Response) => /__Host-latchkey=;.*Max-Age=0/i.test(response.headers.getSetCookie().join('\n'));
/** A small HTTP server on a free port (a misbehaving provider, for configuration faults). */
async function serve(handler: (path: string, issuer: string) => { status: number; body: string; type?: string }): Promise<{ issuer: string; close(): Promise<void> }> {
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const { status, body, type } = handler(req.url ?? '/', issuer);
    res.writeHead(status, { 'content-type': type ?? 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ accessTokenTtl: 60 }, { rateLimits: false });
});
afterAll(() => h?.close());

describe('returnTo (open redirect)', () => {
  const attacks = [
    '//evil.com',
    '/.//evil.com',
    '/..//evil.com',
    '/%2e%2e//evil.com',
    '/%2E//evil.com',
    '/./%2e/..//evil.com',
    '/\\evil.com',
    '/\t/evil.com',
    '/\n/evil.com',
    '/%09/evil.com',
    'https://evil.com',
    'javascript:alert(1)',
    '/%5cevil.com',
  ];

  it.each(attacks)('refuses %j at /login with 400 invalid_return_to, or keeps the browser on the app origin', async (returnTo) => {
    const response = await h.get(`/api/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    if (response.status === 302) {
      // Accepted only when it normalised to a harmless path: the stored value must resolve on the app origin.
      const tx = response.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!.split(';')[0]!.split('=')[1]!;
      const stored = (await unsealData<{ returnTo: string }>(tx, { password: { 1: SECRET } })).returnTo;
      expect(new URL(stored, APP).origin).toBe(APP);
      expect(stored.startsWith('//')).toBe(false);
    } else {
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_return_to' });
    }
  });

  it('validates again at /callback: a stored //evil.com (an older or forged transaction) still lands on the app origin', async () => {
    const { callbackUrl, txCookie } = await h.authorize('alice');
    const state = new URL(callbackUrl).searchParams.get('state')!;
    const [name, value] = [txCookie.slice(0, txCookie.indexOf('=')), txCookie.slice(txCookie.indexOf('=') + 1)];
    const tx = await unsealData<Record<string, string>>(value, { password: { 1: SECRET } });
    const forged = await sealData({ ...tx, state, returnTo: '//evil.com/steal' }, { password: { 1: SECRET }, ttl: 600 });
    const response = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: `${name}=${forged}` } }));
    expect(response.status).toBe(200);
    expect(new URL(landingTarget(await response.text())!).origin).toBe(APP);
    // And on the provider-error path too.
    const denied = new URL(`${APP}/api/auth/callback`);
    denied.searchParams.set('error', 'access_denied');
    denied.searchParams.set('state', state);
    denied.searchParams.set('iss', h.idp.issuer);
    const forged2 = await sealData({ ...tx, state, returnTo: '/.//evil.com' }, { password: { 1: SECRET }, ttl: 600 });
    const errorResponse = await h.bff.handle(new Request(denied, { headers: { cookie: `${name}=${forged2}` } }));
    expect(errorResponse.status).toBe(302);
    const location = new URL(errorResponse.headers.get('location')!);
    expect(location.origin).toBe(APP);
    expect(location.searchParams.get('auth_error')).toBe('access_denied');
  });
});

describe('a benign stale cookie never ends the session', () => {
  it('heals a cookie whose successor never arrived (the response was lost), however late it comes back', async () => {
    const v1 = await h.signIn();
    h.age(61);
    const lost = await h.token(v1); // the browser never reads this answer: tab closed, connection dropped
    expect(sessionCookieFrom(lost)).toBeDefined();
    h.age(45); // past the grace window
    const back = await h.token(v1);
    expect(back.status).toBe(200);
    expect((await unseal(sessionCookieFrom(back)!)).v).toBeGreaterThan(1);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('answers with the rotated cookie even when the store fails right after the provider rotated', async () => {
    const store = memoryStore();
    let failDenyReads = false;
    const flaky = {
      ...store,
      get: async (k: string) => {
        if (failDenyReads && k.startsWith('latchkey:deny:')) throw new Error('store blip');
        return store.get(k);
      },
    };
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      let armed = false;
      const one = h.instance({
        store: flaky,
        // The real provider; the store starts failing the moment it has answered a refresh.
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (armed && String(init?.body ?? '').includes('grant_type=refresh_token')) failDenyReads = true;
          return response;
        },
      });
      const cookie = await h.signIn();
      expect((await one.token(cookie)).status).toBe(200); // adopted: the ledger exists now
      h.age(61);
      armed = true;
      const response = await one.token(cookie);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'store_unavailable' });
      const rotated = sessionCookieFrom(response);
      expect(rotated).toBeDefined();
      expect((await unseal(rotated!)).v).toBeGreaterThan((await unseal(cookie)).v);
    } finally {
      errors.mockRestore();
    }
  });

  it('heals cookie v1 on every send inside the grace window, however many rotations happened since', async () => {
    const v1 = await h.signIn();
    h.age(20);
    const statuses: number[] = [];
    const versions: number[] = [];
    for (let send = 0; send < 4; send++) {
      // minValidity 60 > what the cached token has left after 20 s: every send would refresh.
      const response = await h.token(v1, { minValidity: 60 });
      statuses.push(response.status);
      const cookie = sessionCookieFrom(response);
      versions.push(cookie ? (await unseal(cookie)).v : 1);
      h.age(5);
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(versions[versions.length - 1]).toBeGreaterThan(1);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('answers 50 concurrent sends of v1 with minValidity 86400 with 200, one upstream refresh, and the real expiresIn', async () => {
    const v1 = await h.signIn();
    h.age(61);
    const v2 = sessionCookieFrom(await h.token(v1))!;
    expect((await unseal(v2)).v).toBe(2);
    h.age(20); // v1 was superseded 20 s ago: inside the 30 s grace window
    const before = await h.idp.stats();
    const responses = await Promise.all(Array.from({ length: 50 }, () => h.token(v1, { minValidity: 86_400 })));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ expiresIn: number; accessToken: string }>));
    expect(new Set(bodies.map((b) => b.accessToken)).size).toBe(1);
    expect(Math.max(...bodies.map((b) => b.expiresIn))).toBeLessThanOrEqual(60);
    const after = await h.idp.stats();
    expect(after.grants.refresh_token - before.grants.refresh_token).toBe(1);
    expect(after.reuseDetected).toBe(before.reuseDetected);
  });

  it('reports a healed stale cookie as stale_cookie_healed with its age, so a thief racing the owner shows', async () => {
    const v1 = await h.signIn();
    h.age(61);
    const v2 = sessionCookieFrom(await h.token(v1))!;
    // The owner uses v2; 7 s later somebody still sends v1.
    expect((await h.token(v2)).status).toBe(200);
    h.age(7);
    await h.token(v1);
    const event = h.events.findLast((e) => e.type === 'stale_cookie_healed') as Extract<BffEvent, { type: 'stale_cookie_healed' }>;
    expect(event).toMatchObject({ fromVersion: 1, toVersion: 2 });
    expect(event.ageMs).toBeGreaterThanOrEqual(7_000);
    expect(event.ageMs).toBeLessThan(8_000);
  });
});

describe('signing in again in the same browser', () => {
  it('keeps the new session refreshing although the provider shares one grant per browser, and ends the old cookie', async () => {
    const browser = new Jar();
    const old = await h.signIn('alice', undefined, browser);
    // The browser sends its old session cookie to /login and /callback, as a real one does.
    const { callbackUrl, txCookie, login } = await h.authorize('alice', browser, `__Host-latchkey=${old}`);
    expect(cleared(login)).toBe(true);
    const callback = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: `${txCookie}; __Host-latchkey=${old}` } }));
    expect(callback.status).toBe(200);
    const fresh = sessionCookieFrom(callback)!;
    h.age(61);
    const refreshed = await h.token(fresh);
    expect(refreshed.status).toBe(200);
    h.age(61);
    expect((await h.token(sessionCookieFrom(refreshed)!)).status).toBe(200);
    const replay = await h.token(old);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'session_revoked' });
    // Revoked upstream too: a restarted memory-store BFF, which forgot the denylist, cannot revive it.
    const restarted = h.instance({ store: memoryStore() });
    expect((await restarted.token(old)).status).toBe(401);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('ends a session that appeared during the sign-in only locally, so the shared grant and the new session survive', async () => {
    const browser = new Jar();
    const { callbackUrl, txCookie } = await h.authorize('alice', browser);
    // Another tab signed in meanwhile: its cookie arrives at this callback, not at this /login.
    const other = await h.signIn('alice', undefined, browser);
    const callback = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: `${txCookie}; __Host-latchkey=${other}` } }));
    const fresh = sessionCookieFrom(callback)!;
    h.age(61);
    expect((await h.token(fresh)).status).toBe(200);
    expect((await h.token(other)).status).toBe(401);
  });

  it('never ends a session on a /login that is no person’s navigation (a prefetch, an image)', async () => {
    const cookie = await h.signIn();
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'same-origin', 'sec-purpose': 'prefetch' },
      // A sibling site on the same registrable domain receives the Strict cookie too.
      { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'same-site' },
      {},
    ]) {
      const login = await h.get('/api/auth/login', `__Host-latchkey=${cookie}`, headers);
      expect(login.status).toBe(302);
      expect(cleared(login)).toBe(false);
    }
    expect((await h.token(cookie)).status).toBe(200);
  });

  it('lets two sign-ins in two tabs of one browser both complete: transactions are keyed by state', async () => {
    const [a, b] = [await h.authorize('alice'), await h.authorize('bob')];
    const both = `${a.txCookie}; ${b.txCookie}`;
    // A cross-site callback with an unknown state leaves both sign-ins alone.
    const stray = await h.get(`/api/auth/callback?code=x&state=${'A'.repeat(43)}`, both);
    expect(stray.status).toBe(400);
    expect(stray.headers.getSetCookie()).toEqual([]);
    const second = await h.bff.handle(new Request(b.callbackUrl, { headers: { cookie: both } }));
    const first = await h.bff.handle(new Request(a.callbackUrl, { headers: { cookie: both } }));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await unseal(sessionCookieFrom(first)!)).user.sub).toBe('alice');
  });

  it('answers a duplicate code parameter with 400 invalid_request', async () => {
    const { callbackUrl, txCookie } = await h.authorize('alice');
    const response = await h.bff.handle(new Request(`${callbackUrl}&code=second`, { headers: { cookie: txCookie } }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('revocation is durable', () => {
  it('forgets no logout across a restart of a BFF on the memory store: /session, getSession() and /token all refuse the cookie', async () => {
    const cookie = await h.signIn();
    expect((await h.post('/api/auth/logout', cookie)).status).toBe(200);
    // A new process: same secret, empty memory.
    const restarted = h.instance({ store: memoryStore() });
    const session = await restarted.bff.handle(new Request(`${APP}/api/auth/session`, { headers: { cookie: `__Host-latchkey=${cookie}` } }));
    expect(await session.json()).toEqual({ authenticated: false });
    expect(await restarted.bff.getSession(`__Host-latchkey=${cookie}`)).toBeUndefined();
    expect((await restarted.token(cookie)).status).toBe(401);
  });

  it('still shows a live session as signed in after such a restart, confirmed with the provider, and its cookie keeps working', async () => {
    const cookie = await h.signIn('bob');
    const restarted = h.instance({ store: memoryStore() });
    // A server component first: it cannot set cookies, so the browser's cookie must keep working after.
    expect(await restarted.bff.getSession(`__Host-latchkey=${cookie}`)).toMatchObject({ sub: 'bob' });
    const token = await restarted.token(cookie);
    expect(token.status).toBe(200);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('with confirmUnknown: false (server components), takes a family another instance knows on its cookie\'s word, refreshing nothing, so the browser\'s cookie stays good there', async () => {
    const cookie = await h.signIn('bob');
    // A second instance with a memory of its own, as a cold server behind a load balancer.
    const cold = h.instance({ store: memoryStore() });
    const before = (await h.idp.stats()).grants.refresh_token;
    expect(await cold.bff.findSession(`__Host-latchkey=${cookie}`, { confirmUnknown: false })).toMatchObject({ sub: 'bob' });
    expect((await h.idp.stats()).grants.refresh_token).toBe(before);
    // The instance that knows the family still serves the browser's cookie: nothing was spent.
    h.age(61);
    expect((await h.token(cookie)).status).toBe(200);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
    // A logout the cold instance knows of still counts: its denylist is read first.
    expect((await cold.bff.handle(new Request(`${APP}/api/auth/logout`, { method: 'POST', headers: { cookie: `__Host-latchkey=${cookie}`, 'x-latchkey': '1', 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } }))).status).toBe(200);
    expect(await cold.bff.findSession(`__Host-latchkey=${cookie}`, { confirmUnknown: false })).toBeNull();
  });

  it('reports a sign-in that fails after the code was redeemed (the store down as the family starts) as sign_in_failed, like every other failed sign-in', async () => {
    const store = memoryStore();
    const down: typeof store = { ...store, set: (name, ...rest) => (name.includes(':fam:') ? Promise.reject(new Error('store down')) : store.set(name, ...rest)) };
    const { callbackUrl, txCookie } = await h.authorize('alice');
    const before = h.events.length;
    const response = await h.instance({ store: down }).bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(h.events.slice(before).filter((e) => e.type === 'sign_in_failed')).toEqual([{ type: 'sign_in_failed', outcome: 'failure', error: expect.any(String) }]);
  });

  it('signs out even while the store is down: 200, cookie cleared, and the refresh token revoked upstream', async () => {
    const store = memoryStore();
    let down = false;
    const failing = Object.fromEntries(
      Object.entries(store).map(([name, fn]) => [name, (...args: unknown[]) => (down ? Promise.reject(new Error('store down')) : (fn as (...a: unknown[]) => unknown)(...args))]),
    ) as unknown as typeof store;
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const one = h.instance({ store: failing });
      const first = await one.token(await h.signIn());
      expect(first.status).toBe(200);
      const cookie = sessionCookieFrom(first)!; // adopted: the newest cookie
      down = true;
      const logout = await postTo(one.bff, '/api/auth/logout', cookie);
      expect(logout.status).toBe(200);
      expect(cleared(logout)).toBe(true);
      down = false;
      // The newest refresh token is dead at the provider: the cookie cannot come back to life.
      h.age(61);
      expect((await one.token(cookie)).status).toBe(401);
    } finally {
      errors.mockRestore();
    }
  });

  it('"sign out everywhere" also finds a family adopted after a memory-store restart', async () => {
    const cookie = await h.signIn('bob');
    const restarted = h.instance({ store: memoryStore() });
    expect((await restarted.token(cookie)).status).toBe(200);
    expect(await restarted.bff.revokeUser('bob')).toBeGreaterThanOrEqual(1);
    expect((await restarted.token(cookie)).status).toBe(401);
  });

  it('keeps a denylist entry however much anonymous traffic tries to push it out of the memory store', async () => {
    const small = h.instance({ store: memoryStore({ maxEntries: 50 }), trustProxy: 1, rateLimits: { anonymousPerIp: { limit: 1, windowSeconds: 60 } } });
    const cookie = await h.signIn();
    // Sign-in went through h's store; move the family to this instance by using it once.
    expect((await small.token(cookie)).status).toBe(200);
    expect((await postTo(small.bff, '/api/auth/logout', cookie)).status).toBe(200);
    for (let i = 0; i < 500; i++) await small.token(`junk${i}`, {}, { 'x-forwarded-for': `10.9.${i >> 8}.${i & 255}` });
    const replay = await small.token(cookie);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'session_revoked' });
  });

  it('denylists the family when the provider answers invalid_grant, so no instance asks the provider again', async () => {
    const cookie = await h.signIn();
    const { rt } = await unseal(cookie);
    // Revoked behind the BFF's back (at the provider's admin console, say).
    await fetch(`${h.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`)}` },
      body: new URLSearchParams({ token: rt, token_type_hint: 'refresh_token' }),
    });
    h.age(61);
    const expired = await h.token(cookie);
    expect(await expired.json()).toMatchObject({ error: 'session_expired' });
    const before = await h.idp.stats();
    const again = await h.token(cookie);
    expect(again.status).toBe(401);
    expect((await h.idp.stats()).grants.refresh_token).toBe(before.grants.refresh_token);
    expect(await h.bff.getSession(`__Host-latchkey=${cookie}`)).toBeUndefined();
  });

  it('never hands out a token after the family was revoked, even when the revocation lands during the refresh', async () => {
    let results = 0;
    for (let attempt = 0; attempt < 8; attempt++) {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The provider is real; only its answers to refresh grants are held back until the logout is in.
      const store = memoryStore();
      const other = h.instance({ store });
      const slow = h.instance({
        store,
        fetch: async (input, init) => {
          const body = init?.body instanceof URLSearchParams ? init.body.toString() : String(init?.body ?? '');
          const response = await fetch(input, init);
          if (body.includes('grant_type=refresh_token')) await gate;
          return response;
        },
      });
      const cookie = await h.signIn();
      h.age(61);
      const pending = slow.token(cookie);
      await new Promise((r) => setTimeout(r, 20));
      expect((await postTo(other.bff, '/api/auth/logout', cookie)).status).toBe(200);
      release();
      const response = await pending;
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'session_revoked' });
      results += 1;
    }
    expect(results).toBe(8);
  });
});

describe('one refresh at a time', () => {
  it('joins concurrent requests of one instance into one flight: the store lock is asked for once, not by every request', async () => {
    const store = memoryStore();
    let lockAttempts = 0;
    const counting = { ...store, setIfAbsent: (...args: Parameters<typeof store.setIfAbsent>) => ((lockAttempts += 1), store.setIfAbsent(...args)) };
    const one = h.instance({ store: counting });
    const cookie = await h.signIn();
    const responses = await Promise.all(Array.from({ length: 20 }, () => one.token(cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(lockAttempts).toBe(1);
  });
});

describe('provider faults', () => {
  it('answers a wrong client secret with 500 configuration_error, logged once with the provider’s code', async () => {
    const cookie = await h.signIn();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const wrong = h.instance({ clientSecret: 'not-the-secret' });
      h.age(61);
      const first = await wrong.token(cookie);
      const second = await wrong.token(cookie);
      for (const response of [first, second]) {
        expect(response.status).toBe(500);
        expect(await response.json()).toMatchObject({ error: 'configuration_error', error_description: expect.stringMatching(/invalid_client/) });
        expect(cleared(response)).toBe(false);
      }
      const logged = errors.mock.calls.filter((call) => String(call[0]).includes('configuration error'));
      expect(logged).toHaveLength(1);
      expect(String(logged[0]![0])).toMatch(/invalid_client/);
      // The session itself is fine: with the right secret it refreshes.
      expect((await h.token(cookie)).status).toBe(200);
    } finally {
      errors.mockRestore();
    }
  });

  it('answers discovery that cannot be parsed, an issuer mismatch and a 404 token endpoint with 500 configuration_error; a 5xx stays 503', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const junk = await serve(() => ({ status: 200, body: '<html>not json</html>', type: 'text/html' }));
    const mismatch = await serve(() => ({ status: 200, body: JSON.stringify({ issuer: 'https://someone-else.example', authorization_endpoint: 'x' }) }));
    const missingToken = await serve((path, issuer) =>
      path.startsWith('/.well-known')
        ? { status: 200, body: JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/nope`, jwks_uri: `${issuer}/jwks` }) }
        : { status: 404, body: 'not found', type: 'text/plain' },
    );
    const down = await serve((path, issuer) =>
      path.startsWith('/.well-known')
        ? { status: 200, body: JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }) }
        : { status: 502, body: 'bad gateway', type: 'text/plain' },
    );
    try {
      const cookie = await h.signIn();
      const at = (issuer: string) =>
        createBff({ issuer, clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, appOrigin: APP, cookieSecret: SECRET, allowInsecureHttp: true, onEvent: () => {} });
      for (const issuer of [junk.issuer, mismatch.issuer]) {
        const login = await at(issuer).handle(new Request(`${APP}/api/auth/login`));
        expect(login.status).toBe(500);
        expect(await login.json()).toMatchObject({ error: 'configuration_error' });
      }
      const notFound = await postTo(at(missingToken.issuer), '/api/auth/token', cookie);
      expect(notFound.status).toBe(500);
      expect(await notFound.json()).toMatchObject({ error: 'configuration_error', error_description: expect.stringMatching(/http_404/) });
      const outage = await postTo(at(down.issuer), '/api/auth/token', cookie);
      expect(outage.status).toBe(503);
      expect(outage.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(cleared(outage)).toBe(false);
    } finally {
      errors.mockRestore();
      await Promise.all([junk.close(), mismatch.close(), missingToken.close(), down.close()]);
    }
  });

  it('shares a provider failure for a moment: a second request meeting it does not call the provider again', async () => {
    let calls = 0;
    const down = await serve((path, issuer) => {
      if (path.startsWith('/.well-known')) return { status: 200, body: JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token` }) };
      calls += 1;
      return { status: 503, body: 'down', type: 'text/plain' };
    });
    try {
      const cookie = await h.signIn();
      const bff = createBff({ issuer: down.issuer, clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, appOrigin: APP, cookieSecret: SECRET, allowInsecureHttp: true, onEvent: () => {} });
      expect((await postTo(bff, '/api/auth/token', cookie)).status).toBe(503);
      expect((await postTo(bff, '/api/auth/token', cookie)).status).toBe(503);
      expect(calls).toBe(1);
    } finally {
      await down.close();
    }
  });
});

describe('Redis faults', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  it('answers 503 store_unavailable with Retry-After within the deadline while Redis is stopped, keeps the cookie, and recovers by itself', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const onRedis = h.instance({ store: redisStore({ client: await redis.client() }), storeTimeoutMs: 300, trustProxy: 1, rateLimits: undefined });
    const cookie = await h.signIn();
    expect((await onRedis.token(cookie)).status).toBe(200);
    redis.pause();
    try {
      const started = performance.now();
      const responses = await Promise.all([
        onRedis.token(cookie),
        onRedis.bff.handle(new Request(`${APP}/api/auth/session`, { headers: { cookie: `__Host-latchkey=${cookie}` } })),
        // /login counts the client's address against its limit in the store.
        onRedis.bff.handle(new Request(`${APP}/api/auth/login`, { headers: { 'x-forwarded-for': '198.51.100.9' } })),
      ]);
      // Each request makes a few store calls, each bounded by 300 ms: far from Redis's 20-40 s hang.
      expect(performance.now() - started).toBeLessThan(3_000);
      for (const response of responses) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await response.json()).toMatchObject({ error: 'store_unavailable' });
        expect(cleared(response)).toBe(false);
      }
    } finally {
      redis.resume();
      errors.mockRestore();
    }
    // Back without anyone's help: the same cookie gets a token.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await onRedis.token(cookie)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it('forgets no logout across a restart of a BFF on Redis', async () => {
    const first = h.instance({ store: redisStore({ client: await redis.client() }) });
    const cookie = await h.signIn();
    expect((await first.token(cookie)).status).toBe(200);
    expect((await postTo(first.bff, '/api/auth/logout', cookie)).status).toBe(200);
    const restarted = h.instance({ store: redisStore({ client: await redis.client() }) });
    expect(await restarted.bff.getSession(`__Host-latchkey=${cookie}`)).toBeUndefined();
    expect((await restarted.token(cookie)).status).toBe(401);
  });

  it('gives up waiting for a lock a crashed instance left behind: 503 at the waiter deadline, not a hang', async () => {
    const client = await redis.client();
    const onRedis = h.instance({ store: redisStore({ client }), upstreamTimeoutMs: 500 });
    const cookie = await h.signIn();
    const { fid } = await unseal(cookie);
    await client.set(`latchkey:lock:${fid}`, 'a crashed instance', { expiration: { type: 'PX', value: 60_000 } });
    h.age(61);
    const started = performance.now();
    const response = await onRedis.token(cookie);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'upstream_unavailable' });
    expect(performance.now() - started).toBeLessThan(5_000);
  }, 15_000);
});

describe('HTTP hygiene', () => {
  it('sends nosniff and no-store on every answer, and Referrer-Policy: no-referrer from the callback', async () => {
    const cookie = await h.signIn();
    const responses = [
      await h.get('/api/auth/login'),
      await h.get('/api/auth/callback?code=x&state=y'),
      await h.get(`/api/auth/session`, `__Host-latchkey=${cookie}`),
      await h.token(cookie),
      await h.token(undefined),
      await h.get('/api/auth/nope'),
      await h.post('/api/auth/logout', cookie),
    ];
    for (const response of responses) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    }
    expect(responses[1]!.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('answers a body over 4 KB with 413 and a body that never ends with 408 within the body deadline', async () => {
    const cookie = await h.signIn();
    const big = await h.token(cookie, { pad: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    const hasty = h.instance({ bodyTimeoutMs: 300 });
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"minValidity":'));
      },
    });
    const started = performance.now();
    const response = await postTo(hasty.bff, '/api/auth/token', cookie, endless);
    expect(response.status).toBe(408);
    expect(await response.json()).toMatchObject({ error: 'request_timeout' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect((await h.token(cookie)).status).toBe(200);
  });

  it('keeps the client secret and cookie passwords off bff.config', () => {
    const text = JSON.stringify(h.bff.config);
    expect(text).not.toContain(DEMO_CLIENT_SECRET);
    expect(text).not.toContain(SECRET);
    expect('clientSecret' in h.bff.config).toBe(false);
    expect('passwords' in h.bff.config).toBe(false);
    expect(Object.isFrozen(h.bff.config)).toBe(true);
  });
});

describe('logout ends the provider session too', () => {
  it('sends id_token_hint, and after following the logout URL the provider asks for credentials again', async () => {
    const browser = new Jar();
    const cookie = await h.signIn('alice', undefined, browser);
    const { endSessionUrl } = (await (await h.post('/api/auth/logout', cookie)).json()) as { endSessionUrl: string };
    expect(new URL(endSessionUrl).searchParams.get('id_token_hint')).toBeTruthy();
    // The provider's logout page auto-submits a form; submit it as the browser would.
    const page = await fetch(endSessionUrl, { redirect: 'manual', headers: { cookie: browser.header() } });
    browser.store(page);
    const html = await page.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    expect(action).toBeTruthy();
    const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const done = await fetch(new URL(action!.replaceAll('&amp;', '&'), endSessionUrl), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: browser.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    browser.store(done);
    expect(done.status).toBe(303);
    // A new sign-in now meets the provider's login form instead of coming straight back.
    const login = await h.get('/api/auth/login');
    let url = login.headers.get('location')!;
    let sawForm = false;
    for (let hop = 0; hop < 10 && !url.startsWith(`${APP}/`); hop++) {
      const response = await fetch(url, { redirect: 'manual', headers: { cookie: browser.header() } });
      browser.store(response);
      if (response.status >= 300 && response.status < 400) url = new URL(response.headers.get('location')!, url).href;
      else {
        sawForm = /name="password"/.test(await response.text());
        break;
      }
    }
    expect(sawForm).toBe(true);
  });
});

describe('the refresh lock and the state it guards', () => {
  /** The store as one instance sees it, paused right after its first read until `gate` opens. */
  function pausedAfterFirstRead(store: BffStore, gate: Promise<void>, reached: () => void): BffStore {
    let reads = 0;
    return {
      ...store,
      getMany: async (keys) => {
        const values = await store.getMany(keys);
        if (++reads === 1) {
          reached();
          await gate;
        }
        return values;
      },
    };
  }

  it('reads the family again with the lock: a rotation another instance made meanwhile is taken, not redone', async () => {
    const shared = memoryStore();
    const h = await startHarness({}, { store: shared, rateLimits: false });
    try {
      const cookie = await h.signIn();
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let reached!: () => void;
      const atGate = new Promise<void>((resolve) => (reached = resolve));
      const other = h.instance({ store: pausedAfterFirstRead(shared, gate, reached) });
      h.age(301);
      const before = await h.idp.stats();
      // The other instance reads the family (its token is due) and stops there...
      const late = other.token(cookie, { minValidity: 300 });
      await atGate;
      // ...while this one refreshes and rotates.
      expect((await h.token(cookie, { minValidity: 300 })).status).toBe(200);
      open();
      const answer = await late;
      expect(answer.status).toBe(200);
      expect(sessionCookieFrom(answer)).toBeDefined(); // healed to the rotation made meanwhile
      const after = await h.idp.stats();
      expect(after.grants.refresh_token - before.grants.refresh_token).toBe(1);
      expect(after.reuseDetected).toBe(before.reuseDetected);
    } finally {
      await h.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '@latchkey/idp';
import { createBff } from './createBff.js';
import { APP, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ accessTokenTtl: 60 });
});
afterAll(() => h?.close());

describe('the code flow against the real dev provider', () => {
  it('signs in, sets a __Host- HttpOnly Secure SameSite=Strict cookie and redirects to returnTo', async () => {
    const login = await h.get('/api/auth/login?returnTo=/notes');
    expect(login.status).toBe(302);
    const location = new URL(login.headers.get('location')!);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    const tx = login.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!;
    expect(tx).toMatch(/; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/);

    const cookie = await h.signIn('alice');
    expect(cookie.length).toBeGreaterThan(100);
    expect((await h.idp.stats()).grants.authorization_code).toBeGreaterThanOrEqual(1);
    expect((await h.eventsOf(cookie)).some((e) => e.type === 'session_created')).toBe(true);
  });

  it('serves the access token from the sign-in without another upstream call', async () => {
    const cookie = await h.signIn('bob');
    const before = (await h.idp.stats()).grants.refresh_token;
    const response = await h.token(cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    const body = await response.json();
    expect(body).toMatchObject({ tokenType: 'Bearer', user: { sub: 'bob', name: 'Bob Builder' } });
    expect(body.expiresIn).toBeGreaterThan(50);
    expect(decodeJwt(body.accessToken)).toMatchObject({ sub: 'bob', aud: 'urn:latchkey:demo-api', scope: 'notes:read' });
    expect((await h.idp.stats()).grants.refresh_token).toBe(before);
  });

  it('refreshes with rotation when asked for more validity than the cached token has, and sets the rotated cookie', async () => {
    const cookie = await h.signIn('alice');
    const first = await (await h.token(cookie)).json();
    const before = (await h.idp.stats()).grants.refresh_token;
    h.age(20); // 40 s left of 60; a fresh token would give more than the 50 asked for
    const response = await h.token(cookie, { minValidity: 50 });
    expect(response.status).toBe(200);
    const second = await response.json();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await h.idp.stats()).grants.refresh_token).toBe(before + 1);
    const rotated = sessionCookieFrom(response);
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    // The rotated cookie refreshes again with the new refresh token; the provider would revoke the grant on reuse.
    h.age(61);
    const third = await h.token(rotated);
    expect(third.status).toBe(200);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('takes minValidity and idle from the query, as the Latchkey client sends them with no body', async () => {
    const cookie = await h.signIn('alice');
    await (await h.token(cookie)).json();
    const before = (await h.idp.stats()).grants.refresh_token;
    h.age(20);
    const cached = await h.post('/api/auth/token?idle=0&minValidity=30', cookie, '');
    expect(cached.status).toBe(200);
    expect(sessionCookieFrom(cached)).toBeUndefined();
    expect((await h.idp.stats()).grants.refresh_token).toBe(before);
    // More than the cached token has: the query's minValidity is what counts, so it refreshes.
    const refreshed = await h.post('/api/auth/token?idle=0&minValidity=50', cookie, '');
    expect(refreshed.status).toBe(200);
    expect((await refreshed.json()).expiresIn).toBeGreaterThan(50);
    expect(sessionCookieFrom(refreshed)).toBeDefined();
    expect((await h.idp.stats()).grants.refresh_token).toBe(before + 1);
  });

  it('answers optional=1 without any session cookie with 204 and no body, and with one as usual', async () => {
    const anonymous = await h.post('/api/auth/token?idle=0&optional=1', undefined, '');
    expect(anonymous.status).toBe(204);
    expect(await anonymous.text()).toBe('');
    expect(anonymous.headers.get('set-cookie')).toBeNull();
    // Without optional, the same request is the usual 401.
    expect((await h.post('/api/auth/token?idle=0', undefined, '')).status).toBe(401);
    const cookie = await h.signIn('alice');
    const signedIn = await h.post('/api/auth/token?idle=0&optional=1', cookie, '');
    expect(signedIn.status).toBe(200);
    expect((await signedIn.json()).accessToken).toEqual(expect.any(String));
    // A cookie that cannot be opened is news (the session is gone): 401 and the cookie cleared.
    const unreadable = await h.post('/api/auth/token?optional=1', '__Host-latchkey=garbage', '');
    expect(unreadable.status).toBe(401);
    expect(unreadable.headers.get('set-cookie')).toMatch(/^__Host-latchkey=;/);
  });

  it('sends exactly one refresh upstream for 20 concurrent /token calls with one cookie', async () => {
    const cookie = await h.signIn('alice');
    const before = (await h.idp.stats()).grants.refresh_token;
    h.age(61); // the token from the sign-in has expired
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.token(cookie)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(bodies.map((b) => b.accessToken)).size).toBe(1);
    expect((await h.idp.stats()).grants.refresh_token).toBe(before + 1);
    expect((await h.idp.stats()).reuseDetected).toBe(0);
  });

  it('heals a cookie one rotation behind inside the grace window instead of spending its refresh token', async () => {
    const cookie = await h.signIn('alice');
    h.age(61);
    const rotated = sessionCookieFrom(await h.token(cookie));
    const before = (await h.idp.stats()).grants.refresh_token;
    const stale = await h.token(cookie);
    expect(stale.status).toBe(200);
    expect(sessionCookieFrom(stale)).toBe(rotated);
    expect((await h.idp.stats()).grants.refresh_token).toBe(before);
    expect((await h.eventsOf(cookie)).filter((e) => e.type === 'stale_cookie_healed')).toHaveLength(1);
  });

  it('heals a stale cookie and then refreshes with the newer refresh token when more validity is asked for', async () => {
    const cookie = await h.signIn('alice');
    h.age(61);
    const rotated = sessionCookieFrom(await h.token(cookie));
    const before = (await h.idp.stats());
    h.age(20); // still inside the 30 s grace window; the newest token has 40 s left, 50 are asked for
    const stale = await h.token(cookie, { minValidity: 50 });
    expect(stale.status).toBe(200);
    const healed = sessionCookieFrom(stale);
    expect(healed).toBeDefined();
    expect(healed).not.toBe(rotated);
    expect((await h.idp.stats()).grants.refresh_token).toBe(before.grants.refresh_token + 1);
    expect((await h.idp.stats()).reuseDetected).toBe(before.reuseDetected);
    expect((await h.eventsOf(cookie)).filter((e) => e.type === 'stale_cookie_healed')).toHaveLength(1);
  });

  it('logout revokes the grant at the provider, clears the cookie, and the cookie then gets 401', async () => {
    const cookie = await h.signIn('alice');
    const revokedBefore = (await h.idp.stats()).revoked;
    const response = await h.post('/api/auth/logout', cookie);
    expect(response.status).toBe(200);
    expect((await response.json()).endSessionUrl).toMatch(/\/session\/end\?/);
    expect(response.headers.getSetCookie().join()).toMatch(/__Host-latchkey=; Path=\/; Max-Age=0/);
    expect((await h.idp.stats()).revoked).toBe(revokedBefore + 1);
    const after = await h.token(cookie);
    expect(after.status).toBe(401);
    expect((await after.json()).error).toBe('session_revoked');
    const session = await (await h.get('/api/auth/session', `__Host-latchkey=${cookie}`)).json();
    expect(session).toEqual({ authenticated: false });
  });

  it('GET /session tells who is signed in without any token', async () => {
    const cookie = await h.signIn('bob');
    const body = await (await h.get('/api/auth/session', `__Host-latchkey=${cookie}`)).json();
    expect(body).toEqual({ authenticated: true, user: expect.objectContaining({ sub: 'bob' }) });
    expect(JSON.stringify(body)).not.toMatch(/accessToken|refresh/i);
  });

  it('answers a callback whose state matches no sign-in of this browser with 400 missing_transaction, never a session', async () => {
    const login = await h.get('/api/auth/login');
    const tx = login.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!.split(';')[0];
    const callback = await h.get(`/api/auth/callback?code=forged&state=${'x'.repeat(43)}`, tx);
    expect(callback.status).toBe(400);
    expect((await callback.json()).error).toBe('missing_transaction');
    // The sign-in in progress is left alone: its transaction cookie is not cleared.
    expect(callback.headers.getSetCookie()).toEqual([]);
    expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
    expect(sessionCookieFrom(callback)).toBeUndefined();
  });
});

describe('sealing keys', () => {
  it('keeps sessions sealed with the old key alive after the key rotates, and seals new cookies with the new key', async () => {
    const cookie = await h.signIn('alice');
    const newSecret = 'the-next-cookie-secret-0123456789-abcdefghijklmnop';
    const rotated = createBff({
      issuer: h.idp.issuer,
      clientId: DEMO_CLIENT_ID,
      clientSecret: DEMO_CLIENT_SECRET,
      appOrigin: APP,
      cookieSecret: { 2: newSecret, 1: SECRET },
      allowInsecureHttp: true,
    });
    const oldOnly = createBff({ issuer: h.idp.issuer, clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, appOrigin: APP, cookieSecret: SECRET, allowInsecureHttp: true });
    expect(await rotated.getSession(`__Host-latchkey=${cookie}`)).toMatchObject({ sub: 'alice' });
    const post = (bff: typeof rotated, c: string) =>
      bff.handle(
        new Request(`${APP}/api/auth/token`, {
          method: 'POST',
          body: JSON.stringify({ minValidity: 3600 }),
          headers: { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin', cookie: `__Host-latchkey=${c}` },
        }),
      );
    const response = await post(rotated, cookie);
    expect(response.status).toBe(200);
    const resealed = sessionCookieFrom(response)!;
    // Sealed with key 2 now: a BFF that only knows key 1 cannot open it.
    expect(await rotated.getSession(`__Host-latchkey=${resealed}`)).toMatchObject({ sub: 'alice' });
    expect(await oldOnly.getSession(`__Host-latchkey=${resealed}`)).toBeUndefined();
  });
});

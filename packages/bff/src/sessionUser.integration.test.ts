import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BffConfig } from './config.js';
import { APP, postTo, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ accessTokenTtl: 60 });
});
afterAll(() => h?.close());

/** Signs in as a dev user through the real provider, with the callback answered by a BFF made with `options`. */
async function signInWith(options: Partial<BffConfig>, user = 'alice') {
  const instance = h.instance(options);
  const { callbackUrl, txCookie } = await h.authorize(user);
  const callback = await instance.bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
  return { ...instance, callback, cookie: sessionCookieFrom(callback) };
}

const session = async (bff: { handle(r: Request): Promise<Response> }, cookie: string) =>
  (await bff.handle(new Request(`${APP}/api/auth/session`, { headers: { cookie: `__Host-latchkey=${cookie}` } }))).json();

describe('the session user', () => {
  it('is what mapUser built, in the /token and /session answers and in getSession(), and after a refresh', async () => {
    const mapUser = vi.fn((claims: { sub: string; [claim: string]: unknown }, context: { accessToken: string; scope: string }) => ({
      sub: claims.sub,
      displayName: `${String(claims.name)} <${String(claims.email)}>`,
      verified: claims.email_verified === true,
      apiScopes: context.scope.split(' ').filter((s) => s.includes(':')),
    }));
    const { bff, token, callback, cookie } = await signInWith({ mapUser });
    expect(callback.status).toBe(200);
    const expected = { sub: 'alice', displayName: 'Alice Liddell <alice@example.test>', verified: true, apiScopes: ['notes:read'] };
    expect(mapUser).toHaveBeenCalledTimes(1);
    expect(mapUser.mock.calls[0]![0]).toMatchObject({ sub: 'alice', iss: h.idp.issuer, aud: 'latchkey-demo' });

    expect((await (await token(cookie!)).json()).user).toEqual(expected);
    expect(await session(bff, cookie!)).toEqual({ authenticated: true, user: expected });
    expect(await bff.getSession(`__Host-latchkey=${cookie}`)).toEqual(expected);

    // A refresh rotates the cookie and keeps the user as it was built at sign-in.
    h.age(61);
    const refreshed = await token(cookie!);
    expect(refreshed.status).toBe(200);
    expect((await refreshed.json()).user).toEqual(expected);
    expect(await session(bff, sessionCookieFrom(refreshed)!)).toEqual({ authenticated: true, user: expected });
    expect(mapUser).toHaveBeenCalledTimes(1);
  });

  it('carries the claims userClaims picks, of any JSON type, and sub', async () => {
    const { token, cookie } = await signInWith({ userClaims: ['email_verified', 'preferred_username'] });
    expect((await (await token(cookie!)).json()).user).toEqual({ sub: 'alice', email_verified: true, preferred_username: 'alice' });
  });

  it('keeps the display claims by default', async () => {
    const cookie = await h.signIn('bob');
    expect((await (await h.token(cookie)).json()).user).toEqual({ sub: 'bob', name: 'Bob Builder', email: 'bob@example.test', preferred_username: 'bob' });
  });

  it.each([
    ['returns a Date', { mapUser: () => ({ sub: 'alice', since: new Date() }) }, /user\.since is a Date/],
    ['returns another sub', { mapUser: () => ({ sub: 'root' }) }, /a "sub" other than the ID token's/],
    ['returns more than 2 KB', { mapUser: () => ({ sub: 'alice', blob: 'x'.repeat(3000) }) }, /over the 2048 a session cookie can carry/],
    ['throws', { mapUser: () => { throw new Error('directory down'); } }, /mapUser threw/],
  ] as const)('fails the sign-in loudly when mapUser %s: 500 configuration_error, logged, no session, the old one kept', async (_name, options, message) => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const existing = await h.signIn('alice');
      const instance = h.instance(options as Partial<BffConfig>);
      const { callbackUrl, txCookie } = await h.authorize('alice');
      const callback = await instance.bff.handle(new Request(callbackUrl, { headers: { cookie: `${txCookie}; __Host-latchkey=${existing}` } }));
      expect(callback.status).toBe(500);
      expect(await callback.json()).toEqual({ error: 'configuration_error', error_description: expect.stringMatching(message) });
      expect(sessionCookieFrom(callback)).toBeUndefined();
      expect(log.mock.calls.some((args) => message.test(String(args[0])))).toBe(true);
      // Nothing was ended: the session this browser already had still works.
      expect((await postTo(instance.bff, '/api/auth/token', existing)).status).toBe(200);
    } finally {
      log.mockRestore();
    }
  });

  it('refuses a sign-in whose session cookie would pass the 4,096 bytes browsers keep (a large user with a long refresh token)', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    // Some providers issue refresh tokens of a kilobyte or two; this one is made that long.
    const longRefreshToken: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input instanceof Request ? input.url : input).endsWith('/token')) return response;
      const body = (await response.json()) as { refresh_token: string };
      body.refresh_token = body.refresh_token.padEnd(1800, 'x');
      return Response.json(body, { status: response.status });
    };
    try {
      const user = { blob: 'x'.repeat(1900) };
      const fits = await signInWith({ mapUser: (c) => ({ sub: c.sub, ...user }) });
      expect(fits.callback.status).toBe(200);
      const { callback } = await signInWith({ fetch: longRefreshToken, mapUser: (c) => ({ sub: c.sub, ...user }) });
      expect(callback.status).toBe(500);
      expect(await callback.json()).toMatchObject({ error: 'configuration_error', error_description: expect.stringMatching(/the session cookie would be \d+ bytes, over the 4096 browsers keep/) });
      expect(sessionCookieFrom(callback)).toBeUndefined();
    } finally {
      log.mockRestore();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '@latchkey/idp';
import { createBff } from './createBff.js';
import { APP, postTo, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ accessTokenTtl: 60 });
});
afterAll(() => h?.close());

describe('provider endpoints come from discovery alone', () => {
  it('reads <issuer>/.well-known/openid-configuration and uses the endpoints it names for sign-in, refresh, revocation and logout', async () => {
    const metadata = (await (await fetch(`${h.idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    const calls: string[] = [];
    let offsetMs = 0;
    // Only what a deployment has to say: no endpoint, no JWKS URL.
    const bff = createBff({
      issuer: h.idp.issuer,
      clientId: DEMO_CLIENT_ID,
      clientSecret: DEMO_CLIENT_SECRET,
      appOrigin: APP,
      cookieSecret: SECRET,
      scope: 'openid profile email offline_access notes:read',
      onEvent: () => {},
      now: () => Date.now() + offsetMs,
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        calls.push(url.origin + url.pathname);
        return fetch(input, init);
      },
    });

    const login = await bff.handle(new Request(`${APP}/api/auth/login?returnTo=/`));
    expect(calls).toEqual([`${h.idp.issuer}/.well-known/openid-configuration`]);
    const location = new URL(login.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(metadata.authorization_endpoint);

    // The sign-in itself, with the callback answered by this BFF (the transaction cookie is sealed with the same secret).
    const { callbackUrl, txCookie } = await h.authorize('alice');
    const callback = await bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
    expect(callback.status).toBe(200);
    expect(calls.slice(1)).toEqual([metadata.token_endpoint]);

    offsetMs += 61_000;
    const refreshed = await postTo(bff, '/api/auth/token', sessionCookieFrom(callback));
    expect(refreshed.status).toBe(200);
    expect(calls.slice(2)).toEqual([metadata.token_endpoint]);

    const logout = await postTo(bff, '/api/auth/logout', sessionCookieFrom(refreshed));
    expect(calls.slice(3)).toEqual([metadata.revocation_endpoint]);
    expect((await logout.json()).endSessionUrl).toMatch(new RegExp(`^${metadata.end_session_endpoint!.replace(/[.?]/g, '\\$&')}\\?`));
    // Discovered once, kept for every later step.
    expect(calls.filter((c) => c.endsWith('/.well-known/openid-configuration'))).toHaveLength(1);
  });
});

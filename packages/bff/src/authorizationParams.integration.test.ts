import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeJwt } from 'jose';
import type { Bff } from './createBff.js';
import { APP, Jar, sessionCookieFrom, startHarness, throughProvider, type Harness } from './test/harness.js';
import { landingTarget } from './landing.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

/** `GET /login` with this query, as a person following a sign-in link. */
const login = (bff: Bff, query: string) =>
  bff.handle(new Request(`${APP}/api/auth/login?${query}`, { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'same-origin' } }));

/** Signs in through `/login?query` and the provider; answers the callback's response. */
async function signInWith(bff: Bff, query: string, jar?: Jar): Promise<{ start: Response; callback: Response }> {
  const start = await login(bff, query);
  expect(start.status, await start.clone().text()).toBe(302);
  const tx = start.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!.split(';')[0]!;
  const callbackUrl = await throughProvider(start.headers.get('location')!, 'alice', jar);
  const callback = await bff.handle(new Request(callbackUrl, { headers: { cookie: tx } }));
  return { start, callback };
}

describe('authorization parameters reach the provider', () => {
  it("sends the configured authorizationParams and the sign-in's own parameters, never letting the latter change the former, and the BFF's own last", async () => {
    const { bff } = h.instance({ authorizationParams: { audience: 'https://api.example', prompt: 'consent' } });
    // A link cannot change what the configuration sets for every sign-in.
    const overriding = await login(bff, 'returnTo=/notes&prompt=login');
    expect(overriding.status).toBe(400);
    expect(await overriding.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/"prompt" is set by this app's configuration/) });
    const response = await login(bff, 'returnTo=/notes&login_hint=alice&acr_values=urn:loa:1&ui_locales=fr%20en&max_age=600');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      audience: 'https://api.example',
      prompt: 'consent',
      login_hint: 'alice',
      acr_values: 'urn:loa:1',
      ui_locales: 'fr en',
      max_age: '600',
      client_id: 'latchkey-demo',
      redirect_uri: `${APP}/api/auth/callback`,
      response_type: 'code',
      code_challenge_method: 'S256',
      scope: 'openid profile email offline_access notes:read',
    });
    expect(location.searchParams.has('returnTo')).toBe(false);
  });

  it('adds the extra scopes a sign-in asks for when allowedScopes lists them, each once', async () => {
    const { bff } = h.instance({ allowedScopes: ['notes:write'] });
    const response = await login(bff, 'returnTo=/&scope=notes:write%20notes:write');
    expect(new URL(response.headers.get('location')!).searchParams.get('scope')).toBe('openid profile email offline_access notes:read notes:write');
  });

  it('signs in through the real provider with prompt=login, login_hint and max_age, checking auth_time', async () => {
    const jar = new Jar();
    const { callback } = await signInWith(h.bff, 'returnTo=/notes&prompt=login&login_hint=alice&max_age=600', jar);
    expect(callback.status, await callback.clone().text()).toBe(200);
    expect(landingTarget(await callback.text())).toBe(`${APP}/notes`);
    const cookie = sessionCookieFrom(callback)!;
    const token = await (await h.token(cookie)).json();
    expect(token.user.sub).toBe('alice');
    expect(decodeJwt(token.accessToken).sub).toBe('alice');
  });

  it('refuses an ID token signed in longer ago than the max_age this sign-in sent: 400 invalid_id_token, no session', async () => {
    // The provider honours max_age; this one answers with an ID token whose auth_time is an hour old.
    // (The BFF takes the ID token straight from the token endpoint over TLS and does not check its
    // signature: OIDC Core 3.1.3.7 step 6; so a rewritten payload reaches the auth_time check.)
    const staleAuthTime: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input instanceof Request ? input.url : input).endsWith('/token')) return response;
      const body = (await response.json()) as { id_token: string };
      const [header, payload, signature] = body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      claims.auth_time = Math.floor(Date.now() / 1000) - 3600;
      body.id_token = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
      return Response.json(body, { status: response.status, headers: { 'cache-control': 'no-store' } });
    };
    const { bff } = h.instance({ fetch: staleAuthTime });
    const { callback } = await signInWith(bff, 'returnTo=/&max_age=600');
    expect(callback.status).toBe(400);
    expect(await callback.json()).toMatchObject({ error: 'invalid_id_token', error_description: expect.stringMatching(/max_age/) });
    expect(sessionCookieFrom(callback)).toBeUndefined();
    // Without max_age the same answer is a sign-in: the check is max_age's, not a broken token.
    const { callback: without } = await signInWith(bff, 'returnTo=/');
    expect(without.status, await without.clone().text()).toBe(200);
  });
});

describe('bad sign-in parameters: 400 JSON naming the parameter, never 500, nothing started', () => {
  it.each([
    ['an unknown parameter, named', 'returnTo=/&organization=org_1', /"organization" is not accepted here/],
    ['a parameter the BFF owns', 'returnTo=/&redirect_uri=https://evil.example/cb', /"redirect_uri" is not accepted here/],
    ['a parameter given twice', 'returnTo=/&prompt=login&prompt=consent', /"prompt" was given more than once/],
    ['a max_age that is not digits', 'returnTo=/&max_age=soon', /"max_age" is not valid/],
    ['a prompt outside the spec', 'returnTo=/&prompt=force', /"prompt" is not valid: "force" is not one of/],
    ['a login_hint over 256 characters', `returnTo=/&login_hint=${'a'.repeat(300)}`, /"login_hint" is not valid: it is longer than 256 characters/],
    ['an extra scope when none is allowed', 'returnTo=/&scope=admin', /"scope" is not accepted here/],
  ])('%s', async (_name, query, message) => {
    const provider = vi.fn(fetch);
    const { bff } = h.instance({ fetch: provider });
    const response = await login(bff, query);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(message) });
    expect(response.headers.getSetCookie()).toEqual([]);
    // Refused before the provider is even asked for its metadata.
    expect(provider).not.toHaveBeenCalled();
  });

  it('refuses an extra scope that allowedScopes does not list, naming it', async () => {
    const { bff } = h.instance({ allowedScopes: ['notes:write'] });
    const response = await login(bff, 'returnTo=/&scope=notes:write%20admin');
    expect(response.status).toBe(400);
    expect((await response.json()).error_description).toMatch(/scope "admin" cannot be asked for at sign-in/);
  });

  it('passes a parameter the configuration allows, such as Auth0\'s organization', async () => {
    const { bff } = h.instance({ allowedLoginParams: ['organization'] });
    const response = await login(bff, 'returnTo=/&organization=org_1');
    expect(new URL(response.headers.get('location')!).searchParams.get('organization')).toBe('org_1');
    expect((await login(bff, 'returnTo=/&prompt=login')).status).toBe(400);
  });
});

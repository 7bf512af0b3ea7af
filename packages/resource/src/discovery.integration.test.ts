import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_AUDIENCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, startIdp, throughLoginForm, type RunningIdp } from '@latchkey/idp';
import { hasScope } from '@latchkey/core';
import { createVerifier } from './createVerifier.js';

const APP = 'http://localhost:3000';
const REDIRECT_URI = `${APP}/api/auth/callback`;

let idp: RunningIdp;
beforeAll(async () => {
  idp = await startIdp({ port: 0, appOrigins: [APP] });
});
afterAll(() => idp?.close());

/**
 * A real access token from the dev provider: the code flow with PKCE, walked as a browser
 * would (login form included), with every endpoint taken from discovery.
 */
async function accessToken(user = 'alice'): Promise<string> {
  const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(metadata.authorization_endpoint!);
  authorize.search = new URLSearchParams({
    client_id: DEMO_CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid offline_access notes:read',
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const url = await throughLoginForm(authorize.href, { until: REDIRECT_URI, user });
  const code = new URL(url).searchParams.get('code');
  if (!code) throw new Error(`no code in ${url}`);
  const response = await fetch(metadata.token_endpoint!, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  const tokens = (await response.json()) as { access_token?: string };
  if (!tokens.access_token) throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(tokens)}`);
  return tokens.access_token;
}

describe('createVerifier() against the real dev provider', () => {
  it('finds the JWKS through <issuer>/.well-known/openid-configuration with nothing but issuer and audience configured', { timeout: 20_000 }, async () => {
    const token = await accessToken('alice');
    const seen: string[] = [];
    const verifier = createVerifier({
      issuer: idp.issuer,
      audience: DEMO_API_AUDIENCE,
      requiredScopes: ['notes:read'],
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    });
    const result = await verifier.verify(new Request('https://api.example/notes', { headers: { authorization: `Bearer ${token}` } }));
    expect(result.ok, result.ok ? '' : await result.response.text()).toBe(true);
    if (!result.ok) return;
    expect(result.claims).toMatchObject({ sub: 'alice', iss: idp.issuer, aud: DEMO_API_AUDIENCE });
    expect(hasScope(result.claims, 'notes:read')).toBe(true);
    expect(hasScope(result.claims, 'notes:write')).toBe(false);
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    expect(seen).toEqual([`${idp.issuer}/.well-known/openid-configuration`, metadata.jwks_uri]);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '../config.js';
import { throughLoginForm } from '../loginForm.mjs';
import type { RunningIdp } from '../server.js';

export const APP = 'http://localhost:3000';
export const REDIRECT_URI = `${APP}/api/auth/callback`;

/** The token endpoint's answer to the demo client. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  expires_in: number;
  scope?: string;
}

const b64url = (buffer: Buffer) => buffer.toString('base64url');

/** HTTP Basic credentials of the demo client, as the BFF sends them. */
export const clientAuthorization = `Basic ${Buffer.from(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`).toString('base64')}`;

/**
 * Signs alice in through the real login form with code + PKCE and answers the token response;
 * `tokenHeaders` go with the code exchange (a `DPoP` proof, say).
 */
export async function signIn(idp: RunningIdp, tokenHeaders: Record<string, string> = {}): Promise<TokenResponse> {
  const verifier = b64url(randomBytes(32));
  const authorize = new URL(`${idp.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: DEMO_CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid notes:read',
    state: 'state-1',
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  }).toString();
  const url = await throughLoginForm(authorize.href, { until: REDIRECT_URI });
  const code = new URL(url).searchParams.get('code');
  if (!code) throw new Error(`no code in ${url}`);
  const token = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: clientAuthorization,
      'content-type': 'application/x-www-form-urlencoded',
      ...tokenHeaders,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  if (!token.ok) throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`);
  return token.json() as Promise<TokenResponse>;
}

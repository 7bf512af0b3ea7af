import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_AUDIENCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './config.js';
import { startIdp, type RunningIdp } from './server.js';

const APP = 'http://localhost:3000';
const REDIRECT_URI = `${APP}/api/auth/callback`;

type Jwk = { kid?: string; kty: string; n: string; e: string };

const b64url = (buffer: Buffer) => buffer.toString('base64url');
const decodeHeader = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
/** RFC 7638 thumbprint of an RSA key: SHA-256 of its required members in lexicographic order. */
const thumbprint = (jwk: Jwk) => b64url(createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest());

async function publishedKeys(idp: RunningIdp): Promise<Jwk[]> {
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  return ((await (await fetch(discovery.jwks_uri)).json()) as { keys: Jwk[] }).keys;
}

/** Signs alice in through the real login form with code + PKCE and answers the token response. */
async function signIn(idp: RunningIdp): Promise<{ access_token: string; token_type: string }> {
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
  const cookies = new Map<string, string>();
  const remember = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = authorize.href;
  for (let hop = 0; hop < 20 && !url.startsWith(REDIRECT_URI); hop++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: cookie() } });
    remember(response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url).href;
      continue;
    }
    const action = /<form method="post" action="([^"]+)"/.exec(await response.text())?.[1];
    if (!action) throw new Error(`unexpected provider page (${response.status})`);
    const submit = await fetch(new URL(action, url), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'alice' }),
    });
    remember(submit);
    url = new URL(submit.headers.get('location')!, url).href;
  }
  const code = new URL(url).searchParams.get('code');
  if (!code) throw new Error(`no code in ${url}`);
  const token = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  if (!token.ok) throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`);
  return token.json() as Promise<{ access_token: string; token_type: string }>;
}

describe('startIdp() signing keys', () => {
  let first: RunningIdp;
  let second: RunningIdp;
  beforeAll(async () => {
    first = await startIdp({ port: 0, appOrigins: [APP] });
    second = await startIdp({ port: 0, appOrigins: [APP] });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('publishes a new key under a new kid on every start, never the fixed "dev-rs256"', async () => {
    const [a] = await publishedKeys(first);
    const [b] = await publishedKeys(second);
    expect(a!.kid).not.toBe('dev-rs256');
    expect(a!.n).not.toBe(b!.n);
    expect(a!.kid).not.toBe(b!.kid);
  });

  it("names each key by its RFC 7638 thumbprint", async () => {
    for (const idp of [first, second]) {
      const keys = await publishedKeys(idp);
      expect(keys).toHaveLength(1);
      expect(keys[0]!.kid).toBe(thumbprint(keys[0]!));
    }
  });

  it('issues JWT access tokens for the demo API with typ at+jwt (RFC 9068) and the kid its JWKS publishes', async () => {
    const { access_token: accessToken } = await signIn(first);
    const header = decodeHeader(accessToken);
    const [key] = await publishedKeys(first);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: key!.kid });
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: first.issuer, aud: DEMO_API_AUDIENCE, sub: 'alice', scope: 'notes:read' });
  });
});

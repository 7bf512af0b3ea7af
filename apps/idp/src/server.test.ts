import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_API_AUDIENCE } from './config.js';
import { startIdp, type RunningIdp } from './server.js';
import { APP, signIn } from './test/signIn.js';

type Jwk = { kid?: string; kty: string; n: string; e: string };

const b64url = (buffer: Buffer) => buffer.toString('base64url');
const decodeHeader = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
/** RFC 7638 thumbprint of an RSA key: SHA-256 of its required members in lexicographic order. */
const thumbprint = (jwk: Jwk) => b64url(createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest());

async function publishedKeys(idp: RunningIdp): Promise<Jwk[]> {
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  return ((await (await fetch(discovery.jwks_uri)).json()) as { keys: Jwk[] }).keys;
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

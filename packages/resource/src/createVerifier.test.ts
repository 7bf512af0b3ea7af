import { beforeAll, describe, expect, it, vi } from 'vitest';
import { bearerChallenge } from '@latchkey/core';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createVerifier, type Verifier } from './createVerifier.js';

const ISS = 'https://idp.example';
const AUD = 'urn:api';
let sign: (claims?: Record<string, unknown>, header?: Record<string, unknown>, key?: CryptoKey) => Promise<string>;
let verifier: Verifier;
let otherKey: CryptoKey;
let keys: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  keys = createLocalJWKSet({ keys: [jwk] });
  verifier = createVerifier({ issuer: ISS, audience: AUD, requiredScopes: ['notes:read'], keys });
  sign = (claims = {}, header = {}, key = privateKey) =>
    new SignJWT({
      iss: ISS,
      aud: AUD,
      sub: 'alice',
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 300,
      scope: 'notes:read',
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt', ...header })
      .sign(key);
});

const req = (authorization?: string) => new Request('https://api.example/notes', { headers: authorization ? { authorization } : {} });

describe('createVerifier().verify()', () => {
  it('accepts a valid token and returns its claims', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign()}`));
    expect(result.ok && result.claims.sub).toBe('alice');
  });

  it('answers an expired token with 401 and WWW-Authenticate: Bearer error="invalid_token", "The access token expired"', async () => {
    const token = await sign({ exp: Math.floor(Date.now() / 1000) - 60 });
    const result = await verifier.verify(req(`Bearer ${token}`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(401);
    expect(bearerChallenge(result.response.headers.get('www-authenticate'))).toEqual({
      error: 'invalid_token',
      error_description: 'The access token expired',
    });
    expect(await result.response.json()).toEqual({ error: 'invalid_token', error_description: 'The access token expired' });
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.example' }, {}, /"iss" claim/],
    ['a wrong audience', { aud: 'urn:other' }, {}, /"aud" claim/],
    ['a token not valid yet', { nbf: Math.floor(Date.now() / 1000) + 600 }, {}, /not valid yet/],
  ])('refuses %s with 401 invalid_token', async (_name, claims, header, description) => {
    const result = await verifier.verify(req(`Bearer ${await sign(claims, header)}`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(401);
    expect(result.error.code).toBe('invalid_token');
    expect(result.error.message).toMatch(description);
  });

  it('refuses a token signed by another key', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign({}, {}, otherKey)}`));
    expect(!result.ok && result.error.message).toBe('The access token signature is invalid');
  });

  it('refuses alg "none" (an unsigned token)', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc({ iss: ISS, aud: AUD, sub: 'alice', exp: 9e9, scope: 'notes:read' })}.`;
    const result = await verifier.verify(req(`Bearer ${token}`));
    expect(!result.ok && result.response.status).toBe(401);
  });

  it('answers a missing scope with 403 insufficient_scope naming the scope', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign({ scope: 'openid' })}`));
    expect(!result.ok && result.response.status).toBe(403);
    expect(!result.ok && bearerChallenge(result.response.headers.get('www-authenticate'))).toMatchObject({
      error: 'insufficient_scope',
      scope: 'notes:read',
    });
  });

  it('answers no Authorization header with 401 and a bare Bearer challenge', async () => {
    const result = await verifier.verify(req());
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it.each(['Basic abc', 'Bearer', 'Bearer a b', 'Bearer "x"'])('answers a malformed header %j with 400 invalid_request', async (h) => {
    const result = await verifier.verify(req(h));
    expect(!result.ok && result.response.status).toBe(400);
    expect(!result.ok && (await result.response.json()).error).toBe('invalid_request');
  });

  it('answers garbage that looks like a token with 401 invalid_token, never a 500', async () => {
    const result = await verifier.verify(req('Bearer abc.def.ghi'));
    expect(!result.ok && result.response.status).toBe(401);
  });

  it.each([
    ['a numeric sub', { sub: 42 }, 'The access token\'s "sub" claim is not a string (got 42)'],
    ['an object sub', { sub: { id: 'alice' } }, 'The access token\'s "sub" claim is not a string (got {"id":"alice"})'],
    ['an empty sub', { sub: '' }, 'The access token\'s "sub" claim is empty'],
    ['no sub', { sub: undefined }, 'The access token has no "sub" claim'],
  ])('refuses %s with 401 invalid_token', async (_name, claims, description) => {
    const result = await verifier.verify(req(`Bearer ${await sign(claims)}`));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && bearerChallenge(result.response.headers.get('www-authenticate'))).toEqual({ error: 'invalid_token', error_description: description });
  });

  it('refuses a token issued in the future beyond the clock tolerance with 401 invalid_token', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign({ iat: Math.floor(Date.now() / 1000) + 600 })}`));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.error.code).toBe('invalid_token');
    // 599 when a second boundary falls between signing and verifying.
    expect(!result.ok && result.error.message).toMatch(/issued in the future \("iat" is (599|60\d) s ahead/);
  });

  it('accepts an iat a little ahead, within the clock tolerance', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign({ iat: Math.floor(Date.now() / 1000) + 3 })}`));
    expect(result.ok).toBe(true);
  });

  it('judges iat, exp and nbf by the injected clock', async () => {
    const token = await sign({ iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 900 });
    const later = createVerifier({ issuer: ISS, audience: AUD, keys, now: () => Date.now() + 600_000 });
    expect((await later.verify(req(`Bearer ${token}`))).ok).toBe(true);
  });

  it.each([
    ['typ "JWT"', { typ: 'JWT' }, 'The token is not an access token: its "typ" header is "JWT", not "at+jwt" (RFC 9068)'],
    ['no typ', { typ: undefined }, 'The token is not an access token: it has no "typ" header, not "at+jwt" (RFC 9068)'],
  ])('requires typ at+jwt by default: refuses %s with 401 invalid_token', async (_name, header, description) => {
    const result = await verifier.verify(req(`Bearer ${await sign({}, header)}`));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.error.message).toBe(description);
  });

  it('accepts typ "application/at+jwt", the media-type spelling of at+jwt', async () => {
    expect((await verifier.verify(req(`Bearer ${await sign({}, { typ: 'application/at+jwt' })}`))).ok).toBe(true);
  });

  it('accepts any typ with allowAnyTokenType: true', async () => {
    const loose = createVerifier({ issuer: ISS, audience: AUD, keys, allowAnyTokenType: true });
    expect((await loose.verify(req(`Bearer ${await sign({}, { typ: 'JWT' })}`))).ok).toBe(true);
    expect((await loose.verify(req(`Bearer ${await sign({}, { typ: undefined })}`))).ok).toBe(true);
  });

  it.each([
    ['scp as a list', { scope: undefined, scp: ['openid', 'notes:read'] }],
    ['scp as a space-separated string', { scope: undefined, scp: 'openid notes:read' }],
    ['scope and scp together', { scope: 'openid', scp: ['notes:read'] }],
  ])('grants the required scope through %s', async (_name, claims) => {
    const result = await verifier.verify(req(`Bearer ${await sign(claims)}`));
    expect(result.ok).toBe(true);
  });

  it('answers 403 insufficient_scope when neither scope nor scp grants the scope', async () => {
    const result = await verifier.verify(req(`Bearer ${await sign({ scope: undefined, scp: ['openid', 'notes:write'] })}`));
    expect(!result.ok && result.response.status).toBe(403);
    expect(!result.ok && result.error.code).toBe('insufficient_scope');
  });

  it.each([['none'], ['HS256']])('refuses to be configured with algorithm %s', (alg) => {
    expect(() => createVerifier({ issuer: ISS, audience: AUD, algorithms: [alg] }).check()).toThrow(/not allowed/);
  });
});

describe('createVerifier() configuration', () => {
  it('checks nothing at creation, so a build without the environment imports it fine', () => {
    expect(() => createVerifier({ issuer: undefined as unknown as string, audience: AUD })).not.toThrow();
  });

  it('answers 500 configuration_error at verify while misconfigured, logging the cause once, never a verdict on the token', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const broken = createVerifier({ issuer: undefined as unknown as string, audience: AUD, keys });
      expect(() => broken.check()).toThrow(/"issuer" is required/);
      for (let i = 0; i < 2; i++) {
        const result = await broken.verify(req(`Bearer ${await sign({})}`));
        expect(!result.ok && result.response.status).toBe(500);
        expect(!result.ok && (await result.response.json())).toEqual({ error: 'configuration_error', error_description: expect.stringMatching(/misconfigured/) });
      }
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]![0])).toMatch(/"issuer" is required/);
    } finally {
      log.mockRestore();
    }
  });
});

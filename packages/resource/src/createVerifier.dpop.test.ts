import { createHash, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { bearerChallenge, parseWwwAuthenticate } from '@latchkey/core';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTVerifyGetKey } from 'jose';
import { createVerifier, type VerifierOptions, type VerifyResult } from './createVerifier.js';
import { KeysUnavailableError } from './remoteKeys.js';

const ISS = 'https://idp.example';
const AUD = 'urn:api';
const URL_ = 'https://api.example/notes';
const ALGS = 'ES256 EdDSA RS256 PS256';
const seconds = () => Math.floor(Date.now() / 1000);
/** `ath` worked out apart from the code under test. */
const accessTokenHash = async (token: string) => createHash('sha256').update(token).digest('base64url');

interface Client {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
  alg: string;
}

let keys: JWTVerifyGetKey;
let providerKey: CryptoKey;
let client: Client;
let stranger: Client;

const makeClient = async (alg: string): Promise<Client> => {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256'), alg };
};

beforeAll(async () => {
  const provider = await generateKeyPair('RS256');
  providerKey = provider.privateKey;
  keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(provider.publicKey)), kid: 'k1', alg: 'RS256' }] });
  client = await makeClient('ES256');
  stranger = await makeClient('ES256');
});

/** An access token from the provider, bound to `jkt` unless it is `null`. */
const accessToken = (jkt: string | null = client.jkt, claims: Record<string, unknown> = {}) =>
  new SignJWT({ iss: ISS, aud: AUD, sub: 'alice', iat: seconds(), exp: seconds() + 300, scope: 'notes:read', ...(jkt !== null && { cnf: { jkt } }), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .sign(providerKey);

/** A DPoP proof for `token` on GET URL_, signed by `by` with its jwk in the header, unless overridden. */
const proof = async (token: string, o: { claims?: Record<string, unknown>; header?: Record<string, unknown>; by?: Client; key?: CryptoKey | Uint8Array } = {}) => {
  const by = o.by ?? client;
  return new SignJWT({ htm: 'GET', htu: URL_, iat: seconds(), jti: randomUUID(), ath: await accessTokenHash(token), ...o.claims })
    .setProtectedHeader({ alg: by.alg, typ: 'dpop+jwt', jwk: by.jwk, ...o.header })
    .sign(o.key ?? by.privateKey);
};

const request = (authorization: string | undefined, dpop?: string | string[], init: { method?: string; url?: string } = {}) => {
  const headers = new Headers();
  if (authorization !== undefined) headers.set('authorization', authorization);
  for (const value of [dpop ?? []].flat()) headers.append('dpop', value);
  return new Request(init.url ?? URL_, { method: init.method ?? 'GET', headers });
};

const verifierWith = (dpop: VerifierOptions['dpop'] = {}, more: Partial<VerifierOptions> = {}) =>
  createVerifier({ issuer: ISS, audience: AUD, requiredScopes: ['notes:read'], keys, dpop, ...more });

const dpopChallenge = (result: VerifyResult) => (result.ok ? undefined : parseWwwAuthenticate(result.response.headers.get('www-authenticate')).find((c) => c.scheme === 'dpop')?.params);

/** Asserts a 401 with `DPoP error="<code>"`, the description matching, and `algs`. */
const expectDPoPRefusal = async (result: VerifyResult, code: 'invalid_dpop_proof' | 'invalid_token', description: RegExp) => {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.response.status).toBe(401);
  expect(result.error.code).toBe(code);
  expect(result.error.message).toMatch(description);
  expect(dpopChallenge(result)).toEqual({ error: code, error_description: result.error.message, algs: ALGS });
  expect(bearerChallenge(result.response.headers.get('www-authenticate'))).toBeUndefined();
  expect(await result.response.json()).toEqual({ error: code, error_description: result.error.message });
};

describe('createVerifier({ dpop }).verify()', () => {
  it('accepts a DPoP-bound token with a valid proof and returns its claims, cnf included', async () => {
    const token = await accessToken();
    const result = await verifierWith().verify(request(`DPoP ${token}`, await proof(token)));
    expect(result.ok).toBe(true);
    expect(result.ok && result.claims).toMatchObject({ sub: 'alice', cnf: { jkt: client.jkt } });
  });

  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'])('accepts a proof signed with %s', async (alg) => {
    const by = await makeClient(alg);
    const token = await accessToken(by.jkt);
    expect((await verifierWith().verify(request(`DPoP ${token}`, await proof(token, { by })))).ok).toBe(true);
  });

  it('still accepts an unbound bearer token when DPoP is not required', async () => {
    expect((await verifierWith().verify(request(`Bearer ${await accessToken(null)}`))).ok).toBe(true);
  });

  it('refuses a DPoP-bound token sent as a bearer token (no proof) with 401 invalid_token, offering DPoP', async () => {
    const token = await accessToken();
    const result = await verifierWith().verify(request(`Bearer ${token}`, await proof(token)));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && bearerChallenge(result.response.headers.get('www-authenticate'))).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is bound to a DPoP key ("cnf.jkt"): send it as Authorization: DPoP <token> with a DPoP proof, not as a bearer token',
    });
    expect(dpopChallenge(result)).toEqual({ algs: ALGS });
  });

  it('refuses a DPoP-bound token sent as a bearer token even to a verifier without the dpop option', async () => {
    const plain = createVerifier({ issuer: ISS, audience: AUD, keys });
    const result = await plain.verify(request(`Bearer ${await accessToken()}`));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.error.code).toBe('invalid_token');
    expect(!result.ok && result.response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('with required: true refuses a bearer token altogether with 401 and a bare DPoP challenge', async () => {
    const result = await verifierWith({ required: true }).verify(request(`Bearer ${await accessToken(null)}`));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.response.headers.get('www-authenticate')).toBe(`DPoP algs="${ALGS}"`);
    expect(!result.ok && result.error.message).toMatch(/accepts only DPoP-bound access tokens/);
  });

  it('answers no Authorization header with both challenges, or only DPoP when it is required', async () => {
    const both = await verifierWith().verify(request(undefined));
    expect(!both.ok && both.response.headers.get('www-authenticate')).toBe(`Bearer, DPoP algs="${ALGS}"`);
    const only = await verifierWith({ required: true }).verify(request(undefined));
    expect(!only.ok && only.response.headers.get('www-authenticate')).toBe(`DPoP algs="${ALGS}"`);
  });

  it('refuses a proof signed by another key than the token is bound to (jkt mismatch) with 401 invalid_token', async () => {
    const token = await accessToken();
    const result = await verifierWith().verify(request(`DPoP ${token}`, await proof(token, { by: stranger })));
    await expectDPoPRefusal(result, 'invalid_token', /signed by another key than the one the access token is bound to/);
  });

  it('refuses an unbound token sent with the DPoP scheme with 401 invalid_token', async () => {
    const token = await accessToken(null);
    await expectDPoPRefusal(await verifierWith().verify(request(`DPoP ${token}`, await proof(token))), 'invalid_token', /not bound to a DPoP key/);
  });

  it('answers a bad token sent with the DPoP scheme with a DPoP challenge', async () => {
    const token = await accessToken(client.jkt, { exp: seconds() - 60 });
    await expectDPoPRefusal(await verifierWith().verify(request(`DPoP ${token}`, await proof(token))), 'invalid_token', /^The access token expired$/);
  });

  it('answers a missing scope with 403 and DPoP error="insufficient_scope"', async () => {
    const token = await accessToken(client.jkt, { scope: 'openid' });
    const result = await verifierWith().verify(request(`DPoP ${token}`, await proof(token)));
    expect(!result.ok && result.response.status).toBe(403);
    expect(dpopChallenge(result)).toMatchObject({ error: 'insufficient_scope', scope: 'notes:read', algs: ALGS });
  });

  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = () => seconds();
  const cases: [string, (token: string) => Promise<string | string[] | undefined>, RegExp, { method?: string; url?: string }?][] = [
    ['no DPoP header', async () => undefined, /no DPoP header/],
    ['two DPoP headers', async (t) => [await proof(t), await proof(t)], /more than one DPoP header/],
    ['a DPoP header that is not a JWT', async () => 'not a jwt', /not a JWT/],
    ['a proof that is three segments of garbage', async () => 'abc.def.ghi', /malformed/],
    ['a proof with a wrong htu (another path)', (t) => proof(t, { claims: { htu: 'https://api.example/admin' } }), /is for "https:\/\/api.example\/admin" \("htu"\), not https:\/\/api.example\/notes/],
    ['a proof with a wrong htu (another host)', (t) => proof(t, { claims: { htu: 'https://evil.example/notes' } }), /"htu"/],
    ['a proof with an htu that is no URL', (t) => proof(t, { claims: { htu: 'notes' } }), /"htu"/],
    ['a proof with a wrong htm', (t) => proof(t, { claims: { htm: 'POST' } }), /is for "POST" requests \("htm"\), not GET/],
    ['a proof for GET sent with DELETE', (t) => proof(t), /not DELETE/, { method: 'DELETE' }],
    ['a proof with a wrong ath', async (t) => proof(t, { claims: { ath: await accessTokenHash(`${t}x`) } }), /"ath" is not the hash of the access token/],
    ['a proof without ath', (t) => proof(t, { claims: { ath: undefined } }), /no "ath" claim/],
    ['a proof with a stale iat', (t) => proof(t, { claims: { iat: now() - 120 } }), /too old \("iat" is 12[01] s behind this server's clock; proofs are accepted for 60 s\)/],
    ['a proof with a future iat', (t) => proof(t, { claims: { iat: now() + 60 } }), /issued in the future \("iat" is (59|60) s ahead/],
    ['a proof without iat', (t) => proof(t, { claims: { iat: undefined } }), /no "iat" claim/],
    ['a proof without jti', (t) => proof(t, { claims: { jti: undefined } }), /no "jti" claim/],
    ['a proof with a numeric jti', (t) => proof(t, { claims: { jti: 7 } }), /"jti" is not a non-empty string \(got 7\)/],
    ['a proof with a jti over 128 characters', (t) => proof(t, { claims: { jti: 'x'.repeat(129) } }), /longer than 128 characters/],
    ['a proof without htm', (t) => proof(t, { claims: { htm: undefined } }), /no "htm" claim/],
    ['a proof whose jwk holds the private key', async (t) => proof(t, { header: { jwk: { ...client.jwk, d: (await exportJWK(client.privateKey)).d } } }), /"jwk" holds private key material \("d"\)/],
    ['a proof whose jwk holds RSA private factors without "d"', (t) => proof(t, { header: { jwk: { ...client.jwk, p: 'AQAB', q: 'AQAB' } } }), /private key material \("p", "q"\)/],
    ['a proof without jwk', (t) => proof(t, { header: { jwk: undefined } }), /no "jwk" header/],
    ['a proof signed by another key than its jwk', (t) => proof(t, { key: stranger.privateKey }), /signature does not verify/],
    ['a proof of typ "JWT"', (t) => proof(t, { header: { typ: 'JWT' } }), /"typ" header is "JWT", not "dpop\+jwt"/],
    ['a proof without typ', (t) => proof(t, { header: { typ: undefined } }), /"typ" header is undefined, not "dpop\+jwt"/],
    ['a proof with alg "none"', async (t) => `${enc({ alg: 'none', typ: 'dpop+jwt', jwk: client.jwk })}.${enc({ htm: 'GET', htu: URL_, iat: now(), jti: 'n', ath: await accessTokenHash(t) })}.`, /not a JWT|alg "none"/],
    ['a proof with alg "none" and a signature part', async (t) => `${enc({ alg: 'none', typ: 'dpop+jwt', jwk: client.jwk })}.${enc({ htm: 'GET', htu: URL_, iat: now(), jti: 'n', ath: await accessTokenHash(t) })}.AA`, /signed with alg "none", not one of ES256, EdDSA, RS256, PS256/],
    ['a proof with alg HS256', (t) => proof(t, { header: { alg: 'HS256' }, key: new TextEncoder().encode('x'.repeat(32)) }), /signed with alg "HS256", not one of/],
    ['a proof with ES384, outside the allow-list', async (t) => proof(t, { by: await makeClient('ES384') }), /signed with alg "ES384", not one of/],
  ];

  it.each(cases)('refuses %s with 401 invalid_dpop_proof, never a 500', async (_name, make, description, init) => {
    const token = await accessToken();
    const result = await verifierWith().verify(request(`DPoP ${token}`, await make(token), init));
    await expectDPoPRefusal(result, 'invalid_dpop_proof', description);
  });

  it('refuses a replayed proof (same jti, same key) with 401 invalid_dpop_proof', async () => {
    const verifier = verifierWith();
    const token = await accessToken();
    const once = await proof(token);
    expect((await verifier.verify(request(`DPoP ${token}`, once))).ok).toBe(true);
    await expectDPoPRefusal(await verifier.verify(request(`DPoP ${token}`, once)), 'invalid_dpop_proof', /used before \(its "jti" "[\w-]+" was seen\)/);
    expect((await verifier.verify(request(`DPoP ${token}`, await proof(token)))).ok).toBe(true);
  });

  it('refuses the replay of a proof the full in-memory cache had to drop, instead of forgetting it', async () => {
    const verifier = verifierWith({ replayCacheSize: 1 });
    const token = await accessToken();
    const first = await proof(token, { claims: { iat: seconds() - 1 } });
    expect((await verifier.verify(request(`DPoP ${token}`, first))).ok).toBe(true);
    expect((await verifier.verify(request(`DPoP ${token}`, await proof(token)))).ok).toBe(true);
    await expectDPoPRefusal(await verifier.verify(request(`DPoP ${token}`, first)), 'invalid_dpop_proof', /too old for this server to rule out a replay/);
  });

  it("keeps each key's jti apart: another client choosing the same jti is no replay", async () => {
    const verifier = verifierWith();
    const jti = randomUUID();
    const mine = await accessToken();
    const theirs = await accessToken(stranger.jkt);
    expect((await verifier.verify(request(`DPoP ${mine}`, await proof(mine, { claims: { jti } })))).ok).toBe(true);
    expect((await verifier.verify(request(`DPoP ${theirs}`, await proof(theirs, { by: stranger, claims: { jti } })))).ok).toBe(true);
  });

  it('records a proof only once it passed: one refused for a key outage (503) is accepted when sent again', async () => {
    let down = true;
    const flaky: JWTVerifyGetKey = (header, token) => {
      if (down) throw new KeysUnavailableError('its JWKS answered HTTP 503', 'The JWKS answered HTTP 503.');
      return keys(header, token);
    };
    const verifier = verifierWith({}, { keys: flaky });
    const token = await accessToken();
    const once = await proof(token);
    const first = await verifier.verify(request(`DPoP ${token}`, once));
    expect(!first.ok && first.response.status).toBe(503);
    down = false;
    expect((await verifier.verify(request(`DPoP ${token}`, once))).ok).toBe(true);
  });

  it('compares htu after normalising: scheme and host case, default port, query, fragment and percent-encoding', async () => {
    const token = await accessToken();
    const signed = 'HTTPS://API.Example:443/%7enotes?signed=1#frag';
    const result = await verifierWith().verify(request(`DPoP ${token}`, await proof(token, { claims: { htu: signed } }), { url: 'https://api.example/~notes?other=2' }));
    expect(result.ok).toBe(true);
  });

  it('checks htu against dpop.htu(request) behind a proxy, where request.url is the internal URL', async () => {
    const token = await accessToken();
    const internal = { url: 'http://127.0.0.1:3000/notes' };
    const plain = await verifierWith().verify(request(`DPoP ${token}`, await proof(token), internal));
    expect(!plain.ok && plain.error.message).toMatch(/not http:\/\/127.0.0.1:3000\/notes/);
    const proxied = verifierWith({ htu: (r) => `https://api.example${new URL(r.url).pathname}` });
    expect((await proxied.verify(request(`DPoP ${token}`, await proof(token), internal))).ok).toBe(true);
  });

  it('answers 500 configuration_error when dpop.htu answers something that is not a URL, logging why', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const token = await accessToken();
      const result = await verifierWith({ htu: () => 'api.example/notes' }).verify(request(`DPoP ${token}`, await proof(token)));
      expect(!result.ok && result.response.status).toBe(500);
      expect(!result.ok && result.error.code).toBe('configuration_error');
      expect(String(log.mock.calls[0]![0])).toMatch(/"dpop.htu" answered "api.example\/notes"/);
    } finally {
      log.mockRestore();
    }
  });

  it('accepts a proof whose iat is a little ahead, within clockToleranceSeconds', async () => {
    const token = await accessToken();
    expect((await verifierWith().verify(request(`DPoP ${token}`, await proof(token, { claims: { iat: seconds() + 3 } })))).ok).toBe(true);
  });

  it('accepts an older proof when maxAgeSeconds allows it', async () => {
    const token = await accessToken();
    const result = await verifierWith({ maxAgeSeconds: 300 }).verify(request(`DPoP ${token}`, await proof(token, { claims: { iat: seconds() - 120 } })));
    expect(result.ok).toBe(true);
  });

  it('asks a shared seen() store with the key thumbprint and jti, until the proof leaves the iat window', async () => {
    const calls: [string, number][] = [];
    const recorded = new Set<string>();
    const seen = (id: string, expiresAt: number) => {
      calls.push([id, expiresAt]);
      return recorded.has(id) || (recorded.add(id), false);
    };
    const verifier = verifierWith({ seen });
    const token = await accessToken();
    const iat = seconds();
    const once = await proof(token, { claims: { iat, jti: 'j-1' } });
    expect((await verifier.verify(request(`DPoP ${token}`, once))).ok).toBe(true);
    expect(calls).toEqual([[`${client.jkt}:j-1`, (iat + 60 + 5) * 1000]]);
    await expectDPoPRefusal(await verifier.verify(request(`DPoP ${token}`, once)), 'invalid_dpop_proof', /used before/);
  });

  it('answers 503 store_unavailable with Retry-After when the seen() store fails, not a verdict on the token', async () => {
    const verifier = verifierWith({ seen: async () => Promise.reject(new Error('ECONNREFUSED')) });
    const token = await accessToken();
    const result = await verifier.verify(request(`DPoP ${token}`, await proof(token)));
    expect(!result.ok && result.response.status).toBe(503);
    expect(!result.ok && result.error.code).toBe('store_unavailable');
    expect(!result.ok && result.response.headers.get('retry-after')).toBe('5');
  });

  it('answers the DPoP scheme with 400 invalid_request when the dpop option is not set', async () => {
    const token = await accessToken();
    const result = await createVerifier({ issuer: ISS, audience: AUD, keys }).verify(request(`DPoP ${token}`, await proof(token)));
    expect(!result.ok && result.response.status).toBe(400);
    expect(!result.ok && result.error.message).toBe('The Authorization header is not of the form "Bearer <token>".');
  });
});

describe('createVerifier({ dpop }) configuration', () => {
  it.each<[string, VerifierOptions['dpop'], RegExp]>([
    ['maxAgeSeconds 0', { maxAgeSeconds: 0 }, /"dpop.maxAgeSeconds" must be a whole number of seconds above 0, got 0/],
    ['replayCacheSize 1.5', { replayCacheSize: 1.5 }, /"dpop.replayCacheSize" must be a whole number above 0, got 1.5/],
    ['seen and replayCacheSize together', { seen: () => false, replayCacheSize: 10 }, /not both/],
    ['htu that is no function', { htu: 'https://api.example' as unknown as () => string }, /"dpop.htu" must be a function/],
  ])('refuses %s at check()', (_name, dpop, message) => {
    expect(() => verifierWith(dpop).check()).toThrow(message);
  });
});

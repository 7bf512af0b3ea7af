import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDpopKey, DpopProver, isDpopNonceError, nonceOf, type DpopPublicJwk } from './dpop.js';

type Parts = { header: Record<string, unknown>; payload: Record<string, unknown> };

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;

/** Checks a proof the way a server does, with node:crypto: the signature by the header's own key. */
function verifyProof(jwt: string): Parts {
  const [h, p, s, ...rest] = jwt.split('.');
  expect(rest).toHaveLength(0);
  const header = decode(h!);
  const key = createPublicKey({ key: header.jwk as JsonWebKey, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
  expect(ok, 'signature verifies with the header jwk').toBe(true);
  return { header, payload: decode(p!) };
}

const NOW = 1_780_000_000_123;
const API = 'https://api.example/notes';

describe('createDpopKey()', () => {
  it('makes an ECDSA P-256 pair whose private key cannot be exported in any format', async () => {
    const pair = await createDpopKey();
    expect(pair.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(pair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', pair.privateKey)).rejects.toThrow();
    await expect(crypto.subtle.exportKey('pkcs8', pair.privateKey)).rejects.toThrow();
    // The public half stays exportable: it travels in every proof's header.
    expect(await crypto.subtle.exportKey('jwk', pair.publicKey)).toMatchObject({ kty: 'EC', crv: 'P-256' });
  });
});

describe('DpopProver.proof()', () => {
  let prover: DpopProver;
  beforeAll(async () => {
    prover = await DpopProver.create(await createDpopKey(), { now: () => NOW });
  });

  it('signs an ES256 JWS that verifies with the public key in its header', async () => {
    const { header, payload } = verifyProof(await prover.proof({ htm: 'POST', htu: 'https://idp.example/token' }));
    expect(header).toEqual({ typ: 'dpop+jwt', alg: 'ES256', jwk: prover.key.publicJwk });
    expect(payload).toEqual({ jti: expect.any(String), htm: 'POST', htu: 'https://idp.example/token', iat: Math.floor(NOW / 1000) });
  });

  it('puts only the public members kty, crv, x, y in the header, never d or key_ops', async () => {
    const { header } = verifyProof(await prover.proof({ htm: 'GET', htu: API }));
    expect(Object.keys(header.jwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });

  it('hashes the access token into ath (the RFC 9449 example value)', async () => {
    const accessToken = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
    const { payload } = verifyProof(await prover.proof({ htm: 'GET', htu: API, accessToken }));
    expect(payload.ath).toBe('fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
  });

  it('hashes each access token into its own ath when tokens alternate', async () => {
    for (const accessToken of ['token-a', 'token-b', 'token-a']) {
      const { payload } = verifyProof(await prover.proof({ htm: 'GET', htu: API, accessToken }));
      expect(payload.ath).toBe(createHash('sha256').update(accessToken).digest('base64url'));
    }
  });

  it('leaves query and fragment out of htu', async () => {
    const { payload } = verifyProof(await prover.proof({ htm: 'GET', htu: `${API}?page=2&q=x#top` }));
    expect(payload.htu).toBe(API);
    const fromUrl = verifyProof(await prover.proof({ htm: 'GET', htu: new URL('https://API.example:443/a/../notes?x') }));
    expect(fromUrl.payload.htu).toBe(API);
  });

  it('writes htm as fetch sends it: the six standard methods upper-cased, others as written', async () => {
    expect(verifyProof(await prover.proof({ htm: 'post', htu: API })).payload.htm).toBe('POST');
    expect(verifyProof(await prover.proof({ htm: 'patch', htu: API })).payload.htm).toBe('patch');
  });

  it('gives every proof its own jti of at least 16 random bytes', async () => {
    const proofs = await Promise.all(Array.from({ length: 50 }, () => prover.proof({ htm: 'GET', htu: API })));
    const jtis = proofs.map((p) => verifyProof(p).payload.jti as string);
    expect(new Set(jtis).size).toBe(50);
    for (const jti of jtis) expect(Buffer.from(jti, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('reads the injected clock on every proof, plus the server clock offset', async () => {
    let now = NOW;
    const timed = await DpopProver.create(await createDpopKey(), { now: () => now });
    now += 61_000;
    expect(verifyProof(await timed.proof({ htm: 'GET', htu: API })).payload.iat).toBe(Math.floor((NOW + 61_000) / 1000));
    timed.setClockOffset(-300_000);
    expect(verifyProof(await timed.proof({ htm: 'GET', htu: API })).payload.iat).toBe(Math.floor((NOW + 61_000 - 300_000) / 1000));
  });

  it('refuses a relative htu and a method that is not a token, quoting the value', async () => {
    await expect(prover.proof({ htm: 'GET', htu: '/notes' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"/notes"') });
    await expect(prover.proof({ htm: 'GET X', htu: API })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"GET X"') });
  });
});

describe('DpopProver nonces', () => {
  it('carries the nonce remembered for the request origin, and only for that origin', async () => {
    const prover = await DpopProver.create(await createDpopKey());
    expect(verifyProof(await prover.proof({ htm: 'GET', htu: API })).payload).not.toHaveProperty('nonce');
    prover.rememberNonce('https://api.example/any/path?q', 'n-1');
    expect(verifyProof(await prover.proof({ htm: 'GET', htu: API })).payload.nonce).toBe('n-1');
    expect(verifyProof(await prover.proof({ htm: 'POST', htu: 'https://idp.example/token' })).payload).not.toHaveProperty('nonce');
    prover.rememberNonce('https://api.example', 'n-2');
    expect(prover.nonceFor(API)).toBe('n-2');
    expect(verifyProof(await prover.proof({ htm: 'GET', htu: API })).payload.nonce).toBe('n-2');
    expect(verifyProof(await prover.proof({ htm: 'GET', htu: API, nonce: 'explicit' })).payload.nonce).toBe('explicit');
  });
});

describe('DpopProver.thumbprint()', () => {
  it('is the RFC 7638 thumbprint: the RFC 9449 example key gives the RFC 9449 example jkt', async () => {
    // RFC 9449 §4.1's key and §6.1's jkt for it; the private key here is unrelated, only the public members are hashed.
    const publicJwk: DpopPublicJwk = {
      kty: 'EC',
      crv: 'P-256',
      x: 'l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs',
      y: '9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA',
    };
    const prover = await DpopProver.create({ publicJwk, privateKey: (await createDpopKey()).privateKey });
    expect(await prover.thumbprint()).toBe('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I');
  });

  it('ignores members other than crv, kty, x, y and their order in the exported JWK', async () => {
    const pair = await createDpopKey();
    const exported = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as DpopPublicJwk & { ext?: boolean; key_ops?: string[] };
    expect(exported.key_ops).toBeDefined();
    const reordered = { y: exported.y, x: exported.x, kty: exported.kty, crv: exported.crv, ext: true } as DpopPublicJwk;
    const a = await DpopProver.create(pair);
    const b = await DpopProver.create({ publicJwk: reordered, privateKey: pair.privateKey });
    expect(await b.thumbprint()).toBe(await a.thumbprint());
    expect(await a.thumbprint()).toMatch(/^[\w-]{43}$/);
  });
});

describe('DpopProver key sharing between tabs', () => {
  it('signs with a structured clone of the non-extractable key, under the same thumbprint', async () => {
    const original = await DpopProver.create(await createDpopKey());
    // What a BroadcastChannel does to a message: the structured clone algorithm.
    const received = structuredClone(original.key);
    expect(received.privateKey.extractable).toBe(false);
    const other = await DpopProver.create(received);
    expect(await other.thumbprint()).toBe(await original.thumbprint());
    const { header } = verifyProof(await other.proof({ htm: 'GET', htu: API }));
    expect(header.jwk).toEqual(original.key.publicJwk);
  });

  it('refuses an extractable private key unless allowExtractableKey says so', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    await expect(DpopProver.create(pair)).rejects.toMatchObject({ code: 'configuration_error', message: expect.stringContaining('extractable') });
    const allowed = await DpopProver.create(pair, { allowExtractableKey: true });
    verifyProof(await allowed.proof({ htm: 'GET', htu: API }));
  });

  it('refuses a key that is not ECDSA P-256, naming what it got', async () => {
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']);
    await expect(DpopProver.create(p384)).rejects.toMatchObject({ code: 'configuration_error', message: expect.stringContaining('P-384') });
  });
});

describe('isDpopNonceError() and nonceOf()', () => {
  const response = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers });

  it("sees a resource server's 401 DPoP challenge with error=use_dpop_nonce", () => {
    expect(isDpopNonceError(response(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"' }))).toBe(true);
    expect(isDpopNonceError(response(401, { 'www-authenticate': 'Bearer realm="x", DPoP algs="ES256", error="use_dpop_nonce"' }))).toBe(true);
  });

  it("sees an authorization server's 400 JSON error use_dpop_nonce", () => {
    expect(isDpopNonceError(response(400, { 'dpop-nonce': 'n' }), { error: 'use_dpop_nonce', error_description: 'nonce is required' })).toBe(true);
  });

  it('does not mistake other answers for a nonce request', () => {
    expect(isDpopNonceError(response(401, { 'www-authenticate': 'DPoP error="invalid_token"' }))).toBe(false);
    expect(isDpopNonceError(response(401, { 'www-authenticate': 'Bearer error="use_dpop_nonce"' }))).toBe(false);
    expect(isDpopNonceError(response(401))).toBe(false);
    expect(isDpopNonceError(response(400), { error: 'invalid_dpop_proof' })).toBe(false);
    expect(isDpopNonceError(response(400))).toBe(false);
    expect(isDpopNonceError(response(403, { 'www-authenticate': 'DPoP error="use_dpop_nonce"' }), { error: 'use_dpop_nonce' })).toBe(false);
  });

  it('reads the DPoP-Nonce header', () => {
    expect(nonceOf(response(400, { 'DPoP-Nonce': 'eyJ7S_zG.eyJH0-Z.HX4w-7v' }))).toBe('eyJ7S_zG.eyJH0-Z.HX4w-7v');
    expect(nonceOf(response(200))).toBeUndefined();
  });
});

import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DPOP_HTU_HEADER } from '@latchkey/core';
import { jwkThumbprint, readDpopProof } from './dpop.js';
import { BffError } from './errors.js';
import { testDpopKey } from './test/dpopProofs.js';

const TOKEN_ENDPOINT = 'https://idp.example.com/token';
const NOW = 1_800_000_000_000;
const key = testDpopKey(() => NOW);
const requestWith = (...proofs: string[]) => {
  const headers = new Headers();
  for (const proof of proofs) headers.append('dpop', proof);
  return new Request('https://app.example.com/api/auth/token', { method: 'POST', headers });
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function refusal(request: Request): BffError {
  try {
    readDpopProof(request, TOKEN_ENDPOINT, NOW);
  } catch (error) {
    if (error instanceof BffError) return error;
    throw error;
  }
  throw new Error('the proof was accepted');
}

describe('readDpopProof()', () => {
  it('accepts a proof for POST at the token endpoint and answers its key thumbprint and jti', () => {
    const proof = key.proof({ htu: TOKEN_ENDPOINT, jti: 'one' });
    expect(readDpopProof(requestWith(proof), TOKEN_ENDPOINT, NOW)).toEqual({ jwt: proof, jkt: jwkThumbprint(key.publicJwk), jti: 'one' });
  });

  it('compares htu without query and fragment, as RFC 9449 does', () => {
    expect(readDpopProof(requestWith(key.proof({ htu: `${TOKEN_ENDPOINT}?x=1#y` })), TOKEN_ENDPOINT, NOW).jkt).toBe(jwkThumbprint(key.publicJwk));
  });

  it('accepts an iat up to 60 s either side of this server’s clock', () => {
    for (const iat of [NOW / 1000 - 60, NOW / 1000 + 60]) expect(() => readDpopProof(requestWith(key.proof({ htu: TOKEN_ENDPOINT, iat })), TOKEN_ENDPOINT, NOW)).not.toThrow();
  });

  const other = testDpopKey(() => NOW);
  const forged = (() => {
    // Signed by one key, naming another in its header.
    const [, payload, signature] = other.proof({ htu: TOKEN_ENDPOINT }).split('.');
    const [header] = key.proof({ htu: TOKEN_ENDPOINT }).split('.');
    return `${header}.${payload}.${signature}`;
  })();
  const hs256 = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${b64({ htm: 'POST', htu: TOKEN_ENDPOINT, iat: NOW / 1000, jti: 'x' })}.c2ln`;
  const none = `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${b64({ htm: 'POST', htu: TOKEN_ENDPOINT, iat: NOW / 1000, jti: 'x' })}.c2ln`;
  const { privateKey: rsaPrivate, publicKey: rsaPublic } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaJwk = rsaPublic.export({ format: 'jwk' });
  const rsaProof = (alg: string) => {
    const head = b64({ typ: 'dpop+jwt', alg, jwk: rsaJwk });
    const body = b64({ htm: 'POST', htu: TOKEN_ENDPOINT, iat: NOW / 1000, jti: 'rsa' });
    return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), rsaPrivate).toString('base64url')}`;
  };

  const cases: [string, Request, RegExp][] = [
    ['no DPoP header', requestWith(), /a DPoP header is required/],
    ['two DPoP headers', requestWith(key.proof({ htu: TOKEN_ENDPOINT }), key.proof({ htu: TOKEN_ENDPOINT })), /more than one DPoP header/],
    ['not a JWS', requestWith('not-a-jws'), /not a compact JWS/],
    ['a header that is not JSON', requestWith(`e30x.${b64({})}.c2ln`), /header is not JSON/],
    ['a payload that is an array', requestWith(`${b64({ typ: 'dpop+jwt' })}.${b64([1])}.c2ln`), /payload is not a JSON object/],
    ['typ JWT', requestWith(key.proof({ htu: TOKEN_ENDPOINT }, { typ: 'JWT' })), /typ is "JWT"/],
    ['alg none', requestWith(none), /alg "none" is not one of/],
    ['alg HS256 with a symmetric key', requestWith(hs256), /alg "HS256" is not one of/],
    ['no jwk', requestWith(key.proof({ htu: TOKEN_ENDPOINT }, { jwk: undefined })), /no jwk/],
    ['a jwk with the private key', requestWith(key.proof({ htu: TOKEN_ENDPOINT }, { jwk: { ...key.publicJwk, d: 'AAAA' } })), /private key material/],
    ['a jwk that does not fit alg', requestWith(key.proof({ htu: TOKEN_ENDPOINT }, { jwk: rsaJwk })), /does not fit alg ES256/],
    ['a jwk that is no key', requestWith(key.proof({ htu: TOKEN_ENDPOINT }, { jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } })), /not a usable public key/],
    ['a signature by another key', requestWith(forged), /signature does not verify/],
    ['RS256 verified as PS256', requestWith(rsaProof('PS256')), /signature does not verify/],
    ['htm GET', requestWith(key.proof({ htu: TOKEN_ENDPOINT, htm: 'GET' })), /htm is "GET"/],
    ['htu of another endpoint', requestWith(key.proof({ htu: 'https://idp.example.com/other' })), /htu is "https:\/\/idp\.example\.com\/other"/],
    ['htu of another origin', requestWith(key.proof({ htu: 'https://evil.example.com/token' })), /not the provider's token endpoint/],
    ['htu that is no URL', requestWith(key.proof({ htu: 'token' })), /htu is "token"/],
    ['iat 61 s ago', requestWith(key.proof({ htu: TOKEN_ENDPOINT, iat: NOW / 1000 - 61 })), /iat is 61 s from/],
    ['iat 61 s ahead', requestWith(key.proof({ htu: TOKEN_ENDPOINT, iat: NOW / 1000 + 61 })), /iat is -61 s from/],
    ['no jti', requestWith(key.proof({ htu: TOKEN_ENDPOINT, jti: '' })), /no usable jti/],
    ['an ath (a proof made for a resource)', requestWith(key.proof({ htu: TOKEN_ENDPOINT, ath: 'abc' })), /carries no ath/],
  ];

  it.each(cases)('refuses %s with 400 invalid_dpop_proof, naming the token endpoint to sign for', (_name, request, message) => {
    const error = refusal(request);
    expect(error.code).toBe('invalid_dpop_proof');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
    expect(error.headers[DPOP_HTU_HEADER]).toBe(TOKEN_ENDPOINT);
  });

  it('accepts RS256 proofs', () => {
    expect(readDpopProof(requestWith(rsaProof('RS256')), TOKEN_ENDPOINT, NOW).jkt).toBe(jwkThumbprint(rsaJwk as Record<string, unknown>));
  });
});

describe('jwkThumbprint()', () => {
  it('matches RFC 9449’s example key (EC)', () => {
    const jwk = { kty: 'EC', x: 'l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs', y: '9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA', crv: 'P-256' };
    expect(jwkThumbprint(jwk)).toBe('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I');
  });

  it('matches RFC 7638’s example key (RSA)', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

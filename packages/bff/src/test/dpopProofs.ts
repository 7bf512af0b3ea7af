import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/** A DPoP key for tests, signing proofs with node:crypto as a browser's WebCrypto would (ES256). */
export interface TestDpopKey {
  publicJwk: Record<string, string>;
  privateKey: KeyObject;
  /** A proof JWT; `header` and `payload` override or add members (`undefined` drops one). */
  proof(claims: { htu: string; htm?: string; iat?: number; jti?: string; nonce?: string; ath?: string }, header?: Record<string, unknown>): string;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function testDpopKey(now: () => number = Date.now): TestDpopKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const publicJwk = { kty: kty!, crv: crv!, x: x!, y: y! };
  return {
    publicJwk,
    privateKey,
    proof({ htu, htm = 'POST', iat = Math.floor(now() / 1000), jti = randomBytes(16).toString('base64url'), nonce, ath }, header = {}) {
      const head = encode(dropUndefined({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk, ...header }));
      const body = encode(dropUndefined({ htm, htu, iat, jti, nonce, ath }));
      const signature = sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      return `${head}.${body}.${signature}`;
    },
  };
}

function dropUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

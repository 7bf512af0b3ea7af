import { base64url, calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';

/** The proof algorithms accepted, in the order `algs` names them: asymmetric only, never `none` or HS*. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

/** Longest `jti` accepted: the replay cache's memory is bounded in bytes, not only in entries. */
const MAX_JTI_LENGTH = 128;

/** JWK members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * A client signs every proof with one key and sends one access token with many proofs, so the
 * imported key with its thumbprint, and the token's hash, are kept for the most recent ones:
 * importing, hashing and thumbprinting cost about half of a proof's check otherwise. Both are
 * pure functions of what they are keyed by, so one cache serves every verifier in the process.
 */
const REMEMBERED = 1000;
let importedKeys: LRUCache<string, { key: CryptoKey; jkt: string }> | undefined;
let tokenHashes: LRUCache<string, string> | undefined;

/** What the request says a proof must match. */
export interface ProofExpectations {
  /** The request's method, compared with `htm` as is. */
  method: string;
  /** The URL the client signed (normally the request's URL), as {@link normalizeHtu} answers it. */
  url: string;
  /** The access token sent with the proof, whose hash `ath` must be. */
  accessToken: string;
  /** This server's clock, in milliseconds. */
  now: number;
  maxAgeSeconds: number;
  clockToleranceSeconds: number;
}

/**
 * What {@link checkDPoPProof} decided: the proof's key thumbprint, its `jti` and when it stops
 * passing the `iat` check (ms), or why it is refused.
 */
export type ProofVerdict = { ok: true; jkt: string; jti: string; expiresAt: number } | { ok: false; description: string };

/**
 * Checks the `DPoP` request header against RFC 9449 §4.3: exactly one proof, a JWT of `typ`
 * `dpop+jwt` signed with an allowed asymmetric algorithm by the public key in its `jwk`
 * header, `htm` and `htu` naming this request, a recent `iat`, a `jti`, and `ath` the hash of
 * the access token. Whether the `jti` was seen before and whether the key is the one the token
 * is bound to are the caller's to check. Never throws on bad input.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function checkDPoPProof(header: string | null, expected: ProofExpectations): Promise<ProofVerdict> {
  const refuse = (description: string): ProofVerdict => ({ ok: false, description });
  if (header === null) return refuse('The request has no DPoP header; the DPoP scheme needs a DPoP proof');
  // Fetch's Headers join repeated fields with ", ", which a compact JWT never holds.
  if (header.includes(',')) return refuse('The request has more than one DPoP header');
  const proof = header.trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(proof)) return refuse('The DPoP header is not a JWT');

  let jwk: unknown;
  let alg: unknown;
  let typ: unknown;
  try {
    ({ jwk, alg, typ } = decodeProtectedHeader(proof));
  } catch {
    return refuse('The DPoP proof is malformed: its header is not a JSON object');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return refuse('The DPoP proof has no "jwk" header with its public key');
  // jose refuses a key that imports as private; this also catches members it would ignore (an RSA `p` without `d`).
  const secret = PRIVATE_MEMBERS.filter((member) => member in jwk);
  if (secret.length) return refuse(`The DPoP proof's "jwk" holds private key material (${secret.map((m) => `"${m}"`).join(', ')}); it must be a public key`);

  let jkt = '';
  // jose's EmbeddedJWK imports the key (and refuses a private one) once per distinct alg and jwk.
  const embeddedKey: JWTVerifyGetKey = async (protectedHeader, token) => {
    const id = JSON.stringify([protectedHeader.alg, protectedHeader.jwk]);
    let imported = (importedKeys ??= new LRUCache({ max: REMEMBERED })).get(id);
    if (!imported) {
      imported = { key: (await EmbeddedJWK(protectedHeader, token)) as CryptoKey, jkt: await calculateJwkThumbprint(jwk as JWK, 'sha256') };
      importedKeys.set(id, imported);
    }
    jkt = imported.jkt;
    return imported.key;
  };
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, embeddedKey, {
      typ: 'dpop+jwt',
      algorithms: DPOP_ALGORITHMS,
      maxTokenAge: expected.maxAgeSeconds,
      clockTolerance: expected.clockToleranceSeconds,
      currentDate: new Date(expected.now),
      requiredClaims: ['jti', 'htm', 'htu'],
    }));
  } catch (error) {
    return refuse(describe(error, { typ, alg, expected }));
  }

  const { htm, htu, ath, jti, iat } = payload;
  if (htm !== expected.method) return refuse(`The DPoP proof is for ${JSON.stringify(htm)} requests ("htm"), not ${expected.method}`);
  const signed = typeof htu === 'string' ? normalizeHtu(htu) : undefined;
  if (signed === undefined || signed !== expected.url) return refuse(`The DPoP proof is for ${JSON.stringify(htu)} ("htu"), not ${expected.url}`);
  if (ath === undefined) return refuse('The DPoP proof has no "ath" claim (the hash of the access token)');
  if (ath !== (await accessTokenHash(expected.accessToken))) return refuse('The DPoP proof\'s "ath" is not the hash of the access token sent with it');
  if (typeof jti !== 'string' || jti === '') return refuse(`The DPoP proof's "jti" is not a non-empty string (got ${JSON.stringify(jti)})`);
  if (jti.length > MAX_JTI_LENGTH) return refuse(`The DPoP proof's "jti" is longer than ${MAX_JTI_LENGTH} characters`);

  // jose's maxTokenAge made iat a number; the proof stops passing once it is older than the window.
  const expiresAt = Math.ceil(((iat as number) + expected.maxAgeSeconds + expected.clockToleranceSeconds) * 1000);
  return { ok: true, jkt, jti, expiresAt };
}

/**
 * `htu` as compared: scheme and host lower-case, default port dropped, dot segments resolved,
 * percent-encoding normalised (RFC 3986 §6.2.2–6.2.3), query and fragment removed; `undefined`
 * for anything but an http(s) URL.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export function normalizeHtu(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** `ath`: the base64url SHA-256 of the access token's ASCII. */
export async function accessTokenHash(accessToken: string): Promise<string> {
  const hashes = (tokenHashes ??= new LRUCache({ max: REMEMBERED }));
  let hash = hashes.get(accessToken);
  if (hash === undefined) {
    hash = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
    hashes.set(accessToken, hash);
  }
  return hash;
}

/** The reason jose refused a proof, in words for the caller. */
function describe(error: unknown, context: { typ: unknown; alg: unknown; expected: ProofExpectations }): string {
  const { alg, expected } = context;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return `The DPoP proof is signed with alg ${JSON.stringify(alg)}, not one of ${DPOP_ALGORITHMS.join(', ')}`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The DPoP proof\'s signature does not verify with its "jwk"';
  if (error instanceof joseErrors.JWTClaimValidationFailed || error instanceof joseErrors.JWTExpired) {
    const { claim, reason, payload } = error;
    if (claim === 'typ') return `The DPoP proof's "typ" header is ${JSON.stringify(context.typ)}, not "dpop+jwt"`;
    if (reason === 'missing') return `The DPoP proof has no "${claim}" claim`;
    if (claim === 'iat' && reason === 'check_failed' && typeof payload.iat === 'number') {
      // In whole seconds as jose counts them, so the figure is the one jose judged.
      const age = Math.round(Math.floor(expected.now / 1000) - payload.iat);
      return age > 0
        ? `The DPoP proof is too old ("iat" is ${age} s behind this server's clock; proofs are accepted for ${expected.maxAgeSeconds} s)`
        : `The DPoP proof was issued in the future ("iat" is ${-age} s ahead of this server's clock)`;
    }
    if (claim === 'exp' && error instanceof joseErrors.JWTExpired) return 'The DPoP proof expired';
    return `The DPoP proof's "${claim}" claim is not accepted`;
  }
  if (error instanceof joseErrors.JOSEError) return `The DPoP proof is malformed or its key unusable: ${error.message}`;
  return 'The DPoP proof could not be verified';
}


import { constants, createHash, createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DPOP_HTU_HEADER } from '@latchkey/core';
import { BffError } from './errors.js';

/**
 * DPoP (RFC 9449) at the BFF. The browser signs a proof for the provider's token endpoint and
 * sends it with `POST /token`; the BFF checks it before anything else and forwards it with the
 * refresh-token grant, so the provider binds the new access token to the browser's key
 * (`cnf.jkt`). The BFF never holds the key: it can neither make proofs nor use the token.
 *
 * The checks here are the BFF's own gate, not the provider's: a proof must be well formed,
 * signed by the key in its header, for `POST` at the provider's token endpoint and recent, so a
 * cached access token bound to a key is handed only to a caller who holds that key.
 */

/** A proof that passed {@link readDpopProof}. */
export interface DpopProof {
  /** The proof as received, to forward. */
  jwt: string;
  /** RFC 7638 thumbprint of the proof's key: what the provider writes into `cnf.jkt`. */
  jkt: string;
  /** The proof's unique id: the provider refuses a proof it has seen, so the BFF never forwards one twice. */
  jti: string;
}

/** How far a proof's `iat` may be from this server's clock (s): the provider allows about as much. */
export const DPOP_MAX_AGE_SECONDS = 60;
const MAX_PROOF_LENGTH = 4096;
const MAX_JTI_LENGTH = 256;
/** Signature algorithms a proof may use, as node:crypto verifies them. */
const ALGORITHMS: Readonly<Record<string, { hash: string | null; keyType: string; curve?: string; pss?: true }>> = {
  ES256: { hash: 'sha256', keyType: 'EC', curve: 'P-256' },
  ES384: { hash: 'sha384', keyType: 'EC', curve: 'P-384' },
  RS256: { hash: 'sha256', keyType: 'RSA' },
  PS256: { hash: 'sha256', keyType: 'RSA', pss: true },
  EdDSA: { hash: null, keyType: 'OKP', curve: 'Ed25519' },
};
/** Members of a JWK that only a private (or symmetric) key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A refusal that tells the browser what to sign for (its first call has no way to know). */
type Refuse = (reason: string) => BffError;
const refusal =
  (tokenEndpoint: string): Refuse =>
  (reason) =>
    new BffError('invalid_dpop_proof', 400, `The DPoP proof was refused: ${reason}.`, { headers: { [DPOP_HTU_HEADER]: tokenEndpoint } });

/**
 * Reads and checks the one `DPoP` header of a `/token` request: a compact JWS typed
 * `dpop+jwt`, signed with an asymmetric algorithm by the public key in its header, for `POST`
 * at `tokenEndpoint`, issued within {@link DPOP_MAX_AGE_SECONDS} of `now`. Throws 400
 * `invalid_dpop_proof` naming what is wrong.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export function readDpopProof(request: Request, tokenEndpoint: string, now: number): DpopProof {
  const refuse = refusal(tokenEndpoint);
  const header = request.headers.get('dpop');
  if (header === null) throw refuse(`a DPoP header is required (a proof for POST ${tokenEndpoint})`);
  // Headers joins repeated fields with ", "; a compact JWS has no comma.
  if (header.includes(',')) throw refuse('there is more than one DPoP header');
  const jwt = header.trim();
  if (jwt.length > MAX_PROOF_LENGTH) throw refuse(`it is longer than ${MAX_PROOF_LENGTH} characters`);
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) throw refuse('it is not a compact JWS');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const protectedHeader = parseJson(encodedHeader, 'header', refuse);
  const payload = parseJson(encodedPayload, 'payload', refuse);

  if (protectedHeader.typ !== 'dpop+jwt') throw refuse(`its typ is ${JSON.stringify(protectedHeader.typ)}, not "dpop+jwt"`);
  const alg = typeof protectedHeader.alg === 'string' && Object.hasOwn(ALGORITHMS, protectedHeader.alg) ? ALGORITHMS[protectedHeader.alg]! : undefined;
  if (!alg) throw refuse(`its alg ${JSON.stringify(protectedHeader.alg)} is not one of ${Object.keys(ALGORITHMS).join(', ')}`);
  const jwk = protectedHeader.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw refuse('its header has no jwk');
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(members, name))) throw refuse('its jwk holds private key material');
  if (members.kty !== alg.keyType || (alg.curve !== undefined && members.crv !== alg.curve)) {
    throw refuse(`its jwk (${JSON.stringify(members.kty)} ${JSON.stringify(members.crv ?? '')}) does not fit alg ${String(protectedHeader.alg)}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
  } catch {
    throw refuse('its jwk is not a usable public key');
  }
  const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signature = Buffer.from(encodedSignature, 'base64url');
  const valid = verifySignature(
    alg.hash,
    signed,
    alg.keyType === 'EC' ? { key, dsaEncoding: 'ieee-p1363' } : alg.pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
    signature,
  );
  if (!valid) throw refuse('its signature does not verify with the key in its header');

  if (payload.htm !== 'POST') throw refuse(`its htm is ${JSON.stringify(payload.htm)}, not "POST"`);
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(tokenEndpoint)) {
    throw refuse(`its htu is ${JSON.stringify(payload.htu)}, not the provider's token endpoint ${tokenEndpoint}`);
  }
  if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw refuse('it has no iat');
  const age = now / 1000 - payload.iat;
  if (Math.abs(age) > DPOP_MAX_AGE_SECONDS) throw refuse(`its iat is ${Math.round(age)} s from this server's clock (at most ${DPOP_MAX_AGE_SECONDS} s either way)`);
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > MAX_JTI_LENGTH) throw refuse('it has no usable jti');
  if (payload.ath !== undefined) throw refuse('a proof for the token endpoint carries no ath');
  return { jwt, jkt: jwkThumbprint(members), jti: payload.jti };
}

/**
 * RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: the required members of its key
 * type, in lexicographic order, without whitespace.
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const required = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : ['crv', 'kty', 'x'];
  const canonical = `{${required.map((name) => `${JSON.stringify(name)}:${JSON.stringify(String(jwk[name]))}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function parseJson(part: string, what: string, refuse: Refuse): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw refuse(`its ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse(`its ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A URL without query and fragment, as RFC 9449 §4.3 compares `htu`. */
function withoutQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '';
  }
}

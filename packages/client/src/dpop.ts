import { challengeParams } from '@latchkey/core';
import { AuthClientError } from './errors.js';

/**
 * DPoP (RFC 9449) for the browser: a P-256 key whose private half can never leave WebCrypto,
 * and proofs signed with it, so an access token bound to the key is useless to anyone who
 * copies the token but not the key.
 */

/** The public members of a P-256 key: all a proof's header carries, all a thumbprint hashes. */
export interface DpopPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/**
 * A DPoP key as it travels between tabs: both members are structured-cloneable, and the
 * private key stays non-extractable through a `BroadcastChannel`.
 */
export interface DpopKey {
  publicJwk: DpopPublicJwk;
  privateKey: CryptoKey;
}

export interface DpopProverOptions {
  /** Clock in ms since the epoch (default `Date.now`); proofs carry it in `iat`. */
  now?: () => number;
  /** WebCrypto to sign and hash with (default `globalThis.crypto`, read when used). */
  crypto?: Crypto;
  /**
   * Accept a private key that can be exported. Off by default: an extractable key can be read
   * by any script on the page, which is exactly the theft DPoP exists to make worthless.
   */
  allowExtractableKey?: boolean;
}

/** What one proof is for: the request it goes with, and the token it presents. */
export interface DpopProofRequest {
  /** The request's method, as `fetch` will send it. */
  htm: string;
  /** The request's URL; query and fragment are left out of the proof (RFC 9449 §4.2). */
  htu: string | URL;
  /** The access token sent with the request, hashed into `ath`; omit at the token endpoint. */
  accessToken?: string;
  /** A server-provided nonce; by default the one last remembered for the URL's origin. */
  nonce?: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
// fetch() upper-cases only these methods (Fetch, "normalize a method"); any other is sent as
// written, so a proof for it must carry it as written too.
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/**
 * Makes a new DPoP key pair in WebCrypto: ECDSA P-256 (ES256), its private key not
 * extractable, so no script, this one included, can ever read it.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-2
 */
export async function createDpopKey(crypto: Crypto = globalThis.crypto): Promise<CryptoKeyPair> {
  // `extractable` binds the private key only; WebCrypto always lets the public key be exported.
  return crypto.subtle.generateKey(ALG, false, ['sign', 'verify']);
}

/**
 * Signs DPoP proofs with one key, and remembers the latest nonce each server asked for.
 * @example
 * const prover = await DpopProver.create(await createDpopKey());
 * const proof = await prover.proof({ htm: 'GET', htu: 'https://api.example/notes', accessToken });
 * fetch('https://api.example/notes', { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4
 */
export class DpopProver {
  readonly #key: DpopKey;
  readonly #header: string;
  readonly #now: () => number;
  readonly #crypto: () => Crypto;
  readonly #nonces = new Map<string, string>();
  #offset = 0;
  #thumbprint: Promise<string> | undefined;
  // One access token serves many requests: hash it once, not once per proof.
  #ath: { token: string; value: Promise<string> } | undefined;

  private constructor(key: DpopKey, options: DpopProverOptions) {
    this.#key = key;
    // The header never changes for a key: encode it once, not on every proof.
    this.#header = base64urlJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    this.#now = options.now ?? (() => Date.now());
    this.#crypto = () => options.crypto ?? globalThis.crypto;
  }

  /**
   * A prover for a key pair from {@link createDpopKey}, or for a {@link DpopKey} another tab
   * shared. Refuses anything but an ECDSA P-256 signing key, and an extractable private key
   * unless `allowExtractableKey` says so.
   */
  static async create(key: CryptoKeyPair | DpopKey, options: DpopProverOptions = {}): Promise<DpopProver> {
    const publicJwk = 'publicJwk' in key ? key.publicJwk : await exportPublicJwk(key.publicKey, options.crypto ?? globalThis.crypto);
    checkKey(publicJwk, key.privateKey, options);
    return new DpopProver({ publicJwk: pickPublic(publicJwk), privateKey: key.privateKey }, options);
  }

  /** The key in a form another tab can receive over a `BroadcastChannel` and prove with. */
  get key(): DpopKey {
    return { publicJwk: { ...this.#key.publicJwk }, privateKey: this.#key.privateKey };
  }

  /**
   * The key's RFC 7638 thumbprint (base64url SHA-256 of `{"crv","kty","x","y"}`): what a bound
   * token's `cnf.jkt` holds.
   * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-6.1
   */
  thumbprint(): Promise<string> {
    const { crv, kty, x, y } = this.#key.publicJwk;
    // Members in lexicographic order, no whitespace: JSON.stringify keeps insertion order.
    this.#thumbprint ??= sha256(JSON.stringify({ crv, kty, x, y }), this.#crypto()).then(base64url);
    return this.#thumbprint;
  }

  /**
   * Remembers the nonce a server sent in `DPoP-Nonce`; later proofs for that origin carry it.
   * `origin` may be any URL of that server.
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
   */
  rememberNonce(origin: string | URL, nonce: string): void {
    this.#nonces.set(new URL(origin).origin, nonce);
  }

  /** The nonce last remembered for the origin of `url`, if any. */
  nonceFor(url: string | URL): string | undefined {
    return this.#nonces.get(new URL(url).origin);
  }

  /**
   * Sets how far (ms) the server's clock is ahead of this one, for `iat`: a server accepts
   * proofs only within a few minutes of its own time, and a nonce cannot help one that has none.
   */
  setClockOffset(ms: number): void {
    this.#offset = Number.isFinite(ms) ? ms : 0;
  }

  /**
   * A DPoP proof JWT for one request: a fresh `jti`, `htm`, `htu` without query and fragment,
   * `iat` now, `ath` when an access token is presented, and a nonce when one is known.
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
   */
  async proof(request: DpopProofRequest): Promise<string> {
    const crypto = this.#crypto();
    const htu = proofUrl(request.htu);
    const nonce = request.nonce ?? this.#nonces.get(new URL(htu).origin);
    const payload = {
      jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: proofMethod(request.htm),
      htu,
      iat: Math.floor((this.#now() + this.#offset) / 1000),
      ...(request.accessToken !== undefined && { ath: await this.#athOf(request.accessToken, crypto) }),
      ...(nonce !== undefined && { nonce }),
    };
    const input = `${this.#header}.${base64urlJson(payload)}`;
    const signature = await crypto.subtle.sign(SIGN, this.#key.privateKey, encoder.encode(input));
    // WebCrypto's ECDSA signature is already r||s (IEEE P1363), the form JWS ES256 wants.
    return `${input}.${base64url(new Uint8Array(signature))}`;
  }

  /** `ath`: base64url SHA-256 of the access token (RFC 9449 §4.2). */
  #athOf(accessToken: string, crypto: Crypto): Promise<string> {
    if (this.#ath?.token !== accessToken) this.#ath = { token: accessToken, value: sha256(accessToken, crypto).then(base64url) };
    return this.#ath.value;
  }
}

/**
 * Whether a server asked for a DPoP nonce: a resource server's 401 with a `DPoP` challenge
 * `error="use_dpop_nonce"`, or an authorization server's (or the BFF's) 400 whose JSON error is
 * `use_dpop_nonce`. Pass the parsed body for the 400 case; the response's own is not read.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-9
 */
export function isDpopNonceError(response: Pick<Response, 'status' | 'headers'>, body?: unknown): boolean {
  if (response.status === 401) {
    return challengeParams(response.headers.get('www-authenticate'), 'dpop')?.error === 'use_dpop_nonce';
  }
  return response.status === 400 && typeof body === 'object' && body !== null && (body as { error?: unknown }).error === 'use_dpop_nonce';
}

/** The nonce a server sent in its `DPoP-Nonce` header, if any. */
export function nonceOf(response: Pick<Response, 'headers'>): string | undefined {
  return response.headers.get('dpop-nonce') ?? undefined;
}

/** `htu`: the URL without query and fragment; only absolute URLs can be bound. */
function proofUrl(htu: string | URL): string {
  let url: URL;
  try {
    url = new URL(htu);
  } catch (cause) {
    throw new AuthClientError('invalid_request', `DPoP htu must be an absolute URL, got ${JSON.stringify(String(htu))}`, { cause });
  }
  url.search = '';
  url.hash = '';
  return url.href;
}

/** `htm`: the method exactly as `fetch` will send it. */
function proofMethod(htm: string): string {
  const upper = htm.toUpperCase();
  if (!/^[!#$%&'*+.^_`|~\w-]+$/.test(htm)) {
    throw new AuthClientError('invalid_request', `DPoP htm must be an HTTP method, got ${JSON.stringify(htm)}`);
  }
  return NORMALIZED_METHODS.has(upper) ? upper : htm;
}

function checkKey(publicJwk: DpopPublicJwk, privateKey: CryptoKey, options: DpopProverOptions): void {
  const algorithm = privateKey.algorithm as Partial<EcKeyAlgorithm>;
  const ok =
    publicJwk.kty === 'EC' &&
    publicJwk.crv === 'P-256' &&
    typeof publicJwk.x === 'string' &&
    typeof publicJwk.y === 'string' &&
    privateKey.type === 'private' &&
    algorithm.name === 'ECDSA' &&
    algorithm.namedCurve === 'P-256' &&
    privateKey.usages.includes('sign');
  if (!ok) {
    const got = `${algorithm.name ?? '?'} ${algorithm.namedCurve ?? ''} ${privateKey.type} key (public ${publicJwk.kty} ${publicJwk.crv})`;
    throw new AuthClientError('configuration_error', `A DPoP key must be an ECDSA P-256 signing key pair, got a ${got.replace(/ +/g, ' ')}`);
  }
  if (privateKey.extractable && !options.allowExtractableKey) {
    throw new AuthClientError(
      'configuration_error',
      'The DPoP private key is extractable, so any script on the page could copy it; make it with createDpopKey() or pass allowExtractableKey',
    );
  }
}

async function exportPublicJwk(publicKey: CryptoKey, crypto: Crypto): Promise<DpopPublicJwk> {
  return (await crypto.subtle.exportKey('jwk', publicKey)) as DpopPublicJwk;
}

/** Only the members RFC 7638 names: an exported JWK also has `key_ops` and `ext`. */
function pickPublic({ kty, crv, x, y }: DpopPublicJwk): DpopPublicJwk {
  return { kty, crv, x, y };
}

const encoder = new TextEncoder();

async function sha256(text: string, crypto: Crypto): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

function base64urlJson(value: unknown): string {
  return base64url(encoder.encode(JSON.stringify(value)));
}

/** Base64url without padding (RFC 7515 §2). */
function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

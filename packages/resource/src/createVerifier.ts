import { formatBearerChallenge, LatchkeyError, LatchkeyHttpError, type LatchkeyErrorCode, type LatchkeyHttpErrorOptions } from '@latchkey/core';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { checkClaims, type AccessTokenClaims } from './checkClaims.js';
import { checkDPoPProof, DPOP_ALGORITHMS, normalizeHtu } from './checkDPoPProof.js';
import { dpopConfig, type DPoPOptions } from './dpopConfig.js';
import { KeysUnavailableError, remoteKeys, type FetchLike } from './remoteKeys.js';
import type { ReplayVerdict } from './replayCache.js';

export type { AccessTokenClaims } from './checkClaims.js';

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** Expected `iss`, exactly as the provider writes it. */
  issuer: string;
  /** Expected `aud` (one of). */
  audience: string | string[];
  /** Allowed signing algorithms (default `['RS256', 'ES256', 'PS256', 'EdDSA']`); `none` and HS* are never allowed. */
  algorithms?: string[];
  /**
   * JWKS URL. By default it is found through discovery (`<issuer>/.well-known/openid-configuration`
   * → `jwks_uri`, whose document must name the same issuer); set this to skip discovery.
   */
  jwksUri?: string;
  /** Deadline of each discovery and JWKS request in milliseconds (default 3000); past it the answer is 503. */
  fetchTimeoutMs?: number;
  /** Scopes every request must carry, in `scope` or `scp`. */
  requiredScopes?: string[];
  /**
   * Accept tokens whose `typ` header is not `at+jwt` (RFC 9068). Costs the defence against an
   * ID token or another JWT from the same issuer being replayed as an access token; only for
   * providers that cannot type their access tokens.
   */
  allowAnyTokenType?: boolean;
  /** Clock tolerance in seconds for `exp`, `nbf` and `iat` (default 5). */
  clockToleranceSeconds?: number;
  /** Realm named in `WWW-Authenticate`. */
  realm?: string;
  /** Key source instead of the provider's JWKS (tests inject a local JWKS). */
  keys?: JWTVerifyGetKey;
  /** `fetch` for discovery and the JWKS (default: the global `fetch`, read when called). */
  fetch?: FetchLike;
  /** This server's clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /**
   * Accept DPoP-bound access tokens (RFC 9449): `Authorization: DPoP <token>` with a `DPoP`
   * proof header. `{}` takes the defaults. A token bound to a key (`cnf.jkt`) is refused as a
   * bearer token whether or not this is set.
   */
  dpop?: DPoPOptions;
}

/** The outcome of {@link Verifier.verify}: claims, or a ready RFC 6750 error response. */
export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; error: VerifyError; response: Response };

/** The codes a verifier answers with: core's, and RFC 9449's `invalid_dpop_proof`, which only a resource server sends. */
export type VerifyErrorCode = LatchkeyErrorCode | 'invalid_dpop_proof';

// core's code union is closed and names no resource-only code, so VerifyError types its
// constructor and `code` with the wider union; at run time it is a LatchkeyHttpError as before.
const ResourceHttpError = LatchkeyHttpError as unknown as new (
  code: VerifyErrorCode,
  message: string,
  options?: LatchkeyHttpErrorOptions,
) => Omit<LatchkeyHttpError, 'code'> & { readonly code: VerifyErrorCode };

/** Why a token was refused (or could not be checked); `status` and `toResponse()` give the HTTP answer. */
export class VerifyError extends ResourceHttpError {}

export interface Verifier {
  /**
   * Verifies the `Authorization: Bearer` token of a request (or, with the `dpop` option, the
   * `Authorization: DPoP` token and its proof). With a bad configuration the answer is 500
   * `configuration_error` (the cause logged once), never a verdict on the token.
   */
  verify(request: Request): Promise<VerifyResult>;
  /** Checks the options now, throwing what is wrong (they are otherwise checked at the first `verify`, never at import). */
  check(): void;
}

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];
/** Seconds a client should wait before trying again when the keys are unavailable. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Creates a verifier for JWT access tokens: signature against the provider's JWKS (found by
 * discovery, cached, refetched on an unknown `kid`), algorithm allow-list, `typ: at+jwt`,
 * `iss`, `aud`, `exp`/`nbf`/`iat` with a small tolerance, a string `sub` and required scopes.
 * When the keys cannot be fetched the answer is 503 with `Retry-After`, not 401: an outage
 * must not look like a bad token.
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @example
 * const verifier = createVerifier({ issuer, audience: 'urn:my-api' });
 * const result = await verifier.verify(request);
 * if (!result.ok) return result.response;
 */
export function createVerifier(options: VerifierOptions): Verifier {
  // Checked at first use, not here: `next build` imports API routes on machines without the
  // runtime environment (an unset OIDC_ISSUER is fine until a request comes).
  let checked: ReturnType<typeof setup> | undefined;
  let reported: string | undefined;
  const get = () => (checked ??= setup(options));
  const misconfigured = (error: LatchkeyError): VerifyResult => {
    if (error.message !== reported) console.error(`[latchkey] ${error.message}`);
    reported = error.message;
    const failure = new VerifyError('configuration_error', 'The API cannot check access tokens: it is misconfigured; its server log says why.', { status: 500, cause: error });
    return { ok: false, error: failure, response: failure.toResponse() };
  };
  return {
    verify(request) {
      const isConfigurationError = (error: unknown): error is LatchkeyError => error instanceof LatchkeyError && error.code === 'configuration_error';
      let verify: (request: Request) => Promise<VerifyResult>;
      try {
        verify = get();
      } catch (error) {
        if (isConfigurationError(error)) return Promise.resolve(misconfigured(error));
        throw error;
      }
      // Some options can only be judged by what they answer for a request (dpop.htu).
      return verify(request).catch((error: unknown) => {
        if (isConfigurationError(error)) return misconfigured(error);
        throw error;
      });
    },
    check: () => void get(),
  };
}

function setup(options: VerifierOptions): (request: Request) => Promise<VerifyResult> {
  if (!options || typeof options !== 'object') throw new LatchkeyError('configuration_error', 'createVerifier: pass an options object.');
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  const unsafe = algorithms.filter((a) => a === 'none' || /^HS/i.test(a));
  if (unsafe.length) throw new LatchkeyError('configuration_error', `createVerifier: algorithms ${unsafe.join(', ')} are not allowed for access tokens.`);
  if (!options.issuer) throw new LatchkeyError('configuration_error', 'createVerifier: "issuer" is required.');
  if (!options.audience || (Array.isArray(options.audience) && options.audience.length === 0)) {
    throw new LatchkeyError('configuration_error', 'createVerifier: "audience" is required.');
  }
  if (options.jwksUri !== undefined && !URL.canParse(options.jwksUri)) {
    throw new LatchkeyError('configuration_error', `createVerifier: "jwksUri" ${JSON.stringify(options.jwksUri)} is not a URL.`);
  }
  const timeoutMs = options.fetchTimeoutMs ?? 3000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new LatchkeyError('configuration_error', `createVerifier: "fetchTimeoutMs" must be a whole number of milliseconds above 0, got ${timeoutMs}.`);
  }
  const keys =
    options.keys ??
    remoteKeys({
      issuer: options.issuer,
      ...(options.jwksUri !== undefined && { jwksUri: options.jwksUri }),
      timeoutMs,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    });
  // `https://idp.example` and `https://idp.example/` name one issuer: accept `iss` written either
  // way, so one OIDC_ISSUER serves the BFF (which reads it the same way) and the API.
  const bare = options.issuer.replace(/\/$/, '');
  const issuers = [bare, `${bare}/`];
  const now = options.now ?? Date.now;
  const clockToleranceSeconds = options.clockToleranceSeconds ?? 5;
  const realm = options.realm;
  const dpop = options.dpop === undefined ? undefined : dpopConfig(options.dpop, now);
  const forms = !dpop ? ['Bearer'] : dpop.required ? ['DPoP'] : ['Bearer', 'DPoP'];
  const noToken = `No access token was sent; send ${forms.map((f) => `Authorization: ${f} <token>${f === 'DPoP' ? ' with a DPoP proof' : ''}`).join(' or ')}.`;
  const malformed = `The Authorization header is not of the form ${forms.map((f) => `"${f} <token>"`).join(' or ')}.`;

  /**
   * `WWW-Authenticate` for a refusal: the scheme the request used carries the error (RFC 6750
   * §3, RFC 9449 §7.1); a 401 to a bearer request also offers DPoP when this API takes it, and
   * a verifier that requires DPoP offers nothing else.
   */
  const challenge = (scheme: Scheme | undefined, status: number, params: Record<string, string | undefined>): string => {
    const bearer = formatBearerChallenge({ realm, ...params });
    if (!dpop) return bearer;
    const dpopChallenge = (p: Record<string, string | undefined>) => formatBearerChallenge({ realm, ...p, algs: DPOP_ALGORITHMS.join(' ') }, 'DPoP');
    if (scheme === 'dpop' || dpop.required) return dpopChallenge(params);
    return status === 401 ? `${bearer}, ${dpopChallenge({})}` : bearer;
  };

  const refuse = (scheme: Scheme | undefined, status: 400 | 401 | 403, code: VerifyErrorCode, description: string, scope?: string): VerifyResult => {
    // RFC 6750 §3.1: a request with no usable credentials gets a bare challenge, without an error code.
    const bare = code === 'invalid_request' && status === 401;
    const headers = { 'www-authenticate': challenge(scheme, status, bare ? {} : { error: code, error_description: description, scope }) };
    const error = new VerifyError(code, description, { status, headers });
    return { ok: false, error, response: error.toResponse() };
  };

  /** An outage: the token may be fine, so no `invalid_token` (which would make clients refresh). */
  const unavailable = (code: 'upstream_unavailable' | 'store_unavailable', what: string, cause: unknown): VerifyResult => {
    const error = new VerifyError(code, `The access token cannot be checked now: ${what}. Try again shortly.`, {
      status: 503,
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      cause,
    });
    return { ok: false, error, response: error.toResponse() };
  };

  return async (request) => {
    const header = request.headers.get('authorization');
    if (!header) return refuse(undefined, 401, 'invalid_request', noToken);
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
    const scheme = match?.[1]?.toLowerCase() as Scheme | undefined;
    const token = match?.[2];
    if (!token || (scheme === 'dpop' && !dpop)) return refuse(undefined, 400, 'invalid_request', malformed);
    if (scheme === 'bearer' && dpop?.required) {
      return refuse('bearer', 401, 'invalid_request', 'This API accepts only DPoP-bound access tokens: send Authorization: DPoP <token> with a DPoP proof (RFC 9449).');
    }
    const at = now();

    let proof: { jkt: string; jti: string; expiresAt: number } | undefined;
    if (scheme === 'dpop' && dpop) {
      const given = dpop.htu(request);
      const url = typeof given === 'string' ? normalizeHtu(given) : undefined;
      if (url === undefined) throw new LatchkeyError('configuration_error', `createVerifier: "dpop.htu" answered ${JSON.stringify(given)}, not an http(s) URL.`);
      const verdict = await checkDPoPProof(request.headers.get('dpop'), { method: request.method, url, accessToken: token, now: at, maxAgeSeconds: dpop.maxAgeSeconds, clockToleranceSeconds });
      if (!verdict.ok) return refuse('dpop', 401, 'invalid_dpop_proof', verdict.description);
      proof = verdict;
    }

    let claims: AccessTokenClaims;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: issuers,
        audience: options.audience,
        algorithms,
        clockTolerance: clockToleranceSeconds,
        currentDate: new Date(at),
        ...(!options.allowAnyTokenType && { typ: 'at+jwt' }),
        requiredClaims: ['exp'],
      });
      // RFC 9449 §7.2: a bound token without its proof is a stolen token as far as we can tell.
      const jkt = boundKey(payload);
      if (scheme === 'bearer' && jkt !== undefined) {
        return refuse('bearer', 401, 'invalid_token', dpop
          ? 'The access token is bound to a DPoP key ("cnf.jkt"): send it as Authorization: DPoP <token> with a DPoP proof, not as a bearer token'
          : 'The access token is bound to a DPoP key ("cnf.jkt"), and this API takes only bearer tokens');
      }
      if (proof && jkt === undefined) return refuse('dpop', 401, 'invalid_token', 'The access token is not bound to a DPoP key (it has no "cnf.jkt" claim), so it cannot be sent with the DPoP scheme');
      if (proof && jkt !== proof.jkt) return refuse('dpop', 401, 'invalid_token', 'The DPoP proof is signed by another key than the one the access token is bound to ("cnf.jkt")');
      const verdict = checkClaims(payload, { now: Math.floor(at / 1000), clockToleranceSeconds, requiredScopes: options.requiredScopes ?? [] });
      if (!verdict.ok) return verdict.status === 403 ? refuse(scheme, 403, verdict.code, verdict.description, verdict.scope) : refuse(scheme, 401, verdict.code, verdict.description);
      claims = verdict.claims;
    } catch (error) {
      if (error instanceof KeysUnavailableError) return unavailable('upstream_unavailable', `the provider's signing keys are unavailable (${error.reason})`, error);
      // An injected key source (options.keys) may be jose's own remote JWKS set, which fails this way.
      if (options.keys && (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || error instanceof TypeError)) {
        return unavailable('upstream_unavailable', "the provider's signing keys are unavailable (they could not be fetched)", error);
      }
      return refuse(scheme, 401, 'invalid_token', describe(error, token));
    }

    // Last, so only a proof that passed every other check is recorded: a refused one can be sent again, fixed.
    if (proof && dpop) {
      let seen: ReplayVerdict;
      try {
        seen = await dpop.replay(`${proof.jkt}:${proof.jti}`, proof.expiresAt);
      } catch (cause) {
        return unavailable('store_unavailable', 'the DPoP replay store is unavailable', cause);
      }
      if (seen === 'replayed') return refuse('dpop', 401, 'invalid_dpop_proof', `The DPoP proof was used before (its "jti" ${JSON.stringify(proof.jti)} was seen); sign a new proof for each request`);
      if (seen === 'forgotten') return refuse('dpop', 401, 'invalid_dpop_proof', 'The DPoP proof is too old for this server to rule out a replay while it is this busy; sign a new proof');
    }
    return { ok: true, claims };
  };
}

type Scheme = 'bearer' | 'dpop';

/** The key thumbprint a token is bound to (`cnf.jkt`, RFC 9449 §6.1), if any. */
function boundKey(payload: JWTPayload): unknown {
  const { cnf } = payload as { cnf?: unknown };
  return typeof cnf === 'object' && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
}

/** The precise reason a token failed jose's checks, in words for the caller. */
function describe(error: unknown, token: string): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') {
      const typ = headerTyp(token);
      return `The token is not an access token: ${typ === undefined ? 'it has no "typ" header' : `its "typ" header is ${JSON.stringify(typ)}`}, not "at+jwt" (RFC 9068)`;
    }
    if (error.reason === 'missing') return `The access token has no "${error.claim}" claim`;
    if (error.claim === 'nbf') return 'The access token is not valid yet';
    return `The access token's "${error.claim}" claim is not accepted`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm that is not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token is signed with an unknown key';
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return 'The access token is malformed';
  return 'The access token could not be verified';
}

function headerTyp(token: string): unknown {
  try {
    return decodeProtectedHeader(token).typ;
  } catch {
    return undefined;
  }
}

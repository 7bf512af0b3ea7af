import { errorResponse, formatBearerChallenge, LatchkeyError, type ErrorBody } from '@latchkey/core';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (one of). */
  audience: string | string[];
  /** Allowed signing algorithms (default `['RS256', 'ES256', 'PS256', 'EdDSA']`); `none` and HS* are never allowed. */
  algorithms?: string[];
  /** JWKS URL (default `<issuer>/jwks`, as oidc-provider serves it; most providers publish it in discovery). */
  jwksUri?: string;
  /** Scopes every request must carry. */
  requiredScopes?: string[];
  /** Require the RFC 9068 `typ` header `at+jwt`. */
  requireAtJwtType?: boolean;
  /** Clock tolerance in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Realm named in `WWW-Authenticate`. */
  realm?: string;
  /** Key source (tests inject a local JWKS). */
  keys?: JWTVerifyGetKey;
}

/** Verified access-token claims. */
export type AccessTokenClaims = JWTPayload & { sub: string; scope?: string };

/** The outcome of {@link Verifier.verify}: claims, or a ready RFC 6750 error response. */
export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; error: VerifyError; response: Response };

/** Why a token was refused; `status` and `toResponse()` give the RFC 6750 answer. */
export class VerifyError extends LatchkeyError {}

export interface Verifier {
  /** Verifies the `Authorization: Bearer` token of a request. */
  verify(request: Request): Promise<VerifyResult>;
}

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

/**
 * Creates a verifier for JWT access tokens: signature against the provider's JWKS (cached,
 * refetched on an unknown `kid`), algorithm allow-list, `iss`, `aud`, `exp`/`nbf` with a
 * small tolerance, optional `typ` and required scopes.
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @example
 * const verifier = createVerifier({ issuer, audience: 'urn:my-api' });
 * const result = await verifier.verify(request);
 * if (!result.ok) return result.response;
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  const unsafe = algorithms.filter((a) => a === 'none' || /^HS/i.test(a));
  if (unsafe.length) throw new LatchkeyError('configuration_error', `createVerifier: algorithms ${unsafe.join(', ')} are not allowed for access tokens.`);
  if (!options.issuer) throw new LatchkeyError('configuration_error', 'createVerifier: "issuer" is required.');
  if (!options.audience || (Array.isArray(options.audience) && options.audience.length === 0)) {
    throw new LatchkeyError('configuration_error', 'createVerifier: "audience" is required.');
  }
  const keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/jwks`));
  const realm = options.realm;

  const refuse = (status: 400 | 401 | 403, code: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description: string, scope?: string): VerifyResult => {
    const body: ErrorBody = { error: code, error_description: description };
    const challenge = formatBearerChallenge({
      realm,
      // RFC 6750 §3.1: a request with no token gets a bare challenge, without an error code.
      ...(code === 'invalid_request' && status === 401 ? {} : { error: code, error_description: description }),
      scope,
    });
    const error = new VerifyError(code, description, { status, headers: { 'www-authenticate': challenge } });
    return { ok: false, error, response: errorResponse(status, body, { 'www-authenticate': challenge }) };
  };

  return {
    async verify(request) {
      const header = request.headers.get('authorization');
      if (!header) return refuse(401, 'invalid_request', 'No access token was sent; send Authorization: Bearer <token>.');
      const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
      if (!match?.[1]) return refuse(400, 'invalid_request', 'The Authorization header is not of the form "Bearer <token>".');
      try {
        const { payload } = await jwtVerify(match[1], keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          clockTolerance: options.clockToleranceSeconds ?? 5,
          ...(options.requireAtJwtType && { typ: 'at+jwt' }),
          requiredClaims: ['sub', 'exp'],
        });
        const granted = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ') : []);
        const missing = (options.requiredScopes ?? []).filter((s) => !granted.has(s));
        if (missing.length) {
          return refuse(403, 'insufficient_scope', `The access token lacks the scope ${missing.join(' ')}.`, (options.requiredScopes ?? []).join(' '));
        }
        return { ok: true, claims: payload as AccessTokenClaims };
      } catch (error) {
        if (error instanceof joseErrors.JWKSTimeout || error instanceof TypeError) {
          // The keys could not be fetched: the token may be fine, so this is not the client's fault.
          const err = new VerifyError('upstream_unavailable', 'The signing keys could not be fetched; try again shortly.', { status: 503, headers: { 'retry-after': '5' } });
          return { ok: false, error: err, response: err.toResponse() };
        }
        return refuse(401, 'invalid_token', describe(error));
      }
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The access token is not valid yet';
    return `The access token's "${error.claim}" claim is not accepted`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm that is not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token is signed with an unknown key';
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return 'The access token is malformed';
  return 'The access token could not be verified';
}

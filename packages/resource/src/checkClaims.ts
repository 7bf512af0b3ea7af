import type { JWTPayload } from 'jose';

/** Verified access-token claims. */
export type AccessTokenClaims = JWTPayload & {
  sub: string;
  scope?: string;
  scp?: string | string[];
  /** Confirmation (RFC 7800); `jkt` is the thumbprint of the key a DPoP-bound token is bound to (RFC 9449 §6.1). */
  cnf?: { jkt?: string; [member: string]: unknown };
};

/** What {@link checkClaims} decided: the claims, or why and how to refuse them. */
export type ClaimsVerdict =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; status: 401; code: 'invalid_token'; description: string }
  | { ok: false; status: 403; code: 'insufficient_scope'; description: string; scope: string };

export interface ClaimRules {
  /** This server's clock, in seconds since the epoch. */
  now: number;
  clockToleranceSeconds: number;
  requiredScopes: readonly string[];
}

/**
 * The rules jose's `jwtVerify` leaves to us, applied to a payload whose signature, `iss`,
 * `aud`, `exp` and `nbf` it already checked: a string `sub`, no `iat` in the future, and the
 * required scopes granted by `scope` or `scp`.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function checkClaims(payload: JWTPayload, rules: ClaimRules): ClaimsVerdict {
  const invalid = (description: string): ClaimsVerdict => ({ ok: false, status: 401, code: 'invalid_token', description });
  const { sub, iat } = payload as { sub?: unknown; iat?: unknown };
  if (sub === undefined) return invalid('The access token has no "sub" claim');
  if (typeof sub !== 'string') return invalid(`The access token's "sub" claim is not a string (got ${JSON.stringify(sub)})`);
  if (sub === '') return invalid('The access token\'s "sub" claim is empty');
  // jose only checks iat against maxTokenAge; a token from the future means a wrong clock or a forgery.
  if (typeof iat === 'number' && iat > rules.now + rules.clockToleranceSeconds) {
    return invalid(`The access token was issued in the future ("iat" is ${Math.round(iat - rules.now)} s ahead of this server's clock)`);
  }
  const granted = grantedScopes(payload);
  const missing = rules.requiredScopes.filter((s) => !granted.has(s));
  if (missing.length) {
    return { ok: false, status: 403, code: 'insufficient_scope', description: `The access token lacks the scope ${missing.join(' ')}.`, scope: rules.requiredScopes.join(' ') };
  }
  return { ok: true, claims: payload as AccessTokenClaims };
}

/**
 * The scopes a token grants: RFC 9068's space-separated `scope`, and `scp` (a list or a
 * space-separated string) as Okta, Azure AD and others send it.
 */
export function grantedScopes(payload: JWTPayload): Set<string> {
  const words = (value: unknown): string[] =>
    typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return new Set([...words(payload.scope), ...words(payload.scp)].filter(Boolean));
}

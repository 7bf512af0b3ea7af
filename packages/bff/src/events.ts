/** Why a family was revoked. */
/** `session_limit`: the user signed in more than `maxSessionsPerUser` times; the oldest family ends. */
export type RevocationReason = 'logout' | 'reuse' | 'revoke_family' | 'revoke_user' | 'new_sign_in' | 'expired' | 'invalid_grant' | 'session_limit';

/** What the BFF reports to `onEvent`: security and lifecycle facts, never a token. */
export type BffEvent =
  | { type: 'session_created'; familyId: string; sub: string }
  /**
   * A sign-in did not complete at `/callback`. `failure`: the BFF refused the answer (no or an
   * unknown transaction, a replayed code, an ID token that does not check out, a user it cannot
   * keep); `provider_error`: the provider sent `error=` back, or could not redeem the code.
   * `error` is the code answered (the provider's own for `provider_error` from `error=`).
   */
  | { type: 'sign_in_failed'; outcome: 'failure' | 'provider_error'; error: string }
  | { type: 'token_served_from_cache'; familyId: string }
  /** `late`: the provider answered after its caller had been told 503. `delivered: false`: nobody got the new cookie yet (late, or a server component). */
  | { type: 'token_refreshed'; familyId: string; sub?: string; version: number; upstreamMs: number; rotated: boolean; late?: boolean; delivered?: false }
  | { type: 'refresh_failed'; familyId: string; reason: string; shared?: boolean }
  /** A cookie already superseded was presented and healed inside the grace window: a lagging tab, or a thief racing the owner. */
  | { type: 'stale_cookie_healed'; familyId: string; sub?: string; fromVersion: number; toVersion: number; ageMs: number }
  | { type: 'reuse_detected'; familyId: string; sub?: string; presentedVersion: number; currentVersion: number }
  | { type: 'session_expired'; familyId: string; sub?: string; reason: 'absolute' | 'idle' | 'invalid_grant' }
  | { type: 'session_revoked'; familyId: string; sub?: string; reason: RevocationReason }
  | { type: 'rate_limited'; limit: 'token_family' | 'anonymous_ip' | 'login_ip'; retryAfter: number }
  | { type: 'csrf_rejected'; path: string; reason: string }
  | { type: 'logged_out'; familyId: string; sub?: string }
  /** The provider refused the BFF itself (wrong secret, unknown client, bad endpoint): an operator must act. */
  | { type: 'configuration_error'; step: string; providerCode: string }
  | { type: 'store_unavailable'; operation: string }
  /**
   * A call through the API proxy (`/proxy/<api>/...`) was answered. `status`: what the browser
   * got; `outcome`: `forwarded` (the API's own answer), `retried` (the API refused the token,
   * one refresh and one retry followed), `refused` (the BFF sent nothing: scope or audience),
   * `timeout`, `unavailable` (no answer from the API) or `redirect_refused` (it pointed elsewhere).
   * Never the path or query, which may hold personal data.
   */
  | { type: 'api_proxied'; familyId: string; sub?: string; api: string; method: string; status: number; outcome: 'forwarded' | 'retried' | 'refused' | 'timeout' | 'unavailable' | 'redirect_refused'; upstreamMs: number }
  /** The provider could not revoke a refresh token (down, or no revocation endpoint answered): the family is denylisted here only. */
  | { type: 'revocation_failed'; familyId: string; sub?: string; reason: string };

/**
 * Routine successes, many a second: a token served from the cache, a call the API proxy
 * forwarded and the API answered below 400. Counted, never written line by line.
 */
export function isRoutine(event: BffEvent): boolean {
  return event.type === 'token_served_from_cache' || (event.type === 'api_proxied' && event.outcome === 'forwarded' && event.status < 400);
}

/**
 * The default `onEvent`: one JSON object per line with a timestamp and a level, ready for
 * any log pipeline. Events carry ids and reasons, never tokens or cookies. Routine successes
 * (a token served from the cache, many per second) are left out; outcomes that matter are not.
 * @example
 * createBff({ ..., onEvent: jsonLinesLogger((line) => process.stderr.write(line + '\n')) });
 */
export function jsonLinesLogger(write: (line: string) => void = (line) => console.log(line)): (event: BffEvent) => void {
  const warn = new Set(['reuse_detected', 'session_revoked', 'rate_limited', 'csrf_rejected', 'refresh_failed', 'stale_cookie_healed', 'store_unavailable', 'revocation_failed', 'sign_in_failed']);
  const error = new Set(['configuration_error']);
  return (event) => {
    if (isRoutine(event)) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: error.has(event.type) ? 'error' : warn.has(event.type) ? 'warn' : 'info', source: 'latchkey', ...event }));
  };
}

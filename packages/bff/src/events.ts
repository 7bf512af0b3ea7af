/** Why a family was revoked. */
export type RevocationReason = 'logout' | 'reuse' | 'revoke_family' | 'revoke_user' | 'new_sign_in' | 'expired';

/** What the BFF reports to `onEvent`: security and lifecycle facts, never a token. */
export type BffEvent =
  | { type: 'session_created'; familyId: string; sub: string }
  | { type: 'token_served_from_cache'; familyId: string }
  | { type: 'token_refreshed'; familyId: string; version: number; upstreamMs: number; rotated: boolean; late?: boolean }
  | { type: 'refresh_failed'; familyId: string; reason: string; shared?: boolean }
  | { type: 'cookie_healed'; familyId: string; fromVersion: number; toVersion: number }
  | { type: 'reuse_detected'; familyId: string; presentedVersion: number; currentVersion: number }
  | { type: 'session_expired'; familyId: string; reason: 'absolute' | 'idle' | 'invalid_grant' }
  | { type: 'session_revoked'; familyId: string; reason: RevocationReason }
  | { type: 'rate_limited'; limit: 'token_family' | 'token_ip' | 'login_ip'; retryAfter: number }
  | { type: 'csrf_rejected'; path: string; reason: string }
  | { type: 'logged_out'; familyId: string };

/**
 * The default `onEvent`: one JSON object per line with a timestamp and a level, ready for
 * any log pipeline. Events carry ids and reasons, never tokens or cookies.
 * @example
 * createBff({ ..., onEvent: jsonLinesLogger((line) => process.stderr.write(line + '\n')) });
 */
export function jsonLinesLogger(write: (line: string) => void = (line) => console.log(line)): (event: BffEvent) => void {
  const warn = new Set(['reuse_detected', 'session_revoked', 'rate_limited', 'csrf_rejected', 'refresh_failed']);
  return (event) => {
    write(JSON.stringify({ time: new Date().toISOString(), level: warn.has(event.type) ? 'warn' : 'info', source: 'latchkey', ...event }));
  };
}

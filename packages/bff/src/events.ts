/** What the BFF reports to `onEvent`: security and lifecycle facts, never a token. */
export type BffEvent =
  | { type: 'session_created'; familyId: string; sub: string }
  | { type: 'token_served_from_cache'; familyId: string }
  | { type: 'token_refreshed'; familyId: string; version: number; upstreamMs: number; rotated: boolean }
  | { type: 'refresh_failed'; familyId: string; reason: string }
  | { type: 'cookie_healed'; familyId: string; fromVersion: number; toVersion: number }
  | { type: 'reuse_detected'; familyId: string; presentedVersion: number; currentVersion: number }
  | { type: 'session_expired'; familyId: string; reason: 'absolute' | 'invalid_grant' }
  | { type: 'session_revoked'; familyId: string }
  | { type: 'csrf_rejected'; path: string; reason: string }
  | { type: 'logged_out'; familyId: string };

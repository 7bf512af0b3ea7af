import type { SessionUser } from '@latchkey/core';

/**
 * What the session cookie holds, kept small: the token family, its rotation version, the
 * refresh token, the user (display claims, or what `userClaims` / `mapUser` chose: 2 KB at
 * most) and the family's times (epoch seconds).
 * Never the access token or the ID token.
 */
export interface SessionData {
  /** Family id: one sign-in and every rotation after it. */
  fid: string;
  /** Rotation version: 1 at sign-in, +1 on every refresh. */
  v: number;
  /** The refresh token. */
  rt: string;
  user: SessionUser;
  /** Family created at (s). */
  ca: number;
  /** Last user activity known when this cookie was written (s); the store has fresher. */
  la?: number;
}

/** Checks the shape of an unsealed session cookie. */
export function isSessionData(value: unknown): value is SessionData {
  const s = value as SessionData;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.fid === 'string' &&
    Number.isInteger(s.v) &&
    typeof s.rt === 'string' &&
    s.rt.length > 0 &&
    typeof s.ca === 'number' &&
    (s.la === undefined || typeof s.la === 'number') &&
    typeof s.user === 'object' &&
    s.user !== null &&
    typeof s.user.sub === 'string'
  );
}

/** The short-lived sign-in transaction, in its own cookie between `/login` and `/callback`. */
export interface TransactionData {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  /** The `max_age` this sign-in asked for: the ID token's `auth_time` must honour it. */
  maxAge?: number;
}

export function isTransactionData(value: unknown): value is TransactionData {
  const t = value as TransactionData;
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.state === 'string' &&
    typeof t.nonce === 'string' &&
    typeof t.verifier === 'string' &&
    typeof t.returnTo === 'string' &&
    (t.maxAge === undefined || Number.isSafeInteger(t.maxAge))
  );
}

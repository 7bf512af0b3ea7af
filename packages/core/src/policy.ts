/** How early, before expiry, a token counts as due for refresh. */
export interface RefreshPolicy {
  /** Refresh when this many seconds or fewer remain (default 60). */
  minRemainingSeconds: number;
  /** …or when this share of the lifetime or less remains (default 0.2). */
  minRemainingRatio: number;
  /** Never refresh earlier than this share of the lifetime before expiry (default 0.5), for very short tokens. */
  maxRemainingRatio: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = Object.freeze({
  minRemainingSeconds: 60,
  minRemainingRatio: 0.2,
  maxRemainingRatio: 0.5,
});

/** A token as a client holds it: times are the local clock's, in milliseconds. */
export interface TokenTiming {
  /** Local time when the token was received. */
  receivedAt: number;
  /** Local time when it expires: `receivedAt + expiresIn * 1000`. */
  expiresAt: number;
}

/**
 * Seconds before expiry at which a token of this lifetime becomes due:
 * max(60 s, 20 % of lifetime), capped at half the lifetime.
 */
export function refreshLeadSeconds(lifetimeSeconds: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const lifetime = Math.max(0, lifetimeSeconds);
  const lead = Math.max(policy.minRemainingSeconds, policy.minRemainingRatio * lifetime);
  return Math.min(lead, policy.maxRemainingRatio * lifetime);
}

/**
 * Computes the local expiry from the receipt time and `expiresIn`, so that the server's
 * clock never matters and time asleep counts as time passed.
 */
export function tokenTiming(receivedAt: number, expiresInSeconds: number): TokenTiming {
  return { receivedAt, expiresAt: receivedAt + Math.max(0, expiresInSeconds) * 1000 };
}

/** Local time (ms) at which the token becomes due for refresh. */
export function refreshDueAt(timing: TokenTiming, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const lifetime = (timing.expiresAt - timing.receivedAt) / 1000;
  return timing.expiresAt - refreshLeadSeconds(lifetime, policy) * 1000;
}

/** Whether the token is due for refresh at `now`. */
export function isRefreshDue(timing: TokenTiming, now: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): boolean {
  return now >= refreshDueAt(timing, policy);
}

/** Seconds of validity left at `now` (never negative). */
export function remainingSeconds(timing: TokenTiming, now: number): number {
  return Math.max(0, (timing.expiresAt - now) / 1000);
}

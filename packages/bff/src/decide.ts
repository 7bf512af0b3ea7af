import type { FamilyLedger } from './ledger.js';
import type { SessionData } from './session.js';

/** The family's state as read from the store, in one place. */
export interface FamilyState {
  /** The ledger, or `undefined` when the store does not know the family (after a memory-store restart, say). */
  ledger: FamilyLedger | undefined;
  /** Why the family was revoked, when it was. */
  revoked: string | undefined;
  /** Last user activity recorded in the store (s), 0 when none. */
  activeAt: number;
  /** Another request met a provider failure moments ago; callers share it instead of storming the provider. */
  sharedFailure: { message: string; retryAfter: number } | undefined;
  /** The ledger as stored (sealed): the shell drops it from the seal cache once it is replaced. Not a rule's input. */
  sealedLedger?: string | undefined;
}

/** What one request brings to the decision. */
export interface TokenRequest {
  presented: SessionData;
  /** Seconds the token must still be valid, as asked (already bounded to 0..86400). */
  minValidity: number;
  /** Seconds since a person last used the app, as the client reports it. */
  idle: number | undefined;
  /** Set while waiting for another request's refresh: the newest version seen when the wait began. */
  waitingSince?: number;
  /** Another request (here or on another instance) holds the family's refresh lock. */
  lockedByOther?: boolean;
  /** Thumbprint of the DPoP key the caller proved it holds; absent for a caller that wants a Bearer token. */
  jkt?: string;
  /** An access token an API refused as invalid (RFC 6750 `invalid_token`): not served again, however fresh. */
  rejected?: string;
}

export interface Policy {
  graceSeconds: number;
  absoluteLifetimeSeconds: number;
  /** 0 turns the idle timeout off. */
  idleTimeoutSeconds: number;
}

/** What to do with a request for a token. */
export type Decision =
  | { action: 'reject'; code: 'session_revoked'; reason: 'revoked' | 'reuse'; currentVersion?: number }
  /** `ended`: the family already ended by expiry or the provider's `invalid_grant`; nothing more to do. */
  | { action: 'reject'; code: 'session_expired'; reason: 'absolute' | 'idle' | 'ended' }
  | { action: 'fail'; retryAfter: number; message: string }
  /**
   * Answer with the newest cached token; `heal` also sends the newest cookie (the presented one
   * has been outdated for `staleMs`). `confirm`: the presented version proves older pending
   * versions outdated; record that (it starts their grace clock).
   */
  | { action: 'serve'; heal: boolean; staleMs?: number; confirm?: true }
  /** Redeem the refresh token: the newest one in the ledger, or (`adopt`) the presented cookie's, for a family the store does not know. */
  | { action: 'refresh'; adopt: boolean; heal: boolean; staleMs?: number }
  /** Another request is refreshing this family: wait for its rotation or its failure. */
  | { action: 'wait' };

/** Denylist reasons that mean the session ran out rather than was taken away. */
const ENDED = new Set(['expired', 'invalid_grant']);

/** A token issued less than this share of its lifetime ago is as fresh as the provider makes them. */
const FRESH_SHARE = 0.25;
/** ... and at most this many seconds ago. */
const FRESH_MAX_SECONDS = 30;

/**
 * The refresh rules of the BFF as one pure function: given the family's state and one
 * request, what to answer. Every rule is a row of the table in the README and of
 * `decide.test.ts`, in the order they are checked:
 *
 * 1. revoked → reject `session_revoked`;
 * 2. past the absolute lifetime → reject `session_expired` (absolute);
 * 3. idle longer than allowed → reject `session_expired` (idle);
 * 4. the presented version has been outdated (a newer one came back) longer than the grace window → reject `session_revoked` (reuse);
 * 5. the cached token of the newest version is bound to the caller's DPoP key (or, for a caller
 *    without one, to none), is not one an API refused, and has `minValidity` left (capped at what a fresh token can give), or
 *    a rotation happened while this request waited → serve it (heal when behind);
 * 6. a provider failure is shared right now → fail with it;
 * 7. another request holds the refresh lock → wait;
 * 8. otherwise → refresh (adopting the presented cookie when the store does not know the family).
 */
export function decide(state: FamilyState, request: TokenRequest, now: number, policy: Policy): Decision {
  const { ledger, revoked } = state;
  const { presented } = request;
  if (revoked !== undefined) {
    return ENDED.has(revoked) ? { action: 'reject', code: 'session_expired', reason: 'ended' } : { action: 'reject', code: 'session_revoked', reason: 'revoked' };
  }

  const createdAt = ledger?.session.ca ?? presented.ca;
  const nowSeconds = Math.floor(now / 1000);
  if (nowSeconds >= createdAt + policy.absoluteLifetimeSeconds) return { action: 'reject', code: 'session_expired', reason: 'absolute' };

  if (policy.idleTimeoutSeconds > 0) {
    const reported = request.idle === undefined ? 0 : nowSeconds - request.idle;
    const lastActive = Math.max(presented.la ?? presented.ca, ledger?.session.la ?? 0, state.activeAt, reported);
    if (nowSeconds - lastActive > policy.idleTimeoutSeconds) return { action: 'reject', code: 'session_expired', reason: 'idle' };
  }

  // A store that lost the family (or a cookie newer than what it knows): redeem the cookie's own token.
  if (!ledger || presented.v > ledger.session.v) {
    if (state.sharedFailure) return { action: 'fail', ...state.sharedFailure };
    return request.lockedByOther ? { action: 'wait' } : { action: 'refresh', adopt: true, heal: false };
  }

  const newest = ledger.session.v;
  const behind = presented.v < newest;
  let staleMs: number | undefined;
  if (behind) {
    const supersededAt = ledger.superseded[presented.v];
    // Not listed: superseded longer ago than anything the ledger remembers.
    if (supersededAt === undefined || (supersededAt !== null && now - supersededAt > policy.graceSeconds * 1000)) {
      return { action: 'reject', code: 'session_revoked', reason: 'reuse', currentVersion: newest };
    }
    staleMs = supersededAt === null ? 0 : now - supersededAt;
  }

  // A token bound to one key is never handed to a caller with another key, nor to one without.
  const token = ledger.token?.v === newest && ledger.token.jkt === request.jkt && ledger.token.accessToken !== request.rejected ? ledger.token : undefined;
  if (token && token.exp > now) {
    const left = (token.exp - now) / 1000;
    const freshest = token.lifetime - Math.min(FRESH_MAX_SECONDS, token.lifetime * FRESH_SHARE);
    const rotatedWhileWaiting = request.waitingSince !== undefined && newest > request.waitingSince;
    if (left >= Math.min(request.minValidity, freshest) || rotatedWhileWaiting) {
      const confirm = Object.entries(ledger.superseded).some(([v, at]) => at === null && Number(v) < presented.v);
      return {
        action: 'serve',
        ...(behind ? { heal: true, staleMs: staleMs! } : { heal: false }),
        ...(confirm && { confirm }),
      };
    }
  }

  if (state.sharedFailure) return { action: 'fail', ...state.sharedFailure };
  if (request.lockedByOther) return { action: 'wait' };
  return behind ? { action: 'refresh', adopt: false, heal: true, staleMs: staleMs! } : { action: 'refresh', adopt: false, heal: false };
}

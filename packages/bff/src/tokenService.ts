import type { TokenResponseBody } from '@latchkey/core';
import type { ResolvedConfig } from './config.js';
import { BffError, UpstreamError } from './errors.js';
import type { RevocationReason } from './events.js';
import type { OidcClient, ProviderTokens } from './oidc.js';
import type { Sealer } from './seal.js';
import { isSessionData, type SessionData } from './session.js';
import { SingleFlight } from './singleFlight.js';

/** An access token cached for a family, with the rotation version it belongs to. */
interface CachedToken {
  v: number;
  accessToken: string;
  /** Expiry on this server's clock, ms. */
  exp: number;
  scope: string;
}

/** The latest rotation of a family: the newest sealed cookie and when it was made. */
interface RotationRecord {
  v: number;
  cookie: string;
  at: number;
  /** The provider answered after the caller had been told 503: nobody got this cookie yet. */
  late?: boolean;
}

/** A provider failure another request already met, shared so that callers do not storm it. */
interface SharedFailure {
  message: string;
  retryAfter: number;
}

/** What `/token` answers with: the token, and the cookie to set when the session moved on. */
export interface TokenOutcome {
  body: TokenResponseBody;
  /** A new sealed session cookie (after a rotation, or to heal a stale one). */
  cookie: string | undefined;
  session: SessionData;
}

const isCachedToken = (v: unknown): v is CachedToken =>
  typeof v === 'object' && v !== null && typeof (v as CachedToken).accessToken === 'string' && typeof (v as CachedToken).exp === 'number';
const isRotationRecord = (v: unknown): v is RotationRecord =>
  typeof v === 'object' && v !== null && typeof (v as RotationRecord).cookie === 'string' && Number.isInteger((v as RotationRecord).v);

/** How often a request waiting for another instance's refresh looks again. */
const POLL_MS = 25;
/** How long a provider failure is shared with callers that arrive meanwhile. */
const SHARED_FAILURE_SECONDS = 2;
/** How long a refresh the caller stopped waiting for may still complete (the lock is held meanwhile). */
const LATE_LIMIT_MS = 60_000;

/**
 * The refresh algorithm of the design (§5): serve a cached token when it is good enough,
 * heal a cookie one rotation behind inside the grace window, treat an older one as reuse,
 * and otherwise refresh once per family — one flight per process, one lock across
 * instances — while every other caller awaits the same result or the same failure.
 */
export class TokenService {
  readonly #config: ResolvedConfig;
  readonly #oidc: OidcClient;
  readonly #sealer: Sealer;
  readonly #flights = new SingleFlight<TokenOutcome>();

  constructor(config: ResolvedConfig, oidc: OidcClient, sealer: Sealer) {
    this.#config = config;
    this.#oidc = oidc;
    this.#sealer = sealer;
  }

  /** Seconds left of the family's absolute lifetime at `now`. */
  remainingLifetime(session: SessionData): number {
    return session.ca + this.#config.absoluteLifetimeSeconds - Math.floor(this.#config.now() / 1000);
  }

  /** Whether a session may still be shown as signed in: not revoked, not past its absolute lifetime. Read-only. */
  async isUsable(session: SessionData): Promise<boolean> {
    return this.remainingLifetime(session) > 0 && !(await this.isRevoked(session.fid));
  }

  /** How long the store keeps what belongs to a family: its remaining lifetime and a minute. */
  #familyTtl(session: SessionData): number {
    return Math.max(60, this.remainingLifetime(session) + 60);
  }

  /** Seals a session into its cookie value, living as long as the family may. */
  sealSession(session: SessionData): Promise<string> {
    return this.#sealer.seal(session, this.remainingLifetime(session) + 60);
  }

  /** Whether the family was revoked (logout, reuse, incident response). */
  async isRevoked(fid: string): Promise<boolean> {
    return (await this.#config.store.get(key('deny', fid))) !== undefined;
  }

  /**
   * Refuses a session that may no longer be used: denylisted → `session_revoked`; past its
   * absolute lifetime, or idle longer than allowed → revoked upstream and `session_expired`.
   * `idleSeconds` is what the client reports (seconds since a person last used the app); it
   * is counted before the check, so a person who just came back from a long token lifetime
   * is not mistaken for an idle one.
   */
  async checkLive(session: SessionData, idleSeconds?: number): Promise<void> {
    const { store, idleTimeoutSeconds } = this.#config;
    if (await this.isRevoked(session.fid)) {
      throw new BffError('session_revoked', 401, 'This session was signed out or revoked. Sign in again.');
    }
    if (this.remainingLifetime(session) <= 0) {
      this.#config.onEvent({ type: 'session_expired', familyId: session.fid, reason: 'absolute' });
      await this.revokeFamily(session, 'expired');
      throw new BffError('session_expired', 401, 'Your session reached its maximum lifetime. Sign in again.');
    }
    if (!idleTimeoutSeconds) return;
    const now = Math.floor(this.#config.now() / 1000);
    const stored = Number((await store.get(key('act', session.fid))) ?? 0);
    const reported = idleSeconds === undefined ? 0 : now - idleSeconds;
    const lastActive = Math.max(session.la ?? session.ca, stored, reported);
    if (now - lastActive > idleTimeoutSeconds) {
      this.#config.onEvent({ type: 'session_expired', familyId: session.fid, reason: 'idle' });
      await this.revokeFamily(session, 'expired');
      throw new BffError('session_expired', 401, `You were signed out after ${formatDuration(idleTimeoutSeconds)} without activity. Sign in again.`);
    }
    if (reported > stored) await store.set(key('act', session.fid), String(reported), idleTimeoutSeconds + 60);
  }

  /** Ends a family for good: later requests with any of its cookies get 401; the refresh token is revoked upstream. */
  async revokeFamily(session: SessionData, reason: RevocationReason): Promise<void> {
    const { store } = this.#config;
    const ttl = this.#familyTtl(session);
    await store.set(key('deny', session.fid), reason, ttl);
    await store.delete(key('at', session.fid));
    // The newest rotation may hold a newer refresh token than the cookie presented.
    const newest = await this.#newestSession(session.fid);
    const refreshTokens = new Set([session.rt, newest?.rt].filter((rt): rt is string => typeof rt === 'string'));
    await Promise.all(
      [...refreshTokens].map((rt) =>
        this.#oidc.revokeRefreshToken(rt).catch(() => {
          // Best effort: the family is denylisted here whatever the provider says.
        }),
      ),
    );
    if (reason !== 'logout' && reason !== 'expired') this.#config.onEvent({ type: 'session_revoked', familyId: session.fid, reason });
  }

  /** Revokes a family by id (incident response): denylists it and revokes its newest refresh token upstream. */
  async revokeFamilyById(fid: string, reason: RevocationReason): Promise<boolean> {
    const newest = await this.#newestSession(fid);
    if (newest) {
      await this.revokeFamily(newest, reason);
      return true;
    }
    const alreadyRevoked = await this.isRevoked(fid);
    await this.#config.store.set(key('deny', fid), reason, this.#config.absoluteLifetimeSeconds + 60);
    if (!alreadyRevoked) this.#config.onEvent({ type: 'session_revoked', familyId: fid, reason });
    return false;
  }

  /** "Sign out everywhere": revokes every family of a user found in the store's index; answers how many. */
  async revokeUser(sub: string): Promise<number> {
    const families = await this.#config.store.members(key('user', sub));
    let revoked = 0;
    for (const fid of families) {
      if (await this.isRevoked(fid)) continue;
      await this.revokeFamilyById(fid, 'revoke_user');
      revoked += 1;
    }
    return revoked;
  }

  /** Starts a family after sign-in: caches its first access token, records version 1, indexes it under the user. */
  async startFamily(session: SessionData, tokens: ProviderTokens, sealed: string): Promise<void> {
    const ttl = this.#familyTtl(session);
    await this.#cache(session, tokens);
    await this.#recordRotation(session, sealed, this.#config.now());
    await this.#config.store.addToSet(key('user', session.user.sub), session.fid, ttl);
  }

  /** A token with at least `minValidity` seconds left for this cookie's family. */
  async getToken(presented: SessionData, minValidity: number): Promise<TokenOutcome> {
    const resolved = await this.#resolveCurrent(presented);
    const cached = await this.#cached(resolved.session);
    if (cached && cached.exp - this.#config.now() >= minValidity * 1000) {
      this.#config.onEvent({ type: 'token_served_from_cache', familyId: presented.fid });
      return this.#outcome(resolved.session, cached, resolved.cookie);
    }
    return this.#flights.run(presented.fid, () => this.#refreshAcrossInstances(resolved.session, resolved.cookie, minValidity));
  }

  /**
   * Which session is current for a presented cookie: itself, or, when it is one rotation
   * behind and inside the grace window, the newer one (heal). Older than that is reuse.
   */
  async #resolveCurrent(presented: SessionData): Promise<{ session: SessionData; cookie: string | undefined }> {
    const record = await this.#rotation(presented.fid);
    if (!record || record.v <= presented.v) return { session: presented, cookie: undefined };
    const newer = await this.#sealer.unseal(record.cookie, isSessionData);
    const withinGrace = this.#config.now() - record.at <= this.#config.graceSeconds * 1000;
    // A late rotation never reached its caller, so the cookie before it is the newest one anybody holds.
    if (newer && record.v === presented.v + 1 && (withinGrace || record.late)) {
      this.#config.onEvent({ type: 'cookie_healed', familyId: presented.fid, fromVersion: presented.v, toVersion: record.v });
      return { session: newer, cookie: record.cookie };
    }
    // A cookie older than the newest rotation allows: someone holds a spent refresh token.
    this.#config.onEvent({ type: 'reuse_detected', familyId: presented.fid, presentedVersion: presented.v, currentVersion: record.v });
    await this.revokeFamily(newer ?? presented, 'reuse');
    throw new BffError('session_revoked', 401, 'This session was ended because an old copy of it was used again. Sign in again.');
  }

  /**
   * One refresh per family across every instance sharing the store: whoever takes the
   * store's lock refreshes; the others poll until the rotation shows up (and answer with it),
   * until the holder's failure shows up (and share it), or until the lock frees up.
   */
  async #refreshAcrossInstances(current: SessionData, healedCookie: string | undefined, minValidity: number): Promise<TokenOutcome> {
    const { store, upstreamTimeoutMs } = this.#config;
    const lockKey = key('lock', current.fid);
    const owner = crypto.randomUUID();
    // The lock outlives the slowest refresh that may still complete, no more; waiters give up sooner.
    const lockMs = LATE_LIMIT_MS + 5_000;
    const waitUntil = performance.now() + upstreamTimeoutMs + 1_000;
    for (;;) {
      const failure = await this.#sharedFailure(current.fid);
      if (failure) {
        this.#config.onEvent({ type: 'refresh_failed', familyId: current.fid, reason: 'upstream_unavailable', shared: true });
        throw new UpstreamError(failure.message, { retryAfter: failure.retryAfter });
      }
      if (await store.setIfAbsent(lockKey, owner, lockMs)) {
        let held: Promise<unknown> | undefined;
        try {
          return await this.#refresh(current, healedCookie, minValidity, (pending) => (held = pending));
        } finally {
          const release = () => store.deleteIfEquals(lockKey, owner);
          if (held) void held.finally(release).catch(() => {});
          else await release();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      // Rotated by another instance while this one waited: that token is as fresh as the
      // provider makes them, even when shorter than minValidity; refreshing again would only spend it.
      const { session, cookie } = await this.#resolveCurrent(current);
      if (session.v !== current.v) {
        const cached = await this.#cached(session);
        if (cached) return this.#outcome(session, cached, cookie);
      }
      if (performance.now() > waitUntil) {
        throw new UpstreamError('Another server was refreshing this session and did not finish in time. Try again shortly.', { retryAfter: 2 });
      }
    }
  }

  /**
   * Redeems the refresh token. Past `upstreamTimeoutMs` the caller gets 503 at once, but the
   * provider call is not abandoned: a provider that received it may still redeem the token,
   * so its late answer is recorded as a `late` rotation (healed on the next request, not taken
   * for reuse), and `hold` keeps the family's lock until it settles.
   */
  async #refresh(
    current: SessionData,
    healedCookie: string | undefined,
    minValidity: number,
    hold: (pending: Promise<unknown>) => void,
  ): Promise<TokenOutcome> {
    // Re-read under the lock: another request or instance may have rotated while this one waited.
    const { session, cookie } = await this.#resolveCurrent(current);
    const cached = await this.#cached(session);
    const rotatedMeanwhile = session.v !== current.v;
    if (cached && (rotatedMeanwhile || cached.exp - this.#config.now() >= minValidity * 1000)) {
      return this.#outcome(session, cached, cookie ?? healedCookie);
    }
    const started = this.#config.now();
    const upstream = this.#oidc.refreshTokens(session.rt, Math.max(LATE_LIMIT_MS, this.#config.upstreamTimeoutMs));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#config.upstreamTimeoutMs);
    });
    let tokens: ProviderTokens;
    try {
      const first = await Promise.race([upstream, timedOut]);
      if (first === 'timeout') {
        hold(upstream.then((late) => this.#rotate(session, late, started, true)).catch(() => {}));
        throw new UpstreamError('The identity provider did not answer the refresh in time. Try again shortly.');
      }
      tokens = first;
    } catch (error) {
      const reason = error instanceof BffError ? error.code : 'unknown';
      this.#config.onEvent({ type: 'refresh_failed', familyId: session.fid, reason });
      if (error instanceof BffError && error.code === 'session_expired') {
        this.#config.onEvent({ type: 'session_expired', familyId: session.fid, reason: 'invalid_grant' });
        await this.#config.store.delete(key('at', session.fid));
      } else if (error instanceof BffError && error.code === 'upstream_unavailable') {
        const failure: SharedFailure = { message: error.message, retryAfter: Number(error.headers['retry-after'] ?? 5) };
        await this.#config.store.set(key('fail', session.fid), JSON.stringify(failure), SHARED_FAILURE_SECONDS);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return this.#rotate(session, tokens, started, false);
  }

  /** Records a successful refresh: the next version, its cookie, the cached access token. */
  async #rotate(session: SessionData, tokens: ProviderTokens, started: number, late: boolean): Promise<TokenOutcome> {
    const now = this.#config.now();
    const storedActivity = Number((await this.#config.store.get(key('act', session.fid))) ?? 0);
    const next: SessionData = {
      ...session,
      v: session.v + 1,
      rt: tokens.refreshToken ?? session.rt,
      la: Math.max(session.la ?? session.ca, storedActivity),
    };
    const sealed = await this.sealSession(next);
    const fresh = await this.#cache(next, tokens);
    await this.#recordRotation(next, sealed, now, late);
    // The provider answers again: nobody should be turned away by an older failure.
    await this.#config.store.delete(key('fail', session.fid));
    this.#config.onEvent({
      type: 'token_refreshed',
      familyId: next.fid,
      version: next.v,
      upstreamMs: now - started,
      rotated: tokens.refreshToken !== undefined && tokens.refreshToken !== session.rt,
      ...(late && { late }),
    });
    return this.#outcome(next, fresh, sealed);
  }

  async #rotation(fid: string): Promise<RotationRecord | undefined> {
    return this.#sealer.unseal(await this.#config.store.get(key('rot', fid)), isRotationRecord);
  }

  async #newestSession(fid: string): Promise<SessionData | undefined> {
    const record = await this.#rotation(fid);
    return record ? this.#sealer.unseal(record.cookie, isSessionData) : undefined;
  }

  async #recordRotation(session: SessionData, sealed: string, at: number, late = false): Promise<void> {
    const record: RotationRecord = { v: session.v, cookie: sealed, at, ...(late && { late }) };
    const ttl = this.#familyTtl(session);
    await this.#config.store.set(key('rot', session.fid), await this.#sealer.seal(record, ttl), ttl);
  }

  async #sharedFailure(fid: string): Promise<SharedFailure | undefined> {
    const raw = await this.#config.store.get(key('fail', fid));
    if (!raw) return undefined;
    try {
      const failure = JSON.parse(raw) as SharedFailure;
      return typeof failure.message === 'string' && typeof failure.retryAfter === 'number' ? failure : undefined;
    } catch {
      return undefined;
    }
  }

  async #cached(session: SessionData): Promise<CachedToken | undefined> {
    const cached = await this.#sealer.unseal(await this.#config.store.get(key('at', session.fid)), isCachedToken);
    return cached && cached.v === session.v && cached.exp > this.#config.now() ? cached : undefined;
  }

  async #cache(session: SessionData, tokens: ProviderTokens): Promise<CachedToken> {
    const cached: CachedToken = {
      v: session.v,
      accessToken: tokens.accessToken,
      exp: this.#config.now() + tokens.expiresIn * 1000,
      scope: tokens.scope,
    };
    await this.#config.store.set(key('at', session.fid), await this.#sealer.seal(cached, tokens.expiresIn + 60), tokens.expiresIn);
    return cached;
  }

  #outcome(session: SessionData, token: CachedToken, cookie: string | undefined): TokenOutcome {
    const now = this.#config.now();
    return {
      session,
      cookie,
      body: {
        accessToken: token.accessToken,
        tokenType: 'Bearer',
        expiresIn: Math.max(0, Math.floor((token.exp - now) / 1000)),
        expiresAt: Math.floor(token.exp / 1000),
        scope: token.scope,
        user: session.user,
      },
    };
  }
}

/** Store keys, all under `latchkey:`: access-token cache, rotation record, denylist, lock, shared failure, activity, user index. */
export function key(kind: 'at' | 'rot' | 'deny' | 'lock' | 'fail' | 'act' | 'user', id: string): string {
  return `latchkey:${kind}:${id}`;
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} seconds`;
}

import type { TokenResponseBody } from '@latchkey/core';
import type { ResolvedConfig } from './config.js';
import { BffError } from './errors.js';
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

/**
 * The refresh algorithm of the design (§5): serve a cached token when it is good enough,
 * heal a cookie one rotation behind inside the grace window, treat an older one as reuse,
 * and otherwise refresh once per family while every other caller awaits the same result.
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

  /** Seals a session into its cookie value, living as long as the family may. */
  sealSession(session: SessionData): Promise<string> {
    return this.#sealer.seal(session, this.remainingLifetime(session) + 60);
  }

  /** Whether the family was revoked (logout, reuse, incident response). */
  async isRevoked(fid: string): Promise<boolean> {
    return (await this.#config.store.get(key('deny', fid))) !== undefined;
  }

  /** Ends a family for good: later requests with any of its cookies get 401. */
  async revokeFamily(session: SessionData): Promise<void> {
    const { store } = this.#config;
    const ttl = Math.max(60, this.remainingLifetime(session) + 60);
    await store.set(key('deny', session.fid), '1', ttl);
    await store.delete(key('at', session.fid));
    await this.#oidc.revokeRefreshToken(session.rt).catch(() => {
      // Best effort: the family is denylisted here whatever the provider says.
    });
  }

  /** Records the tokens of a fresh sign-in (version 1) in the cache. */
  async remember(session: SessionData, tokens: ProviderTokens): Promise<void> {
    await this.#cache(session, tokens);
  }

  /** A token with at least `minValidity` seconds left for this cookie's family. */
  async getToken(presented: SessionData, minValidity: number): Promise<TokenOutcome> {
    const resolved = await this.#resolveCurrent(presented);
    const cached = await this.#cached(resolved.session);
    if (cached && cached.exp - this.#config.now() >= minValidity * 1000) {
      this.#config.onEvent({ type: 'token_served_from_cache', familyId: presented.fid });
      return this.#outcome(resolved.session, cached, resolved.cookie);
    }
    return this.#flights.run(presented.fid, () => this.#refresh(resolved.session));
  }

  /**
   * Which session is current for a presented cookie: itself, or, when it is one rotation
   * behind and inside the grace window, the newer one (heal). Older than that is reuse.
   */
  async #resolveCurrent(presented: SessionData): Promise<{ session: SessionData; cookie: string | undefined }> {
    const record = await this.#sealer.unseal(await this.#config.store.get(key('rot', presented.fid)), isRotationRecord);
    if (!record || record.v <= presented.v) return { session: presented, cookie: undefined };
    const newer = await this.#sealer.unseal(record.cookie, isSessionData);
    const withinGrace = this.#config.now() - record.at <= this.#config.graceSeconds * 1000;
    if (newer && record.v === presented.v + 1 && withinGrace) {
      this.#config.onEvent({ type: 'cookie_healed', familyId: presented.fid, fromVersion: presented.v, toVersion: record.v });
      return { session: newer, cookie: record.cookie };
    }
    // A cookie older than the newest rotation allows: someone holds a spent refresh token.
    this.#config.onEvent({ type: 'reuse_detected', familyId: presented.fid, presentedVersion: presented.v, currentVersion: record.v });
    await this.revokeFamily(newer ?? presented);
    throw new BffError('session_revoked', 401, 'This session was ended because an old copy of it was used again. Sign in again.');
  }

  async #cached(session: SessionData): Promise<CachedToken | undefined> {
    const cached = await this.#sealer.unseal(await this.#config.store.get(key('at', session.fid)), isCachedToken);
    return cached && cached.v === session.v && cached.exp > this.#config.now() ? cached : undefined;
  }

  async #refresh(current: SessionData): Promise<TokenOutcome> {
    // Re-read inside the flight: another request may have rotated while this one waited.
    const { session, cookie } = await this.#resolveCurrent(current);
    if (session.v !== current.v) {
      const cached = await this.#cached(session);
      if (cached) return this.#outcome(session, cached, cookie);
    }
    const started = this.#config.now();
    let tokens: ProviderTokens;
    try {
      tokens = await this.#oidc.refreshTokens(session.rt);
    } catch (error) {
      const reason = error instanceof BffError ? error.code : 'unknown';
      this.#config.onEvent({ type: 'refresh_failed', familyId: session.fid, reason });
      if (error instanceof BffError && error.code === 'session_expired') {
        this.#config.onEvent({ type: 'session_expired', familyId: session.fid, reason: 'invalid_grant' });
        await this.#config.store.delete(key('at', session.fid));
      }
      throw error;
    }
    const next: SessionData = { ...session, v: session.v + 1, rt: tokens.refreshToken ?? session.rt };
    const sealed = await this.sealSession(next);
    const cached = await this.#cache(next, tokens);
    const record: RotationRecord = { v: next.v, cookie: sealed, at: this.#config.now() };
    const ttl = Math.max(60, this.remainingLifetime(next) + 60);
    await this.#config.store.set(key('rot', next.fid), await this.#sealer.seal(record, ttl), ttl);
    this.#config.onEvent({
      type: 'token_refreshed',
      familyId: next.fid,
      version: next.v,
      upstreamMs: this.#config.now() - started,
      rotated: tokens.refreshToken !== undefined && tokens.refreshToken !== session.rt,
    });
    return this.#outcome(next, cached, sealed);
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

function key(kind: 'at' | 'rot' | 'deny', fid: string): string {
  return `latchkey:${kind}:${fid}`;
}

import type { TokenResponseBody } from '@latchkey/core';
import type { ResolvedConfig } from './config.js';
import { decide, type Decision, type FamilyState, type TokenRequest } from './decide.js';
import { BffError, UpstreamError } from './errors.js';
import { StoreUnavailableError } from './guardedStore.js';
import type { RevocationReason } from './events.js';
import { FamilyLock } from './familyLock.js';
import { key } from './keys.js';
import { confirmLedger, isLedger, rotateLedger, type CachedToken, type FamilyLedger } from './ledger.js';
import { ACTIVE_SESSIONS_KEY, refreshOutcomeOf, type RefreshOutcome, type TokenResult } from './metrics.js';
import type { OidcClient, ProviderTokens } from './oidc.js';
import { DPOP_MAX_AGE_SECONDS, type DpopProof } from './dpop.js';
import type { Sealer } from './seal.js';
import type { SessionData } from './session.js';
import { SingleFlight } from './singleFlight.js';
import { currentRequest } from './requestContext.js';

/**
 * The store failed after the provider had already rotated: no token can be vouched for, but
 * the new cookie must still reach the browser, or it would be left holding a spent refresh token.
 */
export class RotatedButUnavailableError extends StoreUnavailableError {
  constructor(
    cause: unknown,
    readonly outcome: TokenOutcome,
  ) {
    super('The session store is not answering. Try again shortly; the session is kept.', cause);
  }
}

/** What `/token` answers with: the token, and the cookie to set when the session moved on. */
export interface TokenOutcome {
  body: TokenResponseBody;
  /** A new sealed session cookie (after a rotation, or to heal a stale one). */
  cookie: string | undefined;
  session: SessionData;
  /**
   * After a rotation: whether the family was revoked, read once the provider had answered, in
   * the same round trip as the ledger write (Redis pipelines them), so the check after the
   * flight costs no round trip of its own.
   */
  revokedAfter?: Promise<boolean>;
  /** How this request got its token, for `latchkey.token.requests` (absent: it refreshed). */
  via?: Exclude<TokenResult, 'rejected'>;
}

/** Records outlive the family's last possible use by this much, so no late request finds them gone. */
const SLACK_SECONDS = 60;
/** How long a provider failure is shared with callers that arrive meanwhile. */
const SHARED_FAILURE_SECONDS = 2;
/** How long a refresh the caller stopped waiting for may still complete (the lock is held meanwhile). */
const LATE_LIMIT_MS = 60_000;
/** How often a request waiting for another instance's refresh looks again. */
const POLL_MS = 25;

const revokedMessage = 'This session was signed out or revoked. Sign in again.';
const reuseMessage = 'This session was ended because an old copy of it was used again. Sign in again.';

/**
 * The shell around {@link decide}: reads a family's state, acts on the decision (serve, heal,
 * refresh under the family lock, wait, reject) and writes what changed. One refresh per
 * family runs at a time: one flight per process, one store lock across instances.
 */
export class TokenService {
  readonly #config: ResolvedConfig;
  readonly #oidc: OidcClient;
  readonly #sealer: Sealer;
  readonly #flights = new SingleFlight<TokenOutcome>();
  readonly #lock: FamilyLock;
  #dpopIgnoredLogged = false;

  constructor(config: ResolvedConfig, oidc: OidcClient, sealer: Sealer) {
    this.#config = config;
    this.#oidc = oidc;
    this.#sealer = sealer;
    // Held through the longest provider call that may still complete, and the writes after it.
    this.#lock = new FamilyLock(config.store, Math.max(LATE_LIMIT_MS, config.upstreamTimeoutMs) + 3 * config.storeTimeoutMs + 5_000);
  }

  /** Seconds left of the family's absolute lifetime. */
  remainingLifetime(session: SessionData): number {
    return session.ca + this.#config.absoluteLifetimeSeconds - Math.floor(this.#config.now() / 1000);
  }

  /** How long the store keeps what belongs to a family: as long as it may live, and a little. */
  #familyTtl(session: SessionData): number {
    return Math.max(SLACK_SECONDS, this.remainingLifetime(session) + SLACK_SECONDS);
  }

  /** Seals a session into its cookie value, living as long as the family may. */
  sealSession(session: SessionData): string {
    return this.#sealer.seal(session, this.#familyTtl(session));
  }

  /** Seals a cookie that will be handed out (sign-in, rotation), and records its size. */
  #sealCookie(session: SessionData): string {
    const sealed = this.sealSession(session);
    // Sealed cookies are ASCII (base64url and separators): characters are bytes.
    this.#config.metrics.cookieSize(sealed.length);
    return sealed;
  }

  /** Reads everything the rules need about a family in one go. */
  async #state(fid: string): Promise<FamilyState> {
    const [sealed, revoked, activeAt, failure] = await this.#config.store.getMany([key('fam', fid), key('deny', fid), key('act', fid), key('fail', fid)]);
    return {
      ledger: this.#sealer.unseal(sealed, isLedger),
      revoked,
      activeAt: Number(activeAt ?? 0),
      sharedFailure: parseFailure(failure),
      sealedLedger: sealed,
    };
  }

  #decide(state: FamilyState, request: TokenRequest): Decision {
    return decide(state, request, this.#config.now(), this.#config);
  }

  /**
   * A token with at least `minValidity` seconds left for this cookie's family (capped at what the
   * provider's tokens can give). With a DPoP `proof`, one bound to the proof's key: the cached
   * token when it is bound to that key, else a refresh that forwards the proof. `rejected`: an
   * access token an API refused (401 `invalid_token`), never served again however fresh.
   */
  async getToken(presented: SessionData, minValidity: number, idle: number | undefined, options: TokenOptions = {}): Promise<TokenOutcome> {
    let result: TokenResult = 'rejected';
    try {
      const outcome = await this.#getToken(presented, minValidity, idle, options);
      const via = (result = outcome.via ?? 'refreshed');
      // For the operations dashboard, which counts /token answers by the same result.
      const current = currentRequest();
      if (current) current.tokenVia = via;
      return outcome;
    } finally {
      this.#config.metrics.tokenRequest(result);
    }
  }

  async #getToken(presented: SessionData, minValidity: number, idle: number | undefined, { proof, rejected }: TokenOptions): Promise<TokenOutcome> {
    const request: RefreshRequest = { presented, minValidity, idle, ...(proof && { jkt: proof.jkt, proof }), ...(rejected !== undefined && { rejected }) };
    const state = await this.#state(presented.fid);
    const decision = this.#decide(state, request);
    if (decision.action !== 'refresh') {
      const outcome = await this.#settle(decision, state, request);
      this.#noteActivity(presented, idle, state.activeAt);
      return outcome;
    }
    // Whether this request runs the flight, or joins one another request of this process runs.
    let led = false;
    const joined = this.#config.now();
    let outcome: TokenOutcome;
    try {
      // One flight per family and key: a caller with another key (or none) needs a token of its own.
      outcome = await this.#flights.run(proof ? `${presented.fid} ${proof.jkt}` : presented.fid, () => {
        led = true;
        return this.#refreshUnderLock(request, state);
      });
    } finally {
      if (!led) this.#config.metrics.lockWait((this.#config.now() - joined) / 1000);
    }
    const cookie = outcome.session.v === presented.v ? undefined : outcome.cookie;
    // A revocation that landed while this request was in flight wins: no token leaves after it.
    let revoked: boolean;
    try {
      revoked = await (outcome.revokedAfter ?? this.isRevoked(presented.fid));
    } catch (error) {
      throw new RotatedButUnavailableError(error, { ...outcome, cookie });
    }
    if (revoked) throw new BffError('session_revoked', 401, revokedMessage);
    let via = led ? outcome.via : 'waited';
    // Unless the flight this request led already healed it (and said so).
    if (decision.heal && via !== 'healed') {
      this.#healed(presented, outcome.session.v, decision.staleMs);
      via = 'healed';
    }
    this.#noteActivity(presented, idle, state.activeAt);
    return { ...outcome, cookie, via };
  }

  /**
   * Whether a cookie may be shown as signed in, read-only where the store knows the family. A
   * family it does not know (the memory store restarted) is confirmed with the provider by a
   * refresh before it counts; its new cookie goes out where the caller can set cookies, and
   * until one comes back the presented cookie keeps healing.
   */
  async confirm(presented: SessionData, refreshUnknown = true): Promise<TokenOutcome | 'signed_in' | undefined> {
    const state = await this.#state(presented.fid);
    const decision = this.#decide(state, { presented, minValidity: 0, idle: undefined });
    if (decision.action === 'reject') return undefined;
    if (state.ledger && presented.v <= state.ledger.session.v) return 'signed_in';
    // Where a rotated cookie could not be written (a server component), an unknown family is
    // taken on its cookie's word (sealed by us, within its lifetimes, not denylisted here): a
    // refresh now would spend the cookie's token, and another instance would then see reuse.
    if (!refreshUnknown) return 'signed_in';
    try {
      return await this.getToken(presented, 0, undefined);
    } catch (error) {
      if (error instanceof BffError && (error.code === 'session_expired' || error.code === 'session_revoked')) return undefined;
      throw error;
    }
  }

  /**
   * Acts on a decision that needs no refresh: serve, heal, fail or reject. `waited`: this request
   * waited for another instance's refresh of the version it presented, so what it is served is
   * that rotation (its cookie included), not a heal of a stale cookie, as for a request that
   * joined a refresh in this process.
   */
  async #settle(decision: Decision, state: FamilyState, request: TokenRequest, waited = false): Promise<TokenOutcome> {
    const { presented } = request;
    switch (decision.action) {
      case 'serve': {
        const ledger = state.ledger!;
        const via = waited ? 'waited' : decision.heal ? 'healed' : 'cached';
        if (via === 'healed') this.#healed(presented, ledger.session.v, decision.staleMs);
        else if (via === 'cached') this.#config.onEvent({ type: 'token_served_from_cache', familyId: presented.fid });
        if (decision.confirm) await this.#confirm(presented);
        return { ...this.#outcome(ledger.session, ledger.token!, decision.heal ? ledger.cookie : undefined), via };
      }
      case 'fail':
        this.#config.onEvent({ type: 'refresh_failed', familyId: presented.fid, reason: 'upstream_unavailable', shared: true });
        throw new UpstreamError(decision.message, { retryAfter: decision.retryAfter });
      case 'reject':
        return this.#reject(decision, state, presented);
      default:
        throw new Error(`unexpected decision ${decision.action}`);
    }
  }

  /** A cookie behind the newest version got the newest one: normal for a lagging tab, a signal when it repeats. */
  #healed(presented: SessionData, toVersion: number, staleMs = 0): void {
    this.#config.onEvent({ type: 'stale_cookie_healed', familyId: presented.fid, sub: presented.user.sub, fromVersion: presented.v, toVersion, ageMs: staleMs });
  }

  /**
   * Records that a newer version came back, which starts the grace clock of the pending ones
   * below it. Best effort, under the lock like every ledger write: while another request holds
   * it, its rotation records the same.
   */
  async #confirm(presented: SessionData): Promise<void> {
    const lock = await this.#lock.acquire(presented.fid).catch(() => undefined);
    if (!lock) return;
    try {
      const { ledger } = await this.#state(presented.fid);
      const updated = ledger && confirmLedger(ledger, presented.v, this.#config.now());
      if (updated) await this.#writeLedger(updated);
    } catch {
      // The next request that presents this version tries again.
    } finally {
      await lock.release().catch(() => {});
    }
  }

  async #reject(decision: Extract<Decision, { action: 'reject' }>, state: FamilyState, presented: SessionData): Promise<never> {
    const newest = state.ledger?.session ?? presented;
    if (decision.reason === 'ended') throw new BffError('session_expired', 401, 'This session has ended. Sign in again.');
    if (decision.code === 'session_revoked') {
      if (decision.reason === 'reuse') {
        this.#config.onEvent({ type: 'reuse_detected', familyId: presented.fid, sub: presented.user.sub, presentedVersion: presented.v, currentVersion: decision.currentVersion ?? newest.v });
        await this.revokeFamily(presented.fid, 'reuse', [presented, newest]);
        throw new BffError('session_revoked', 401, reuseMessage);
      }
      throw new BffError('session_revoked', 401, revokedMessage);
    }
    this.#config.onEvent({ type: 'session_expired', familyId: presented.fid, sub: presented.user.sub, reason: decision.reason });
    await this.revokeFamily(presented.fid, 'expired', [presented, newest]);
    throw new BffError(
      'session_expired',
      401,
      decision.reason === 'idle'
        ? `You were signed out after ${formatDuration(this.#config.idleTimeoutSeconds)} without activity. Sign in again.`
        : 'Your session reached its maximum lifetime. Sign in again.',
    );
  }

  /**
   * Takes the family's lock and refreshes, or, while another request holds it, waits for its
   * rotation or its failure — re-deciding on fresh state each time round.
   */
  async #refreshUnderLock(request: RefreshRequest, first: FamilyState): Promise<TokenOutcome> {
    const wait: { since?: number } = {};
    try {
      return await this.#lockOrWait(request, first, wait);
    } finally {
      if (wait.since !== undefined) this.#config.metrics.lockWait((this.#config.now() - wait.since) / 1000);
    }
  }

  async #lockOrWait(request: RefreshRequest, first: FamilyState, wait: { since?: number }): Promise<TokenOutcome> {
    const waitUntil = performance.now() + this.#config.upstreamTimeoutMs + 1_000;
    const waitingSince = first.ledger?.session.v ?? request.presented.v;
    // A cookie already behind when the wait began is still a stale one, healed as such.
    const waitedForRotation = () => wait.since !== undefined && request.presented.v >= waitingSince;
    let state = first;
    for (;;) {
      // The state is read again with the lock, in the same round trip and after it: another
      // request or instance may have rotated meanwhile, and what it wrote is then seen.
      const acquiring = this.#lock.acquire(request.presented.fid);
      const reading = this.#state(request.presented.fid);
      const lock = await acquiring.catch((error: unknown) => {
        reading.catch(() => {});
        throw error;
      });
      if (lock) {
        let holdUntil: Promise<unknown> | undefined;
        try {
          state = await reading;
          const decision = this.#decide(state, { ...request, waitingSince });
          if (decision.action !== 'refresh') return await this.#settle(decision, state, request, waitedForRotation());
          const current = decision.adopt ? request.presented : state.ledger!.session;
          return await this.#redeem(state, current, request, (pending) => (holdUntil = pending));
        } finally {
          // Not awaited: the answer need not wait for it, and a release that fails leaves the lock
          // to expire on its own; it must not cost the caller its new cookie.
          if (holdUntil) void holdUntil.finally(() => lock.release()).catch(() => {});
          else void lock.release().catch(() => {});
        }
      }
      reading.catch(() => {});
      wait.since ??= this.#config.now();
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      state = await this.#state(request.presented.fid);
      const decision = this.#decide(state, { ...request, waitingSince, lockedByOther: true });
      if (decision.action !== 'wait' && decision.action !== 'refresh') return this.#settle(decision, state, request, waitedForRotation());
      if (performance.now() > waitUntil) {
        throw new UpstreamError('Another server was refreshing this session and did not finish in time. Try again shortly.', { retryAfter: 2 });
      }
    }
  }

  /**
   * Redeems the refresh token of `current` with a deadline. Past `upstreamTimeoutMs` the caller
   * gets 503 at once, but the call is not abandoned: a provider that received it may still
   * redeem the token, so its late answer is recorded as a pending rotation (healed, not taken
   * for reuse), and `hold` keeps the family's lock until it settles.
   */
  async #redeem(state: FamilyState, current: SessionData, request: RefreshRequest, hold: (pending: Promise<unknown>) => void): Promise<TokenOutcome> {
    const presented = request.presented.v;
    const { proof } = request;
    // The provider refuses a proof it has seen with invalid_grant, which reads as a dead refresh
    // token and would end the session: a proof is forwarded once, by any instance, never twice.
    if (proof && !(await this.#config.store.setIfAbsent(key('dpop', proof.jti), '1', 2 * DPOP_MAX_AGE_SECONDS * 1000))) {
      throw new BffError('invalid_dpop_proof', 400, 'The DPoP proof was refused: it was already used. Send a new proof with each request.');
    }
    const started = this.#config.now();
    const upstream = this.#oidc.refreshTokens(current.rt, Math.max(LATE_LIMIT_MS, this.#config.upstreamTimeoutMs), proof?.jwt);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#config.upstreamTimeoutMs);
    });
    let timedOut = false;
    let tokens: ProviderTokens;
    try {
      const first = await Promise.race([upstream, deadline]);
      if (first === 'timeout') {
        timedOut = true;
        hold(upstream.then((late) => this.#rotate(state, current, late, started, presented, proof, true)).catch(() => {}));
        throw new UpstreamError('The identity provider did not answer the refresh in time. Try again shortly.');
      }
      tokens = first;
    } catch (error) {
      this.#refreshEnded(timedOut ? 'timeout' : refreshOutcomeOf(error), started);
      await this.#refreshFailed(error, current);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return this.#rotate(state, current, tokens, started, presented, proof);
  }

  /** Records one refresh grant's outcome and how long it took since `started`. */
  #refreshEnded(outcome: RefreshOutcome, started: number): void {
    this.#config.metrics.refresh(outcome, (this.#config.now() - started) / 1000);
  }

  async #refreshFailed(error: unknown, current: SessionData): Promise<void> {
    const code = error instanceof BffError ? error.code : 'unknown';
    this.#config.onEvent({ type: 'refresh_failed', familyId: current.fid, reason: code });
    if (code === 'session_expired') {
      // The provider no longer honours the grant: the family is over here too, on every instance.
      this.#config.onEvent({ type: 'session_expired', familyId: current.fid, sub: current.user.sub, reason: 'invalid_grant' });
      await this.#denylist(current, 'invalid_grant');
    } else if (code === 'upstream_unavailable' && error instanceof BffError) {
      const failure = JSON.stringify({ message: error.message, retryAfter: Number(error.headers['retry-after'] ?? 5) });
      await this.#config.store.set(key('fail', current.fid), failure, SHARED_FAILURE_SECONDS, { evictable: true });
    }
  }

  /** Records a successful refresh: the next version, its cookie and access token, in the ledger. */
  async #rotate(
    state: FamilyState,
    current: SessionData,
    tokens: ProviderTokens,
    started: number,
    presented: number,
    proof: DpopProof | undefined,
    late = false,
  ): Promise<TokenOutcome> {
    const { store, now } = this.#config;
    const { ledger } = state;
    const at = now();
    const next: SessionData = {
      ...current,
      v: Math.max(current.v, ledger?.session.v ?? 0) + 1,
      rt: tokens.refreshToken ?? current.rt,
      la: Math.max(current.la ?? current.ca, state.activeAt),
    };
    const sealed = this.#sealCookie(next);
    const token = cachedToken(next.v, tokens, at, proof && this.#boundTo(proof, tokens));
    const updated = rotateLedger(ledger, current, { session: next, cookie: sealed, token, idToken: tokens.idToken }, presented, at, this.#config.graceSeconds * 1000);
    // Written together (one round trip to Redis). The cookie goes out even if they fail: the
    // browser must hold the only live refresh token.
    let recorded = true;
    const writes = Promise.all([
      this.#writeLedger(updated).then(
        () => this.#sealer.forget(state.sealedLedger),
        (error: unknown) => {
          recorded = false;
          console.error('[latchkey] could not record a rotation', error);
        },
      ),
      this.#markActive(next, tokens.expiresIn),
      // A family adopted after the store lost it joins the user's index again, so "sign out everywhere" finds it.
      !ledger && this.#index(next).catch(() => {}),
      // Only the lock holder records a failure: one was seen under this lock, or this very call timed out.
      (state.sharedFailure || late) && store.delete(key('fail', current.fid)).catch(() => {}),
    ]);
    // Sent after the writes, in their round trip (no wait of its own): a revocation that lands
    // while they travel is still seen. getToken() reads it after the flight.
    const revokedAfter = this.isRevoked(next.fid);
    revokedAfter.catch(() => {});
    await writes;
    this.#config.onEvent({
      type: 'token_refreshed',
      familyId: next.fid,
      sub: next.user.sub,
      version: next.v,
      upstreamMs: at - started,
      rotated: tokens.refreshToken !== undefined && tokens.refreshToken !== current.rt,
      ...(late && { late }),
    });
    // A late answer's grant was already counted as a timeout. The revocation read travelled with
    // the writes, so it has settled or soon will: this records without a wait of its own.
    if (!late) {
      void revokedAfter.then(
        (revoked) => this.#refreshEnded(revoked ? 'reuse_revoked' : recorded ? 'success' : 'store_error', started),
        () => this.#refreshEnded('store_error', started),
      );
    }
    return { ...this.#outcome(next, token, sealed), revokedAfter };
  }

  /**
   * The key a new access token is bound to: the proof's, when the provider answered a DPoP token.
   * A provider that ignored the proof answered a Bearer token: served as such, and said once.
   */
  #boundTo(proof: DpopProof, tokens: ProviderTokens): string | undefined {
    if (tokens.tokenType === 'dpop') return proof.jkt;
    if (!this.#dpopIgnoredLogged) {
      this.#dpopIgnoredLogged = true;
      console.error('[latchkey] configuration error: dpop is on, but the identity provider answered a DPoP refresh with a Bearer token. Enable DPoP at the provider, or turn dpop off; until then each DPoP /token call refreshes.');
    }
    return undefined;
  }

  async #writeLedger(ledger: FamilyLedger): Promise<void> {
    const ttl = this.#familyTtl(ledger.session);
    await this.#config.store.set(key('fam', ledger.session.fid), this.#sealer.seal(ledger, ttl), ttl);
  }

  /** Starts a family after sign-in: its ledger with version 1 and the first access token, indexed under the user. */
  async startFamily(session: SessionData, tokens: ProviderTokens): Promise<string> {
    const cookie = this.#sealCookie(session);
    const ledger: FamilyLedger = {
      session,
      cookie,
      superseded: {},
      token: cachedToken(session.v, tokens, this.#config.now()),
      ...(tokens.idToken !== undefined && { idToken: tokens.idToken }),
    };
    await this.#writeLedger(ledger);
    await Promise.all([this.#index(session), this.#markActive(session, tokens.expiresIn)]);
    return cookie;
  }

  /**
   * Lists a family as live for `latchkey.sessions.active` (again after each rotation), until it
   * can no longer be used: its absolute lifetime, or, with an idle timeout, that timeout plus one
   * access-token lifetime (activity is reported with token calls, so none can come later than
   * that without a refresh listing it again). Ended families are taken out. Best effort: metrics
   * never fail a sign-in or a refresh.
   */
  #markActive(session: SessionData, tokenLifetime: number): Promise<unknown> {
    const { store, idleTimeoutSeconds } = this.#config;
    const family = this.#familyTtl(session);
    const ttl = idleTimeoutSeconds ? Math.min(family, idleTimeoutSeconds + tokenLifetime + SLACK_SECONDS) : family;
    return store.addToSet(ACTIVE_SESSIONS_KEY, session.fid, ttl, Number.MAX_SAFE_INTEGER).catch(() => {});
  }

  /** Takes an ended family out of the live ones; best effort (its entry expires anyway). */
  #markEnded(fid: string): Promise<unknown> {
    return this.#config.store.removeFromSet(ACTIVE_SESSIONS_KEY, fid).catch(() => {});
  }

  /**
   * Lists a family under its user, for "sign out everywhere". Each entry expires with its family;
   * past `maxSessionsPerUser` live families, the oldest are signed out, so the index stays bounded
   * and no family is ever live without being listed.
   */
  async #index(session: SessionData): Promise<void> {
    const { store, maxSessionsPerUser } = this.#config;
    const dropped = await store.addToSet(key('user', session.user.sub), session.fid, this.#familyTtl(session), maxSessionsPerUser);
    for (const fid of dropped) {
      if (fid === session.fid) continue;
      void this.revokeFamily(fid, 'session_limit').catch((error: unknown) => console.error('[latchkey] could not end a session over the per-user limit', error));
    }
  }

  /** The newest ID token of a family, for `id_token_hint` at logout. */
  async idToken(fid: string): Promise<string | undefined> {
    return (this.#sealer.unseal(await this.#config.store.get(key('fam', fid)), isLedger))?.idToken;
  }

  /** Whether the family was revoked (logout, reuse, incident response). */
  async isRevoked(fid: string): Promise<boolean> {
    return (await this.#config.store.get(key('deny', fid))) !== undefined;
  }

  async #denylist(session: SessionData, reason: RevocationReason): Promise<void> {
    await Promise.all([this.#config.store.set(key('deny', session.fid), reason, this.#familyTtl(session)), this.#markEnded(session.fid)]);
  }

  /**
   * Ends a family for good: denylisted first (so no instance hands out another token), then its
   * refresh tokens — the presented ones and the newest in the ledger — revoked upstream. The
   * upstream revocation runs even when the store fails, and its own failure is reported as
   * `revocation_failed` (a memory-store BFF that restarts relies on it). `upstream: false`
   * skips the provider: when a new sign-in shares the provider's grant, revoking the old token
   * would end the new session too. Answers whether the family was live until now.
   */
  async revokeFamily(fid: string, reason: RevocationReason, known: SessionData[] = [], upstream = true): Promise<boolean> {
    const { store } = this.#config;
    let storeError: unknown;
    const ledger = await store
      .get(key('fam', fid))
      .then((sealed) => this.#sealer.unseal(sealed, isLedger))
      .catch((error: unknown) => void (storeError = error));
    const sessions = [...known, ...(ledger ? [ledger.session] : [])];
    const ttl = sessions[0] ? this.#familyTtl(sessions[0]) : this.#config.absoluteLifetimeSeconds + SLACK_SECONDS;
    let wasLive = true;
    try {
      wasLive = !(await this.isRevoked(fid));
      await store.set(key('deny', fid), reason, ttl);
    } catch (error) {
      storeError ??= error;
    }
    if (upstream) {
      for (const rt of new Set(sessions.map((s) => s.rt))) {
        await this.#oidc.revokeRefreshToken(rt).catch((error: unknown) => {
          this.#config.onEvent({ type: 'revocation_failed', familyId: fid, ...(sessions[0] && { sub: sessions[0].user.sub }), reason: error instanceof Error ? error.message : String(error) });
        });
      }
    }
    // Out of the user's index (ended families would otherwise stay listed until they expire).
    const sub = sessions[0]?.user.sub;
    await Promise.all([
      sub && store.removeFromSet(key('user', sub), fid).catch((error: unknown) => void (storeError ??= error)),
      this.#markEnded(fid),
    ]);
    if (storeError) throw storeError;
    if (wasLive && reason !== 'logout' && reason !== 'expired') this.#config.onEvent({ type: 'session_revoked', familyId: fid, ...(sub && { sub }), reason });
    return wasLive;
  }

  /** "Sign out everywhere": revokes every family of a user found in the store's index; answers how many. */
  async revokeUser(sub: string): Promise<number> {
    let revoked = 0;
    const { store } = this.#config;
    for (const fid of await store.members(key('user', sub))) {
      if (await this.revokeFamily(fid, 'revoke_user')) revoked += 1;
      // Also when the family's ledger had already gone (it expired), which left no user to find.
      await store.removeFromSet(key('user', sub), fid);
    }
    return revoked;
  }

  /**
   * Keeps the client's report of user activity, so the idle timeout measures people, not
   * timers. Only a later time than the one known replaces it, at most once a second; best
   * effort, like any cache.
   */
  #noteActivity(session: SessionData, idle: number | undefined, known: number): void {
    const { idleTimeoutSeconds, store, now } = this.#config;
    if (!idleTimeoutSeconds || idle === undefined) return;
    const reported = Math.floor(now() / 1000) - idle;
    if (reported <= Math.max(session.la ?? session.ca, known)) return;
    // Not awaited: the answer does not depend on it, and with Redis it would be a second round trip.
    void store.set(key('act', session.fid), String(reported), idleTimeoutSeconds + SLACK_SECONDS, { evictable: true }).catch(() => {});
  }

  #outcome(session: SessionData, token: CachedToken, cookie: string | undefined): TokenOutcome {
    const now = this.#config.now();
    return {
      session,
      cookie,
      body: {
        accessToken: token.accessToken,
        tokenType: token.jkt === undefined ? 'Bearer' : 'DPoP',
        expiresIn: Math.max(0, Math.floor((token.exp - now) / 1000)),
        expiresAt: Math.floor(token.exp / 1000),
        scope: token.scope,
        user: session.user,
      },
    };
  }
}

function cachedToken(v: number, tokens: ProviderTokens, now: number, jkt?: string): CachedToken {
  return { v, accessToken: tokens.accessToken, exp: now + tokens.expiresIn * 1000, lifetime: tokens.expiresIn, scope: tokens.scope, ...(jkt !== undefined && { jkt }) };
}

/** What a caller of {@link TokenService.getToken} may add: a DPoP proof, and a token an API refused. */
export interface TokenOptions {
  proof?: DpopProof | undefined;
  rejected?: string;
}

/** A request as the refresh shell sees it: the rules' input, and the DPoP proof to forward. */
type RefreshRequest = TokenRequest & { proof?: DpopProof };

function parseFailure(raw: string | undefined): FamilyState['sharedFailure'] {
  if (!raw) return undefined;
  try {
    const failure = JSON.parse(raw) as { message?: unknown; retryAfter?: unknown };
    return typeof failure.message === 'string' && typeof failure.retryAfter === 'number' ? { message: failure.message, retryAfter: failure.retryAfter } : undefined;
  } catch {
    return undefined;
  }
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} seconds`;
}

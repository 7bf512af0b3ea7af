// @ts-check
/**
 * The leak soak's traffic on one demo (`pnpm bench --soak`): a steady, modest mix of cached
 * `/token` calls, `/token` calls that refresh (some from two tabs at once), sign-ins through the
 * provider's login form each followed by a logout of the oldest session, and anonymous calls,
 * every answer counted by kind. What it does to memory is measured in leakSoak.mjs.
 */
import { sleep } from '../soak/browser.mjs';
import { POST_HEADERS, COOKIE, sessionCookieOf, signInMany } from './sessions.mjs';

/**
 * The mix, per demo. Modest on purpose (the bench shares a 2-core machine with two Next servers,
 * Redis and the provider): a leak test needs many repetitions of every path, not a high rate.
 * The live sessions stay far below the provider's LRU of 1,000 grants, each is refreshed every
 * half token lifetime (so its grant stays recently used there), and each is retired by a logout.
 */
export const SOAK_MIX = { liveSessions: 16, cachedPerS: 20, anonymousPerS: 1, signInEveryS: 6, pairEvery: 4 };

/** What each kind of request is, and the answers it should get. */
export const KINDS = {
  cached: { label: 'cached /token (minValidity 0)', expected: ['200'] },
  refresh: { label: '/token that refreshes', expected: ['200 rotated'] },
  pair: { label: '/token refresh, 2 tabs at once', expected: ['200 rotated'] },
  signIn: { label: 'sign-in (provider login form)', expected: ['ok'] },
  logout: { label: 'POST /api/auth/logout', expected: ['200'] },
  anonToken: { label: 'anonymous /token', expected: ['401'] },
  anonSession: { label: 'anonymous GET /session', expected: ['200'] },
};

/** @typedef {keyof typeof KINDS} Kind */

/** One signed-in browser in the soak: one request at a time, retired by a logout. */
class Browser {
  busy = Promise.resolve();
  retired = false;
  /** @param {import('./sessions.mjs').Session} session */
  constructor(session) {
    this.session = session;
    this.refreshedAt = session.signedInAt;
  }
  /**
   * Runs `work` after the request under way, as one tab would.
   * @template T @param {() => Promise<T>} work @returns {Promise<T>}
   */
  use(work) {
    const run = this.busy.then(work);
    this.busy = run.then(
      () => {},
      () => {},
    );
    return run;
  }
}

/** The soak's load on one demo: the loops of {@link SOAK_MIX}, counting every answer by kind. */
export class Load {
  /** @type {Record<Kind, Record<string, number>>} */
  answers = /** @type {any} */ (Object.fromEntries(Object.keys(KINDS).map((kind) => [kind, {}])));
  /** @type {string[]} */
  failures = [];
  failureCount = 0;
  /** @type {string[]} */
  surprises = [];
  requests = 0;
  signIns = 0;
  refreshes = 0;
  #began = performance.now();

  /** @param {import('./stack.mjs').Demo} demo @param {import('./sessions.mjs').Session[]} sessions @param {number} lifetimeS */
  constructor(demo, sessions, lifetimeS) {
    this.demo = demo;
    this.live = sessions.map((s) => new Browser(s));
    this.lifetimeS = lifetimeS;
  }

  /** Runs every loop until `stop`; resolves once the requests under way have finished. @param {AbortSignal} stop */
  async run(stop) {
    this.#began = performance.now();
    let turn = 0;
    let anonymous = 0;
    let refreshes = 0;
    await Promise.all([
      paced(SOAK_MIX.cachedPerS, stop, () => {
        const browser = this.live[turn++ % this.live.length];
        return browser?.use(() => this.#token(browser, 'cached', 0));
      }),
      this.#refreshLoop(stop, () => ++refreshes % SOAK_MIX.pairEvery === 0),
      paced(1 / SOAK_MIX.signInEveryS, stop, () => this.#churn()),
      paced(SOAK_MIX.anonymousPerS, stop, () => this.#anonymous(anonymous++)),
    ]);
  }

  /**
   * Each live session is refreshed once it is half its token's lifetime old: past the fresh quarter, never expired.
   * @param {AbortSignal} stop @param {() => boolean} pairNow whether this refresh comes from two tabs at once
   */
  async #refreshLoop(stop, pairNow) {
    while (!stop.aborted) {
      const browser = this.live.reduce((oldest, b) => (b.refreshedAt < oldest.refreshedAt ? b : oldest));
      await sleep(browser.refreshedAt + (this.lifetimeS * 1000) / 2 - Date.now(), stop);
      if (stop.aborted) break;
      if (browser.retired) continue;
      await browser.use(async () => {
        if (!pairNow()) return this.#token(browser, 'refresh', this.lifetimeS);
        // Two tabs of one browser at once with the same cookie: one refresh, the other waits for it.
        const cookie = browser.session.cookie;
        await Promise.all([this.#token(browser, 'pair', this.lifetimeS, cookie), this.#token(browser, 'pair', this.lifetimeS, cookie)]);
      });
      browser.refreshedAt = Date.now();
      this.refreshes += 1;
    }
  }

  /** A new sign-in, then the oldest live session logged out: the user index and the ledgers churn. */
  async #churn() {
    try {
      const [session] = await signInMany(this.demo, 1);
      if (session) this.live.push(new Browser(session));
      this.signIns += 1;
      this.#count('signIn', 'ok');
    } catch (error) {
      this.#fail('signIn', 'error', error instanceof Error ? error.message.slice(0, 160) : String(error));
    }
    if (this.live.length <= SOAK_MIX.liveSessions) return;
    const oldest = /** @type {Browser} */ (this.live.shift());
    oldest.retired = true;
    await oldest.use(() => this.#send('logout', '/api/auth/logout', { method: 'POST', headers: oldest.session.headers(), body: '{}' }));
  }

  /** Anonymous callers: /token without a cookie, with one that cannot be opened, and /session. */
  #anonymous(n) {
    if (n % 3 === 2) return this.#send('anonSession', '/api/auth/session', {});
    const headers = n % 3 === 0 ? POST_HEADERS : { ...POST_HEADERS, cookie: `${COOKIE}=not-a-sealed-cookie` };
    return this.#send('anonToken', '/api/auth/token?minValidity=0', { method: 'POST', headers });
  }

  /** A `/token` call as the client sends it (parameters in the query, no body; `idle`: seconds since the last input); notes whether it rotated. */
  /** @param {Browser} browser @param {'cached' | 'refresh' | 'pair'} kind @param {number} minValidity */
  #token(browser, kind, minValidity, cookie = browser.session.cookie) {
    const query = new URLSearchParams({ minValidity: String(minValidity), idle: String(Math.floor(Math.random() * 60)) });
    const headers = { ...POST_HEADERS, cookie: `${COOKIE}=${cookie}` };
    return this.#send(kind, `/api/auth/token?${query}`, { method: 'POST', headers }, (response) => {
      // Of two tabs at once, the second may bring the cookie the first already adopted: compare with the one sent.
      const set = sessionCookieOf(response);
      browser.session.adopt(response);
      return response.status === 200 && set !== undefined && set !== cookie ? '200 rotated' : String(response.status);
    });
  }

  /**
   * Sends one request to the demo, reads its body, and counts its answer under `kind`; 5xx,
   * connection errors and requests without an answer in 30 s are failures.
   * @param {Kind} kind @param {string} path @param {RequestInit} init
   * @param {(response: Response) => string} [answerOf]
   */
  async #send(kind, path, init, answerOf = (response) => String(response.status)) {
    this.requests += 1;
    try {
      const response = await fetch(`${this.demo.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await response.text();
      const answer = answerOf(response);
      if (response.status >= 500) return this.#fail(kind, answer, text.slice(0, 160));
      this.#count(kind, answer);
      if (!KINDS[kind].expected.includes(answer) && this.surprises.length < 5) this.surprises.push(`${this.#at()}, ${KINDS[kind].label}: ${answer} ${text.slice(0, 160)}`);
    } catch (error) {
      this.#fail(kind, error instanceof Error ? error.name : 'error', error instanceof Error ? error.message : String(error));
    }
  }

  /** @param {Kind} kind @param {string} answer */
  #count(kind, answer) {
    this.answers[kind][answer] = (this.answers[kind][answer] ?? 0) + 1;
  }

  /** @param {Kind} kind @param {string} answer @param {string} detail */
  #fail(kind, answer, detail) {
    this.#count(kind, answer);
    this.failureCount += 1;
    if (this.failures.length < 10) this.failures.push(`${this.#at()}, ${KINDS[kind].label}: ${answer} ${detail}`.trim());
  }

  #at() {
    return `${((performance.now() - this.#began) / 60_000).toFixed(1)} min`;
  }
}

/**
 * Calls `work` `perSecond` times a second, one call at a time; a slow call delays the next, no burst catches up.
 * @param {number} perSecond @param {AbortSignal} stop @param {() => Promise<unknown> | undefined} work
 */
async function paced(perSecond, stop, work) {
  const interval = 1000 / perSecond;
  let next = performance.now();
  while (!stop.aborted) {
    await work();
    next = Math.max(next + interval, performance.now() - interval);
    await sleep(next - performance.now(), stop);
  }
}

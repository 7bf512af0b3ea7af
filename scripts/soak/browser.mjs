// @ts-check
/**
 * Simulated browsers: a session is one browser's cookie jar, signed in through the real
 * provider's login form; each of its tabs asks `POST /token` when its token is due and on
 * random focus moments, against a random BFF instance, and backs off on trouble.
 */

import { cookieJar, throughLoginForm } from '@latchkey/idp/loginForm';

const COOKIE = '__Host-latchkey';
const POST_HEADERS = { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };
/** A tab refreshes when this share of its token's lifetime is left. */
const DUE_FRACTION = 0.2;

/** Waits `ms`, or less when `signal` aborts. @param {number} ms @param {AbortSignal} [signal] */
export const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve(undefined);
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve(undefined);
    }
    signal?.addEventListener('abort', done, { once: true });
  });
const randInt = (min, max) => min + Math.floor(Math.random() * (max - min + 1));
const exponential = (mean) => -Math.log(1 - Math.random()) * mean;

/** The value a response sets for `name`: a string, `null` when it clears it, undefined when untouched. */
function setCookieValue(response, name) {
  const line = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (line === undefined) return undefined;
  if (/max-age=0/i.test(line)) return null;
  return line.split(';')[0]?.slice(name.length + 1) ?? null;
}

/**
 * Signs a browser in: `/login` on one BFF instance, the provider's redirects and login form,
 * then `/callback` on the same instance. Answers the session cookie's value.
 * @param {string} bffUrl
 * @param {string} user a dev user; its password is its name
 * @param {string} appOrigin
 */
export async function signIn(bffUrl, user, appOrigin) {
  const login = await fetch(`${bffUrl}/api/auth/login?returnTo=/notes`, { redirect: 'manual' });
  if (login.status !== 302) throw new Error(`/login answered ${login.status}: ${await login.text()}`);
  // The app's cookies (the sign-in transaction) come back with the callback, whatever their names.
  const app = cookieJar();
  app.store(login);
  const url = await throughLoginForm(login.headers.get('location') ?? '', { until: `${appOrigin}/api/auth/callback`, user });
  const callback = await fetch(`${bffUrl}${url.slice(appOrigin.length)}`, { redirect: 'manual', headers: { cookie: app.header() } });
  const session = setCookieValue(callback, COOKIE);
  if (callback.status !== 200 || !session) throw new Error(`/callback answered ${callback.status}: ${await callback.text()}`);
  return session;
}

/** One browser: its session cookie, shared by its tabs, and what happened to it. */
export class Session {
  /** @type {string | undefined} what the jar holds now */
  cookie;
  /** Every distinct session cookie the BFF ever set for it, the sign-in one first. */
  cookiesSeen = new Set();
  /** @type {import('./metrics.mjs').Loss | undefined} */
  lost;
  /** Ends every tab's wait at once when the session is lost. */
  ended = new AbortController();

  /** @param {number} id @param {string} user @param {string} cookie */
  constructor(id, user, cookie) {
    this.id = id;
    this.user = user;
    this.cookie = cookie;
    this.signInCookie = cookie;
    this.cookiesSeen.add(cookie);
  }

  /** A Set-Cookie reaches the jar a moment after its response: other tabs may send the old one meanwhile. */
  adopt(value) {
    if (value) this.cookiesSeen.add(value);
    setTimeout(() => (this.cookie = value ?? undefined), randInt(0, 20));
  }
}

/**
 * @typedef {object} TabContext
 * @property {{ name: string, url: string }[]} instances
 * @property {import('./metrics.mjs').Metrics} metrics
 * @property {AbortSignal} stop no new requests after this; requests under way finish
 * @property {number} lifetimeS the provider's access-token lifetime, until a tab sees one
 * @property {number} clientTimeoutMs a request without an answer by then counts as none
 * @property {number} focusMeanMs mean time between a tab's focus moments
 * @property {{ left: number }} budget requests left for the whole run (a bound on storms)
 * @property {() => void} exhausted called when the budget runs out: the run stops
 */

/** `minValidity` as apps ask it: mostly 0–60 s, sometimes up to the whole token lifetime. */
function drawMinValidity(lifetime) {
  const usual = Math.min(60, lifetime);
  return Math.random() < 0.9 ? randInt(0, usual) : randInt(usual, lifetime);
}

/**
 * One tab of a session, until the run stops or the session is lost.
 * @param {Session} session
 * @param {TabContext} ctx
 */
export async function runTab(session, ctx) {
  const wait = AbortSignal.any([ctx.stop, session.ended.signal]);
  /** @type {{ receivedAt: number, expiresIn: number } | undefined} */
  let token;
  let lifetime = ctx.lifetimeS;
  let lastActivity = Date.now();
  let notBefore = Date.now() + randInt(0, 10_000); // tabs open over the first seconds
  let nextFocus = notBefore + exponential(ctx.focusMeanMs);
  let troubles = 0;

  while (!wait.aborted) {
    const due = token ? token.receivedAt + token.expiresIn * 1000 * (1 - DUE_FRACTION) : 0;
    await sleep(Math.max(notBefore, Math.min(due, nextFocus)) - Date.now(), wait);
    if (wait.aborted) break;
    if (ctx.budget.left-- <= 0) {
      ctx.exhausted();
      break;
    }
    let minValidity = drawMinValidity(lifetime);
    if (Date.now() >= due) {
      // Due: ask for more than the due threshold, or the cached token would come straight back.
      minValidity = Math.max(minValidity, Math.ceil(DUE_FRACTION * lifetime) + 1);
    } else {
      nextFocus = Date.now() + exponential(ctx.focusMeanMs);
      lastActivity = Date.now(); // a focus is the user coming back
    }
    const instance = ctx.instances[randInt(0, ctx.instances.length - 1)] ?? ctx.instances[0];
    if (!instance) break;
    const cookie = session.cookie; // what the jar holds as the request leaves
    const sent = Date.now();
    /** @type {Response | undefined} */
    let response;
    /** @type {any} */
    let body;
    let error;
    try {
      response = await fetch(`${instance.url}/api/auth/token`, {
        method: 'POST',
        headers: { ...POST_HEADERS, ...(cookie ? { cookie: `${COOKIE}=${cookie}` } : {}) },
        body: JSON.stringify({ minValidity, idle: Math.floor((Date.now() - lastActivity) / 1000) }),
        signal: AbortSignal.timeout(ctx.clientTimeoutMs),
      });
      body = await response.json().catch(() => undefined);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}` : String(e);
    }
    const received = Date.now();
    const status = error ? undefined : response?.status;
    const code = typeof body?.error === 'string' ? body.error : undefined;
    ctx.metrics.record({ sent, received, instance: instance.name, status, code, error });
    if (response) {
      const set = setCookieValue(response, COOKIE);
      if (set !== undefined) session.adopt(set);
    }

    if (status === 200 && typeof body?.expiresIn === 'number') {
      token = { receivedAt: received, expiresIn: body.expiresIn };
      lifetime = Math.max(lifetime, body.expiresIn);
      troubles = 0;
      notBefore = received + 1000;
    } else if (status === 401 && code && ['login_required', 'session_expired', 'session_revoked'].includes(code)) {
      if (!session.lost) {
        session.lost = { session: session.id, user: session.user, reason: code, description: String(body?.error_description ?? ''), at: received, instance: instance.name, status };
        ctx.metrics.losses.push(session.lost);
        session.ended.abort();
      }
      break;
    } else if (status === 503 || status === 429) {
      // Temporary: keep the token, come back when told to (with jitter, so tabs do not stampede).
      const retryAfter = Number(response?.headers.get('retry-after'));
      notBefore = received + (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 5000) + randInt(0, 1000);
    } else {
      troubles += 1;
      notBefore = received + Math.min(10_000, 500 * 2 ** troubles) + randInt(0, 500);
    }
  }
}

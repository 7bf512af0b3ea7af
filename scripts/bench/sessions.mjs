// @ts-check
/**
 * Signed-in sessions for the benchmark, each through the provider's real login form (the soak's
 * `signIn`), and what the bench needs to read from their cookies.
 */
import { signIn } from '../soak/browser.mjs';
import { requireFromBff } from '../soak/workspace.mjs';

export const COOKIE = '__Host-latchkey';
/** What the SPA sends with every POST to the BFF (its CSRF gate). */
export const POST_HEADERS = { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };

/**
 * `POST /api/auth/token` as the Latchkey client sends it: the parameters in the query, no body,
 * and `idle=0` (a person at the page).
 * @param {string} base the demo's URL
 * @param {number} minValidity
 */
export function tokenUrl(base, minValidity) {
  return `${base}/api/auth/token?idle=0&minValidity=${minValidity}`;
}

/** One signed-in browser: its current session cookie and when its token may be refreshed again. */
export class Session {
  /** @param {string} cookie @param {string} user */
  constructor(cookie, user) {
    this.cookie = cookie;
    this.user = user;
    this.signInCookie = cookie;
    this.signedInAt = Date.now();
    /** Every distinct session cookie the BFF set for it after sign-in. */
    this.newCookies = new Set();
    /** Refreshed last at (ms) plus the rest a token needs before it may be refreshed again. */
    this.readyAt = 0;
  }

  headers() {
    return { ...POST_HEADERS, cookie: `${COOKIE}=${this.cookie}` };
  }

  /** Takes the session cookie a response sets, if any; answers whether it was new. */
  adopt(response) {
    const value = sessionCookieOf(response);
    if (!value || value === this.cookie) return false;
    this.cookie = value;
    this.newCookies.add(value);
    return true;
  }
}

/** The session cookie a response sets, or undefined when it sets none (or clears it). */
export function sessionCookieOf(response) {
  const line = response.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
  if (!line || /max-age=0/i.test(line)) return undefined;
  return line.split(';')[0]?.slice(COOKIE.length + 1) || undefined;
}

/** Runs `work` over `count` indexes with at most `limit` at a time. */
export async function pool(count, limit, work) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/**
 * Signs `count` sessions in on one demo instance, alice and bob in turn.
 * @param {{ url: string, origin: string }} demo
 * @returns {Promise<Session[]>}
 */
export function signInMany(demo, count, concurrency = 6) {
  return pool(count, concurrency, async (i) => {
    const user = i % 2 === 0 ? 'alice' : 'bob';
    return new Session(await signIn(demo.url, user, demo.origin), user);
  });
}

/**
 * Opens session cookies sealed with the bench's cookie secret: the refresh token for the direct
 * grant measurement, and `family:version` to count rotations independently of the cookie bytes.
 * @param {string} secret
 */
export function cookieOpener(secret) {
  const { unsealData } = requireFromBff('iron-session');
  /** @returns {Promise<{ fid: string, v: number, rt: string }>} */
  return async (cookie) => {
    const data = await unsealData(cookie, { password: secret });
    if (typeof data?.fid !== 'string' || !Number.isInteger(data?.v) || typeof data?.rt !== 'string') throw new Error('a session cookie the bench cannot open');
    return data;
  };
}

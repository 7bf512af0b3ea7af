/**
 * Page protection for a Next.js `proxy.ts` (Next 16) or `middleware.ts` (Next 15). It runs
 * before every matching request, on any runtime (Node or Edge), so it only looks for the
 * session cookie: no crypto, no store, no provider. That keeps signed-out visitors off
 * protected pages; the page's own `requireSession()` (and each API's token check) is the real
 * check, since a cookie can be present yet revoked or expired.
 */

import { landingResponse } from './landing.js';

/** The session cookie's name (see `cookieName` in the BFF's configuration). */
export const SESSION_COOKIE = '__Host-latchkey';

/** Options of {@link protect}. */
export interface ProtectOptions {
  /** Where the BFF's routes live (default `/api/auth`). */
  basePath?: string;
}

/**
 * A proxy (middleware) that sends visitors without a session cookie on `paths` — each path
 * and everything below it — to sign-in, which brings them back afterwards. Other requests
 * pass (`undefined`).
 * @example
 * // proxy.ts (Next 16); in Next 15, middleware.ts with `export const middleware = ...`
 * export const proxy = protect(['/account', '/settings']);
 */
export function protect(paths: readonly string[], options: ProtectOptions = {}): (request: Request) => Response | undefined {
  const prefixes = paths.map((path) => {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`protect(): each path must start with "/", got ${JSON.stringify(path)}.`);
    return path === '/' ? '/' : path.replace(/\/+$/, '');
  });
  const basePath = (options.basePath ?? '/api/auth').replace(/\/+$/, '');
  return (request) => {
    const url = new URL(request.url);
    // The BFF's own routes always pass: sign-in must stay reachable, even under protect(['/']).
    if (covers(basePath, url.pathname, false) || !prefixes.some((prefix) => covers(prefix, url.pathname))) return undefined;
    const h = request.headers;
    if (hasSessionCookie(h.get('cookie'))) return undefined;
    // A prefetch is not a visit: starting a sign-in for one would only fill cookies and limits.
    if (h.get('next-router-prefetch') !== null || /prefetch/i.test(`${h.get('sec-purpose') ?? ''}${h.get('purpose') ?? ''}`)) {
      return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
    }
    // Arriving from another site (a link in an email), a SameSite=Strict cookie stays behind:
    // look again from this site, with the cookie if there is one, before sending anyone to sign in.
    const site = h.get('sec-fetch-site');
    if (site === 'cross-site' && h.get('sec-fetch-mode') === 'navigate') {
      return landingResponse(url, new Headers({ 'cache-control': 'no-store' }));
    }
    // Repeated slashes collapsed: sign-in refuses a returnTo starting with "//" (another host).
    const returnTo = `${url.pathname.replace(/\/{2,}/g, '/')}${url.search}`;
    // Absolute, on the origin the request came to (Next refuses a relative Location from a
    // proxy); not cached, so a forged Host only ever redirects the one who forged it.
    const location = new URL(`${basePath}/login?returnTo=${encodeURIComponent(returnTo)}`, url.origin);
    return new Response(null, { status: 307, headers: { location: location.href, 'cache-control': 'no-store' } });
  };
}

/**
 * Whether `pathname` is `prefix` or below it, compared decoded (`/%61ccount` is `/account`).
 * A path that cannot be decoded answers `undecodable`: protected, but never the BFF's own.
 */
function covers(prefix: string, pathname: string, undecodable = true): boolean {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undecodable;
  }
  path = path.replace(/\/{2,}/g, '/');
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

function hasSessionCookie(header: string | null): boolean {
  if (!header) return false;
  return header.split(';').some((part) => {
    const eq = part.indexOf('=');
    return eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE && part.slice(eq + 1).trim() !== '';
  });
}

import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { connection } from 'next/server';
import type { SessionUser, SessionUserBase } from '@latchkey/core';
import type { BffConfig } from './config.js';
import { createBff, type Bff, type ServerAccessToken } from './createBff.js';
import { ConfigurationError } from './errors.js';
import { SESSION_COOKIE } from './proxy.js';
import { safeReturnTo } from './returnTo.js';
import { sharedMemoryStore } from './store.js';

type Handler = (request: Request) => Promise<Response>;

/**
 * Route-handler exports for `app/api/auth/[...auth]/route.ts`.
 * @example
 * export const { GET, POST } = nextHandlers(bff);
 */
export function nextHandlers(bff: Pick<Bff<SessionUserBase>, 'handle'>): NextHandlers {
  const handle = (request: Request) => bff.handle(request);
  return { GET: handle, POST: handle, PUT: handle, PATCH: handle, DELETE: handle };
}

/**
 * The route handlers, one per method Next.js routes to the BFF. `GET` and `POST` are all the
 * BFF's own routes take; proxy mode (`apis`) also passes `PUT`, `PATCH` and `DELETE` on to the
 * APIs that allow them: `export const { GET, POST, PUT, PATCH, DELETE } = auth.handlers;`.
 */
export interface NextHandlers {
  GET: Handler;
  POST: Handler;
  PUT: Handler;
  PATCH: Handler;
  DELETE: Handler;
}

/** What {@link nextAuth} gives a Next.js app. */
export interface NextAuth<User extends SessionUserBase = SessionUser> {
  /** The BFF underneath (revocation, configuration). */
  readonly bff: Bff<User>;
  /** `export const { GET, POST } = auth.handlers;` in `app/api/auth/[...auth]/route.ts` (with proxy mode, PUT, PATCH and DELETE too). */
  readonly handlers: NextHandlers;
  /**
   * Who is signed in, or `null`; anywhere on the server. Never a token. `undefined` when it
   * cannot tell right now (the store or the provider is in trouble): passed on as
   * `<AuthProvider initialSession>`, that makes the browser ask the BFF itself, so a blip never
   * shows a signed-in person as signed out.
   */
  getSession(): Promise<User | null | undefined>;
  /**
   * The signed-in user, or a redirect to sign-in that comes back to `returnTo` (a path on
   * this site, default `/`). For server components and server actions. Store or provider
   * trouble throws (an error page, 503-like) rather than sending a signed-in person to sign in.
   */
  requireSession(options?: { returnTo?: string }): Promise<User>;
  /**
   * An access token for calling an API from the server, with at least `minValidity` seconds
   * left (default 30), refreshed through the same single-flight path as the browser's. In
   * route handlers and server actions a rotated cookie is set on the response. A server
   * component cannot set cookies: the rotation then stays pending on the server and reaches
   * the browser with its next call, so its cookie is never mistaken for a stolen one.
   * Rejects with `BffError` `login_required` when signed out.
   */
  getAccessToken(options?: { minValidity?: number }): Promise<ServerAccessToken<User>>;
}

/**
 * Latchkey for a Next.js app (15 or 16, App Router): the BFF's route handlers and server-side
 * session and token access. Takes {@link BffConfig} options (the rest from environment
 * variables, read at first request) or a BFF made with `createBff()`.
 * @example
 * // lib/auth.ts
 * export const auth = nextAuth({ scope: 'openid profile email offline_access' });
 * // app/api/auth/[...auth]/route.ts
 * export const { GET, POST } = auth.handlers;
 */
export function nextAuth<User extends SessionUserBase = SessionUser>(options: BffConfig<User> | Bff<User> = {}): NextAuth<User> {
  // Next evaluates this module once per bundle layer: without a store of their own, the
  // copies share one process-wide memory store, and so act as one BFF.
  const bff = isBff(options) ? options : createBff<User>({ ...options, store: options.store ?? sharedMemoryStore() });
  return {
    bff,
    handlers: nextHandlers(bff),
    getSession: async () => {
      const header = await cookieHeader();
      // No cookie on a navigation from another site says nothing: SameSite=Strict keeps it
      // home. Unknown, so the browser asks the BFF itself (where the cookie does travel).
      if (header === '' && !(await sameSiteRequest())) return undefined;
      // No refresh to confirm a family the store does not know: its new cookie could be lost
      // here; the browser's own /token call confirms it (see FindSessionOptions).
      return bff.findSession(header, { confirmUnknown: false }).catch((error: unknown) => {
        if (error instanceof ConfigurationError) throw error;
        return undefined;
      });
    },
    async requireSession({ returnTo = '/' } = {}) {
      const user = await bff.findSession(await cookieHeader(), { confirmUnknown: false });
      if (user) return user;
      const path = safeReturnTo(returnTo, bff.config.appOrigin, bff.config.basePath);
      if (path === undefined) throw new RangeError(`returnTo must be a path on this site such as "/account", got ${JSON.stringify(returnTo)}.`);
      redirect(`${bff.config.basePath}/login?returnTo=${encodeURIComponent(path)}`);
    },
    async getAccessToken(tokenOptions) {
      const store = await requestCookies();
      const write = (cookie: ServerAccessToken['cookie']) => {
        if (!cookie) return;
        try {
          store.set(cookie.name, cookie.value, { path: '/', maxAge: cookie.maxAge, httpOnly: true, secure: true, sameSite: 'strict' });
        } catch {
          // A server component: cookies are read-only here. The rotation is pending in the
          // store, which hands it to the browser with its next call (the old cookie heals).
        }
      };
      let token: ServerAccessToken<User>;
      try {
        token = await bff.getAccessToken(headerOf(store.get(SESSION_COOKIE)), tokenOptions);
      } catch (error) {
        // A rotation the store failed to record: its cookie is the only live refresh token.
        write((error as { cookie?: ServerAccessToken['cookie'] }).cookie);
        throw error;
      }
      write(token.cookie);
      return token;
    },
  };
}

/**
 * The session cookie alone, as a `Cookie` header. Only that one: Next hands out cookie values
 * URL-decoded, so rebuilding the whole header would let another cookie's value (`a=1%3B%20
 * __Host-latchkey%3D…`, planted by a sibling subdomain) smuggle in a session cookie of its own.
 */
async function cookieHeader(): Promise<string> {
  return headerOf((await requestCookies()).get(SESSION_COOKIE));
}

/**
 * The request's cookies, after telling Next this work belongs to a request, never to a
 * prerender: opening a session reads the clock, which Next refuses while prerendering (with
 * `cacheComponents` and partial prefetching it otherwise logs an error on every visit).
 */
async function requestCookies() {
  await connection();
  return cookies();
}

function headerOf(cookie: { value: string } | undefined): string {
  return cookie?.value ? `${SESSION_COOKIE}=${cookie.value}` : '';
}

/** Whether this request came from the app's own pages or the address bar (`Sec-Fetch-Site`), so a Strict cookie would be on it. */
async function sameSiteRequest(): Promise<boolean> {
  const site = (await headers()).get('sec-fetch-site');
  return site === 'same-origin' || site === 'none';
}

function isBff<User extends SessionUserBase>(value: BffConfig<User> | Bff<User>): value is Bff<User> {
  return typeof (value as Bff).handle === 'function';
}

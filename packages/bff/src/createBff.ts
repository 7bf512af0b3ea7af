import { errorResponse, type SessionUser } from '@latchkey/core';
import { publicConfig, resolveConfig, type BffConfig, type PublicConfig, type RateLimits } from './config.js';
import { clearCookie, readCookie, serializeCookie } from './cookies.js';
import { checkCsrf } from './csrf.js';
import { BffError } from './errors.js';
import { guardedStore } from './guardedStore.js';
import { BASE_HEADERS } from './http.js';
import { OidcClient } from './oidc.js';
import { callback } from './routes/callback.js';
import type { Route, RouteContext } from './routes/context.js';
import { login } from './routes/login.js';
import { logout } from './routes/logout.js';
import { session } from './routes/session.js';
import { token } from './routes/token.js';
import { Sealer } from './seal.js';
import { isSessionData } from './session.js';
import { TokenService } from './tokenService.js';

/** The BFF: one Web-standard handler for every route under `basePath`. */
export interface Bff {
  /** Answers a request to any route under `basePath`. */
  handle(request: Request): Promise<Response>;
  /**
   * Who is signed in according to a `Cookie` header, without any token (for server
   * components, which cannot set cookies: a family the store does not know is confirmed with
   * the provider by a refresh; its new cookie stays pending, so the browser's cookie keeps healing).
   */
  getSession(cookieHeader: string | null): Promise<SessionUser | undefined>;
  /**
   * "Sign out everywhere": revokes every session family of a user (by `sub`) upstream and
   * denylists them, so each of their cookies gets 401 `session_revoked`. Answers how many.
   */
  revokeUser(sub: string): Promise<number>;
  /** Revokes one session family by id (as found in events and logs), for incident response. */
  revokeFamily(familyId: string): Promise<void>;
  /** The resolved configuration, without the client secret or the cookie passwords. */
  readonly config: Readonly<PublicConfig>;
}

/** The routes under `basePath`, one module each. */
const ROUTES: Readonly<Record<string, Route>> = Object.freeze({ login, callback, token, logout, session });
const LIMIT_EVENT_NAMES = { tokenPerFamily: 'token_family', anonymousPerIp: 'anonymous_ip', loginPerIp: 'login_ip' } as const;

/**
 * Creates the Backend-for-Frontend. The configuration is checked here, once; a bad one
 * throws a {@link ConfigurationError} naming the option at fault.
 * @example
 * const bff = createBff({ issuer, clientId, clientSecret, appOrigin: 'https://app.example', cookieSecret });
 * export const GET = bff.handle, POST = bff.handle;
 */
export function createBff(options: BffConfig): Bff {
  const resolved = resolveConfig(options);
  const config = {
    ...resolved,
    store: guardedStore(resolved.store, resolved.storeTimeoutMs, (message, cause) => {
      console.error(message, cause);
      resolved.onEvent({ type: 'store_unavailable', operation: message });
    }),
  };
  const sealer = new Sealer(config.passwords);
  const oidc = new OidcClient(config);
  const tokens = new TokenService(config, oidc, sealer);

  const context: RouteContext = {
    config,
    sealer,
    oidc,
    tokens,
    readSession(request) {
      const raw = readCookie(request.headers.get('cookie'), config.cookieName);
      if (!raw) return { present: false };
      const opened = sealer.unseal(raw, isSessionData);
      return opened ? { session: opened, present: true } : { present: true };
    },
    sessionCookie: (value, s) => serializeCookie(config.cookieName, value, { maxAge: tokens.remainingLifetime(s), sameSite: 'Strict' }),
    clearSessionCookie: () => clearCookie(config.cookieName),
    limit(name: keyof RateLimits, id: string | undefined) {
      const rule = config.rateLimits[name];
      if (!rule || !id) return undefined;
      return config.store.increment(`latchkey:rate:${name}:${id}`, rule.windowSeconds).then(({ count, resetSeconds }) => {
        if (count <= rule.limit) return;
        config.onEvent({ type: 'rate_limited', limit: LIMIT_EVENT_NAMES[name], retryAfter: resetSeconds });
        throw new BffError('rate_limited', 429, `Too many requests; try again in ${resetSeconds} s. The session is kept.`, {
          headers: { 'retry-after': String(resetSeconds) },
        });
      });
    },
  };

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const prefix = `${config.basePath}/`;
    const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
    const found = Object.hasOwn(ROUTES, name) ? ROUTES[name] : undefined;
    if (!found) throw new BffError('not_found', 404, `No Latchkey route at ${JSON.stringify(url.pathname)}.`);
    if (request.method !== found.method) {
      throw new BffError('method_not_allowed', 405, `${url.pathname} answers ${found.method} only, got ${request.method}.`, {
        headers: { allow: found.method },
      });
    }
    if (found.method === 'POST') {
      const refused = checkCsrf(request, config.appOrigin);
      if (refused) {
        config.onEvent({ type: 'csrf_rejected', path: url.pathname, reason: refused.message });
        throw refused;
      }
    }
    return found.run(context, request, url);
  }

  async function handle(request: Request): Promise<Response> {
    let response: Response;
    try {
      response = await route(request);
    } catch (error) {
      if (error instanceof BffError) response = error.toResponse();
      else {
        console.error('[latchkey] unexpected error', error);
        response = errorResponse(500, { error: 'server_error', error_description: 'The sign-in service failed unexpectedly. Try again.' });
      }
    }
    for (const [name, value] of Object.entries(BASE_HEADERS)) response.headers.set(name, value);
    return response;
  }

  async function getSession(cookieHeader: string | null): Promise<SessionUser | undefined> {
    const raw = readCookie(cookieHeader, config.cookieName);
    const presented = sealer.unseal(raw, isSessionData);
    if (!presented) return undefined;
    try {
      const confirmed = await tokens.confirm(presented);
      if (!confirmed) return undefined;
      // A copy: what the sealer opened is shared and frozen.
      return structuredClone(confirmed === 'signed_in' ? presented.user : confirmed.session.user);
    } catch {
      // Store or provider trouble: nobody counts as signed in on the server's word until it is over.
      return undefined;
    }
  }

  return {
    handle,
    getSession,
    revokeUser: (sub) => tokens.revokeUser(sub),
    revokeFamily: async (familyId) => {
      await tokens.revokeFamily(familyId, 'revoke_family');
    },
    config: publicConfig(resolved),
  };
}

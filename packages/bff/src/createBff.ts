import { errorResponse, type SessionUser, type SessionUserBase } from '@latchkey/core';
import { SessionDirectory, type BffAdmin } from './admin.js';
import { familyHasher } from './audit.js';
import { publicConfig, resolveConfig, type BffConfig, type PublicConfig, type RateLimits } from './config.js';
import { clearCookie, readCookie, serializeCookie } from './cookies.js';
import { checkCsrf } from './csrf.js';
import { BffError, ConfigurationError } from './errors.js';
import { guardedStore } from './guardedStore.js';
import { BASE_HEADERS } from './http.js';
import type { BffEvent } from './events.js';
import { OidcClient } from './oidc.js';
import { Operations } from './operations.js';
import { contextOf, currentRequest, withRequestContext, type RequestContext } from './requestContext.js';
import { apiProxy } from './routes/apiProxy.js';
import { callback } from './routes/callback.js';
import type { Route, RouteContext } from './routes/context.js';
import { login } from './routes/login.js';
import { logout } from './routes/logout.js';
import { session } from './routes/session.js';
import { MAX_MIN_VALIDITY, token } from './routes/token.js';
import { Sealer } from './seal.js';
import { isSessionData, type SessionData } from './session.js';
import { RotatedButUnavailableError, TokenService, type TokenOutcome } from './tokenService.js';

/** The BFF: one Web-standard handler for every route under `basePath`. */
export interface Bff<User extends SessionUserBase = SessionUser> {
  /** Answers a request to any route under `basePath`. */
  handle(request: Request): Promise<Response>;
  /**
   * Who is signed in according to a `Cookie` header, without any token (for server
   * components, which cannot set cookies: a family the store does not know is confirmed with
   * the provider by a refresh; its new cookie stays pending, so the browser's cookie keeps healing).
   */
  getSession(cookieHeader: string | null): Promise<User | undefined>;
  /**
   * Like {@link Bff.getSession}, but tells "nobody is signed in" (`null`) from "cannot tell now":
   * store or provider trouble rejects (an `UpstreamError` or a 503 `BffError`) instead of
   * answering signed out, so a blip never renders a signed-in person as a visitor.
   */
  findSession(cookieHeader: string | null, options?: FindSessionOptions): Promise<User | null>;
  /**
   * "Sign out everywhere": revokes every session family of a user (by `sub`) upstream and
   * denylists them, so each of their cookies gets 401 `session_revoked`. Answers how many.
   */
  revokeUser(sub: string): Promise<number>;
  /** Revokes one session family by id (as found in events), for incident response; audited like `admin.revokeSession()`. */
  revokeFamily(familyId: string): Promise<void>;
  /**
   * The operations API: a user's live sessions, revoking one or all (audited), the recent audit
   * trail and this process's traffic figures for a dashboard.
   */
  readonly admin: BffAdmin;
  /**
   * An access token for server code (route handlers, server actions, server components) from a
   * `Cookie` header, through the same single-flight refresh as the browser's `POST /token`.
   * When the family rotated, `cookie` is the new session cookie: set it where the response can
   * carry it. Where it cannot (a server component), the rotation stays pending on the server and
   * the browser's next call receives it, so its cookie keeps working. Rejects with
   * {@link BffError} `login_required` when there is no readable session; when the provider
   * rotated but the store failed, with a 503 `store_unavailable` whose `cookie` must still be set.
   */
  getAccessToken(cookieHeader: string | null, options?: { minValidity?: number }): Promise<ServerAccessToken<User>>;
  /**
   * Resolves and checks the configuration now, throwing {@link ConfigurationError} naming what
   * is wrong. Nothing is checked at import; call this at server start (e.g. Next's
   * `instrumentation.ts`) to fail there instead of at the first request.
   */
  check(): void;
  /** The resolved configuration, without the client secret or the cookie passwords (resolved on first read). */
  readonly config: Readonly<PublicConfig>;
}

/** Options of {@link Bff.findSession}. */
export interface FindSessionOptions {
  /**
   * Whether a family the store does not know (a restarted memory store, another instance's
   * memory) is confirmed with the provider by a refresh (default true). Where the rotated
   * cookie cannot be written (server components), pass false: the family then counts as signed
   * in on its cookie's word, and the browser's next `/token` call confirms it.
   */
  confirmUnknown?: boolean;
}

/** What {@link Bff.getAccessToken} answers. */
export interface ServerAccessToken<User extends SessionUserBase = SessionUser> {
  accessToken: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** Seconds left. */
  expiresIn: number;
  scope: string;
  user: User;
  /** The rotated session cookie to set, when the family rotated: `Set-Cookie` attributes included. */
  cookie?: { name: string; value: string; maxAge: number; header: string };
}

/** The routes under `basePath`, one module each. */
const ROUTES: Readonly<Record<string, Route>> = Object.freeze({ login, callback, token, logout, session });
const LIMIT_EVENT_NAMES = { tokenPerFamily: 'token_family', anonymousPerIp: 'anonymous_ip', loginPerIp: 'login_ip' } as const;

/**
 * Creates the Backend-for-Frontend. Nothing is read or checked here: `next build` imports
 * modules on machines without runtime secrets. The configuration (options, then the
 * environment variables of {@link BffConfig}) is resolved once, at first use; a bad one throws a
 * {@link ConfigurationError} naming the option at fault, and requests answer 500
 * `configuration_error` while the cause is logged. {@link Bff.check} checks it up front.
 * @example
 * const bff = createBff({ scope: 'openid profile email offline_access' }); // the rest from OIDC_* and LATCHKEY_COOKIE_SECRET
 * export const GET = bff.handle, POST = bff.handle;
 */
export function createBff<User extends SessionUserBase = SessionUser>(options: BffConfig<User> = {}): Bff<User> {
  let built: unknown;
  let reported: string | undefined;
  // The user is built by the configured userClaims/mapUser, so it is a User by construction.
  const get = () => (built ??= build(options as BffConfig<SessionUserBase>)) as unknown as Built<User>;
  /** The services, or a loud log line and a 500 for a request that meets a bad configuration. */
  const services = () => {
    try {
      return get();
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      // Once per distinct cause: loud, without a line per request.
      if (error.message !== reported) console.error(`[latchkey] ${error.message}`);
      reported = error.message;
      throw new BffError('configuration_error', 500, 'The sign-in service is misconfigured; its server log says why.', { cause: error });
    }
  };
  return {
    handle: (request) => {
      let s: Built<User>;
      try {
        s = services();
      } catch (error) {
        return Promise.resolve(withBaseHeaders(error instanceof BffError ? error.toResponse() : unexpected(error)));
      }
      return s.handle(request);
    },
    // async: a bad configuration rejects like any other failure, never throws synchronously.
    getSession: async (cookieHeader) => get().getSession(cookieHeader),
    findSession: async (cookieHeader, options) => get().findSession(cookieHeader, options),
    getAccessToken: async (cookieHeader, o) => get().getAccessToken(cookieHeader, o),
    revokeUser: async (sub) => get().admin.revokeUser(sub),
    revokeFamily: async (familyId) => {
      await get().admin.revokeSession(familyId);
    },
    // Each call resolves the configuration first: reading `bff.admin` at import checks nothing.
    admin: Object.freeze({
      listSessions: async (sub) => get().admin.listSessions(sub),
      revokeSession: async (familyHashOrId, o) => get().admin.revokeSession(familyHashOrId, o),
      revokeUser: async (sub, o) => get().admin.revokeUser(sub, o),
      recentAudit: async (limit) => get().admin.recentAudit(limit),
      stats: () => get().admin.stats(),
    } satisfies BffAdmin),
    check: () => void get(),
    get config() {
      return get().config;
    },
  };
}

function withBaseHeaders(response: Response): Response {
  for (const [name, value] of Object.entries(BASE_HEADERS)) response.headers.set(name, value);
  return response;
}

function unexpected(error: unknown): Response {
  console.error('[latchkey] unexpected error', error);
  return errorResponse(500, { error: 'server_error', error_description: 'The sign-in service failed unexpectedly. Try again.' });
}

/** Everything built from a resolved configuration, its users typed as the app's. */
type Built<User extends SessionUserBase> = Omit<ReturnType<typeof build>, 'getSession' | 'findSession' | 'getAccessToken'> &
  Pick<Bff<User>, 'getSession' | 'findSession' | 'getAccessToken'>;

/** Everything built from a resolved configuration. */
function build(options: BffConfig<SessionUserBase>) {
  // The default audit sink writes each event as a JSON line with its context: with no onEvent
  // of the app's own, it replaces the event logger's line rather than doubling it.
  const resolved = resolveConfig(options.audit === undefined && options.onEvent === undefined ? { ...options, onEvent: () => {} } : options);
  const hash = familyHasher(resolved.passwords);
  const store = guardedStore(resolved.store, resolved.storeTimeoutMs, (message, cause) => {
    console.error(message, cause);
    onEvent({ type: 'store_unavailable', operation: message });
  });
  // Shared by the copies of this BFF in one process through their store (see Operations).
  const operations = new Operations(options, resolved.store, hash, resolved.now, new SessionDirectory(store, hash, resolved.absoluteLifetimeSeconds, resolved.now));
  /** The app's onEvent, then the audit trail, which never throws. */
  function onEvent(event: BffEvent): void {
    try {
      resolved.onEvent(event);
    } finally {
      try {
        operations.event(event);
      } catch (error) {
        console.error('[latchkey] the audit trail failed on an event', error);
      }
    }
  }
  const config = { ...resolved, store, onEvent };
  const sealer = new Sealer(config.passwords);
  const oidc = new OidcClient(config);
  const tokens = new TokenService(config, oidc, sealer);

  /** Opens a session cookie, and tells the request's context whose it is (for the audit trail). */
  function open(raw: string | undefined): SessionData | undefined {
    const opened = sealer.unseal(raw, isSessionData);
    const current = currentRequest();
    if (current && raw) {
      if (opened) current.session = { fid: opened.fid, sub: opened.user.sub, ca: opened.ca };
      else current.unreadableCookie = true;
    }
    return opened;
  }

  const context: RouteContext = {
    config,
    sealer,
    oidc,
    tokens,
    readSession(request) {
      const raw = readCookie(request.headers.get('cookie'), config.cookieName);
      if (!raw) return { present: false };
      const opened = open(raw);
      return opened ? { session: opened, present: true } : { present: true };
    },
    sessionCookie: (value, s) => serializeCookie(config.cookieName, value, { maxAge: tokens.remainingLifetime(s), sameSite: 'Strict' }),
    clearSessionCookie: () => clearCookie(config.cookieName),
    refuseCrossSite(request, path, options) {
      const refused = checkCsrf(request, config.appOrigin, options);
      if (!refused) return;
      config.onEvent({ type: 'csrf_rejected', path, reason: refused.message });
      throw refused;
    },
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

  // In proxy mode no route hands the browser a token.
  const routes: Readonly<Record<string, Route>> = config.mode === 'proxy' ? Object.fromEntries(Object.entries(ROUTES).filter(([name]) => name !== 'token')) : ROUTES;

  async function route(request: Request, url: URL): Promise<Response> {
    const prefix = `${config.basePath}/`;
    const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
    if (name.startsWith('proxy/') && config.mode !== 'token') return apiProxy(context, request, url, name.slice('proxy/'.length));
    const found = Object.hasOwn(routes, name) ? routes[name] : undefined;
    if (!found) throw new BffError('not_found', 404, `No Latchkey route at ${JSON.stringify(url.pathname)}.`);
    if (request.method !== found.method) {
      throw new BffError('method_not_allowed', 405, `${url.pathname} answers ${found.method} only, got ${request.method}.`, {
        headers: { allow: found.method },
      });
    }
    if (found.method === 'POST') context.refuseCrossSite(request, url.pathname);
    return found.run(context, request, url);
  }

  async function handle(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const path = url.pathname.startsWith(`${config.basePath}/`) ? url.pathname.slice(config.basePath.length) : url.pathname;
    // A proxied call is recorded by its API (`/proxy/notes`): the rest of its path may hold personal data.
    const name = path.startsWith('/proxy/') ? path.split('/', 3).join('/').slice(0, 100) : path;
    // Every event emitted while this request is handled reads its IP, user agent and user from here.
    const context = contextOf(request, name, config.clientIp);
    return withRequestContext(context, async () => {
      let response: Response;
      try {
        response = await route(request, url);
      } catch (error) {
        response = error instanceof BffError ? error.toResponse() : unexpected(error);
      }
      try {
        operations.answered(context, response, performance.now() - started);
      } catch (error) {
        console.error('[latchkey] the audit trail failed on an answer', error);
      }
      return withBaseHeaders(response);
    });
  }

  /** Server code (server components, actions, route handlers) calls without a Request: no IP or user agent to record. */
  const serverContext = (): RequestContext => ({ route: 'server' });

  function findSession(cookieHeader: string | null, options: FindSessionOptions = {}): Promise<SessionUser | null> {
    return withRequestContext(serverContext(), () => findSessionNow(cookieHeader, options.confirmUnknown ?? true));
  }

  async function findSessionNow(cookieHeader: string | null, confirmUnknown: boolean): Promise<SessionUser | null> {
    const raw = readCookie(cookieHeader, config.cookieName);
    const presented = open(raw);
    if (!presented) return null;
    const confirmed = await tokens.confirm(presented, confirmUnknown);
    if (!confirmed) return null;
    // A copy: what the sealer opened is shared and frozen.
    return structuredClone(confirmed === 'signed_in' ? presented.user : confirmed.session.user);
  }

  async function getSession(cookieHeader: string | null): Promise<SessionUser | undefined> {
    // Store or provider trouble: nobody counts as signed in on the server's word until it is over.
    return (await findSession(cookieHeader).catch(() => null)) ?? undefined;
  }

  function getAccessToken(cookieHeader: string | null, options: { minValidity?: number } = {}): Promise<ServerAccessToken> {
    return withRequestContext(serverContext(), () => getAccessTokenNow(cookieHeader, options));
  }

  async function getAccessTokenNow(cookieHeader: string | null, options: { minValidity?: number }): Promise<ServerAccessToken> {
    const minValidity = options.minValidity ?? 30;
    if (typeof minValidity !== 'number' || !(minValidity >= 0 && minValidity <= MAX_MIN_VALIDITY)) {
      throw new RangeError(`minValidity must be a number of seconds from 0 to ${MAX_MIN_VALIDITY}, got ${JSON.stringify(options.minValidity)}.`);
    }
    const presented = open(readCookie(cookieHeader, config.cookieName));
    if (!presented) throw new BffError('login_required', 401, 'Not signed in.');
    const cookieOf = (outcome: TokenOutcome): ServerAccessToken['cookie'] =>
      outcome.cookie === undefined
        ? undefined
        : { name: config.cookieName, value: outcome.cookie, maxAge: tokens.remainingLifetime(outcome.session), header: context.sessionCookie(outcome.cookie, outcome.session) };
    let outcome: TokenOutcome;
    try {
      // Server calls are not a person's activity: no idle report.
      outcome = await tokens.getToken(presented, minValidity, undefined);
    } catch (error) {
      // The provider rotated but the store failed: no token, yet the new cookie holds the only
      // live refresh token. It rides on the error (`cookie`) for the caller to set, as /token does.
      if (error instanceof RotatedButUnavailableError) throw Object.assign(error, { cookie: cookieOf(error.outcome) });
      throw error;
    }
    const { accessToken, expiresAt, expiresIn, scope, user } = outcome.body;
    const token: ServerAccessToken = { accessToken, expiresAt, expiresIn, scope, user: structuredClone(user) };
    const cookie = cookieOf(outcome);
    if (cookie) token.cookie = cookie;
    return token;
  }

  return { handle, getSession, findSession, getAccessToken, tokens, admin: operations.admin(tokens, config.clientIp), config: publicConfig(resolved) };
}

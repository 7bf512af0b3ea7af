import { errorResponse, type SessionResponseBody, type SessionUser } from '@latchkey/core';
import * as oauth from 'oauth4webapi';
import { resolveConfig, type BffConfig, type RateLimits, type ResolvedConfig } from './config.js';
import { clearCookie, readCookie, serializeCookie } from './cookies.js';
import { checkCsrf } from './csrf.js';
import { BffError } from './errors.js';
import { OidcClient } from './oidc.js';
import { safeReturnTo } from './returnTo.js';
import { Sealer } from './seal.js';
import { isSessionData, isTransactionData, pickUser, type SessionData, type TransactionData } from './session.js';
import { TokenService } from './tokenService.js';

/** The BFF: one Web-standard handler for every route under `basePath`. */
export interface Bff {
  /** Answers a request to any route under `basePath`. */
  handle(request: Request): Promise<Response>;
  /** Who is signed in according to a `Cookie` header, without any token (for server components). */
  getSession(cookieHeader: string | null): Promise<SessionUser | undefined>;
  /**
   * "Sign out everywhere": revokes every session family of a user (by `sub`) upstream and
   * denylists them, so each of their cookies gets 401 `session_revoked`. Answers how many.
   */
  revokeUser(sub: string): Promise<number>;
  /** Revokes one session family by id (as found in events and logs), for incident response. */
  revokeFamily(familyId: string): Promise<void>;
  /** The resolved configuration (read-only). */
  readonly config: Readonly<ResolvedConfig>;
}

const TRANSACTION_SECONDS = 600;
const LIMIT_EVENT_NAMES = { tokenPerFamily: 'token_family', tokenPerIp: 'token_ip', loginPerIp: 'login_ip' } as const;
const MAX_BODY_BYTES = 4096;

/**
 * Creates the Backend-for-Frontend. The configuration is checked here, once; a bad one
 * throws a {@link ConfigurationError} naming the option at fault.
 * @example
 * const bff = createBff({ issuer, clientId, clientSecret, appOrigin: 'https://app.example', cookieSecret });
 * export const GET = bff.handle, POST = bff.handle;
 */
export function createBff(options: BffConfig): Bff {
  const config = resolveConfig(options);
  const sealer = new Sealer(config.passwords);
  const oidc = new OidcClient(config);
  const tokens = new TokenService(config, oidc, sealer);
  const sessionCookie = (value: string, session: SessionData) =>
    serializeCookie(config.cookieName, value, { maxAge: tokens.remainingLifetime(session), sameSite: 'Strict' });

  async function readSession(cookieHeader: string | null): Promise<{ session?: SessionData; present: boolean }> {
    const raw = readCookie(cookieHeader, config.cookieName);
    if (!raw) return { present: false };
    const session = await sealer.unseal(raw, isSessionData);
    return session ? { session, present: true } : { present: true };
  }

  /** Counts a hit against a limit; over it, a 429 `rate_limited` with `Retry-After`. */
  async function limit(name: keyof RateLimits, id: string | undefined): Promise<void> {
    const rule = config.rateLimits[name];
    if (!rule || !id) return;
    const { count, resetSeconds } = await config.store.increment(`latchkey:rate:${name}:${id}`, rule.windowSeconds);
    if (count <= rule.limit) return;
    config.onEvent({ type: 'rate_limited', limit: LIMIT_EVENT_NAMES[name], retryAfter: resetSeconds });
    throw new BffError('rate_limited', 429, `Too many requests; try again in ${resetSeconds} s. The session is kept.`, {
      headers: { 'retry-after': String(resetSeconds) },
    });
  }

  async function login(request: Request, url: URL): Promise<Response> {
    await limit('loginPerIp', config.clientIp(request));
    const returnTo = safeReturnTo(url.searchParams.get('returnTo'), config.appOrigin);
    if (returnTo === undefined) {
      throw new BffError('invalid_return_to', 400, `returnTo must be a path on this site such as "/notes", got ${JSON.stringify(url.searchParams.get('returnTo'))}.`);
    }
    const start = await oidc.buildAuthorizationUrl();
    const tx: TransactionData = { state: start.state, nonce: start.nonce, verifier: start.verifier, returnTo };
    const headers = new Headers({ location: start.url.href, 'cache-control': 'no-store' });
    // Lax, not Strict: the provider's redirect back is a cross-site navigation and must carry it.
    headers.append(
      'set-cookie',
      serializeCookie(config.transactionCookieName, await sealer.seal(tx, TRANSACTION_SECONDS), { maxAge: TRANSACTION_SECONDS, sameSite: 'Lax' }),
    );
    return new Response(null, { status: 302, headers });
  }

  async function callback(request: Request, url: URL): Promise<Response> {
    const base = { 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };
    const clearTx = clearCookie(config.transactionCookieName, 'Lax');
    const fail = (error: BffError) => {
      const response = error.toResponse({ headers: base });
      response.headers.append('set-cookie', clearTx);
      return response;
    };
    const tx = await sealer.unseal(readCookie(request.headers.get('cookie'), config.transactionCookieName), isTransactionData);
    if (!tx) {
      return fail(new BffError('missing_transaction', 400, 'No sign-in is in progress in this browser (it expired or was already used). Start again.'));
    }
    let result;
    try {
      result = await oidc.exchangeCode(url, tx);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        const target = new URL(tx.returnTo, config.appOrigin);
        target.searchParams.set('auth_error', error.error);
        const headers = new Headers({ ...base, location: target.href });
        headers.append('set-cookie', clearTx);
        return new Response(null, { status: 302, headers });
      }
      if (error instanceof BffError && error.status !== undefined && error.status < 500) return fail(error);
      throw error;
    }
    if (!result.refreshToken) {
      return fail(
        new BffError('invalid_grant', 400, 'The identity provider issued no refresh token; allow the refresh_token grant and the offline_access scope for this client.'),
      );
    }
    // Signing in over an existing session ends the old family: no session fixation, no orphan grant.
    const previous = await readSession(request.headers.get('cookie'));
    if (previous.session && !(await tokens.isRevoked(previous.session.fid))) await tokens.revokeFamily(previous.session, 'new_sign_in');

    const session: SessionData = {
      fid: oauth.generateRandomState(),
      v: 1,
      rt: result.refreshToken,
      user: pickUser(result.claims ?? {}),
      ca: Math.floor(config.now() / 1000),
    };
    const sealed = await tokens.sealSession(session);
    await tokens.startFamily(session, result, sealed);
    config.onEvent({ type: 'session_created', familyId: session.fid, sub: session.user.sub });
    const headers = new Headers({ ...base, location: new URL(tx.returnTo, config.appOrigin).href });
    headers.append('set-cookie', clearTx);
    headers.append('set-cookie', sessionCookie(sealed, session));
    return new Response(null, { status: 302, headers });
  }

  async function token(request: Request): Promise<Response> {
    await limit('tokenPerIp', config.clientIp(request));
    const body = await readJsonBody(request);
    const minValidity = body.minValidity ?? 30;
    if (typeof minValidity !== 'number' || !Number.isFinite(minValidity) || minValidity < 0 || minValidity > 86_400) {
      throw new BffError('invalid_request', 400, `minValidity must be a number of seconds from 0 to 86400, got ${JSON.stringify(body.minValidity)}.`);
    }
    const idle = body.idle;
    if (idle !== undefined && (typeof idle !== 'number' || !Number.isFinite(idle) || idle < 0)) {
      throw new BffError('invalid_request', 400, `idle must be a non-negative number of seconds, got ${JSON.stringify(idle)}.`);
    }
    const { session, present } = await readSession(request.headers.get('cookie'));
    if (!session) {
      const error = new BffError('login_required', 401, present ? 'The session cookie could not be read. Sign in again.' : 'Not signed in.');
      return withClearedCookie(error.toResponse(), present);
    }
    // Over the limit, the session stays: a 429 never clears the cookie.
    await limit('tokenPerFamily', session.fid);
    try {
      await tokens.checkLive(session, idle);
      const outcome = await tokens.getToken(session, minValidity);
      const response = json(200, outcome.body);
      if (outcome.cookie) response.headers.append('set-cookie', sessionCookie(outcome.cookie, outcome.session));
      return response;
    } catch (error) {
      if (error instanceof BffError && (error.code === 'session_expired' || error.code === 'session_revoked')) {
        return withClearedCookie(error.toResponse(), true);
      }
      throw error;
    }
  }

  async function logout(request: Request): Promise<Response> {
    await readJsonBody(request);
    const { session } = await readSession(request.headers.get('cookie'));
    if (session && !(await tokens.isRevoked(session.fid))) {
      await tokens.revokeFamily(session, 'logout');
      config.onEvent({ type: 'logged_out', familyId: session.fid });
    }
    const endSessionUrl = await oidc.endSessionUrl();
    return withClearedCookie(json(200, endSessionUrl ? { endSessionUrl } : {}), true);
  }

  async function session(request: Request): Promise<Response> {
    const { session } = await readSession(request.headers.get('cookie'));
    const live = session && (await tokens.isUsable(session));
    const body: SessionResponseBody = live ? { authenticated: true, user: session.user } : { authenticated: false };
    return json(200, body);
  }

  function withClearedCookie(response: Response, clear: boolean): Response {
    if (clear) response.headers.append('set-cookie', clearCookie(config.cookieName));
    return response;
  }

  const routes: Record<string, { method: 'GET' | 'POST'; run: (request: Request, url: URL) => Promise<Response> }> = {
    login: { method: 'GET', run: login },
    callback: { method: 'GET', run: callback },
    token: { method: 'POST', run: token },
    logout: { method: 'POST', run: logout },
    session: { method: 'GET', run: session },
  };

  async function handle(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const prefix = `${config.basePath}/`;
      const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
      const route = Object.hasOwn(routes, name) ? routes[name] : undefined;
      if (!route) throw new BffError('not_found', 404, `No Latchkey route at ${JSON.stringify(url.pathname)}.`);
      if (request.method !== route.method) {
        throw new BffError('method_not_allowed', 405, `${url.pathname} answers ${route.method} only, got ${request.method}.`, {
          headers: { allow: route.method },
        });
      }
      if (route.method === 'POST') {
        const refused = checkCsrf(request, config.appOrigin);
        if (refused) {
          config.onEvent({ type: 'csrf_rejected', path: url.pathname, reason: refused.message });
          throw refused;
        }
      }
      return await route.run(request, url);
    } catch (error) {
      if (error instanceof BffError) return error.toResponse();
      console.error('[latchkey] unexpected error', error);
      return errorResponse(500, { error: 'server_error', error_description: 'The sign-in service failed unexpectedly. Try again.' });
    }
  }

  async function getSession(cookieHeader: string | null): Promise<SessionUser | undefined> {
    // Read-only on purpose: rendering a page never revokes anything upstream.
    const { session } = await readSession(cookieHeader);
    return session && (await tokens.isUsable(session)) ? session.user : undefined;
  }

  return {
    handle,
    getSession,
    revokeUser: (sub) => tokens.revokeUser(sub),
    revokeFamily: async (familyId) => {
      await tokens.revokeFamilyById(familyId, 'revoke_family');
    },
    config,
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/** Reads a small JSON object body; an empty body is `{}`. */
async function readJsonBody(request: Request): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const text = await readLimited(request, MAX_BODY_BYTES);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BffError('invalid_request', 400, 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BffError('invalid_request', 400, 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

async function readLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function tooLarge() {
  return new BffError('payload_too_large', 413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
}

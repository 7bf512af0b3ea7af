import { bearerChallenge, hasScope, IDLE_HEADER, parseWwwAuthenticate } from '@latchkey/core';
import type { ResolvedApi } from '../apis.js';
import { BffError, UpstreamError } from '../errors.js';
import { readBodyBytes } from '../http.js';
import { platformFetch } from '../providerFetch.js';
import type { BffEvent } from '../events.js';
import { proxiedLocation, proxyTarget } from '../proxyPath.js';
import type { TokenOutcome } from '../tokenService.js';
import { signedOut, tokenFailure } from './answers.js';
import type { RouteContext } from './context.js';
import { MAX_MIN_VALIDITY } from './token.js';

/**
 * Response headers passed back to the browser. Not `set-cookie` (the API does not get to write
 * the app's cookies), not hop-by-hop headers, not `content-length`/`content-encoding` (the
 * body is re-streamed, already decoded), not `cache-control` (every answer under the base path
 * is `no-store`: proxied answers are one user's data). `location` and `www-authenticate` are
 * handled on their own.
 */
const RESPONSE_HEADERS = ['content-type', 'content-language', 'content-disposition', 'etag', 'last-modified', 'retry-after', 'vary', 'expires'];

/** Statuses whose answer has no body (a `Response` refuses one). */
const NO_BODY = new Set([204, 205, 304]);

type Outcome = Extract<BffEvent, { type: 'api_proxied' }>['outcome'];

/**
 * `<basePath>/proxy/<api>/<path>`: calls the configured API with the session's access token,
 * which never reaches the browser (the BFF pattern of RFC 10017 / draft-ietf-oauth-browser-based-apps).
 * In order: known API (404) and method (405), the CSRF gate for every method (403), the path
 * (400 `invalid_proxy_path`), the session (401), the family's rate limit (429), the body, read
 * whole within the API's limit (413) before anything is sent, a token by the same path as
 * `/token`, scopes and audience (403), then the call, with one refresh and one retry when the
 * API answers 401 `invalid_token`.
 */
export async function apiProxy(ctx: RouteContext, request: Request, url: URL, tail: string): Promise<Response> {
  const { config } = ctx;
  const slash = tail.indexOf('/');
  const name = slash === -1 ? tail : tail.slice(0, slash);
  const rest = slash === -1 ? '' : tail.slice(slash);
  const api = Object.hasOwn(config.apis, name) ? config.apis[name] : undefined;
  if (!api) throw new BffError('not_found', 404, `No API named ${JSON.stringify(name.slice(0, 100))} is configured.`);
  const proxyBase = `${config.basePath}/proxy/${api.name}`;
  if (!api.methods.includes(request.method)) {
    throw new BffError('method_not_allowed', 405, `${proxyBase} answers ${api.methods.join(', ')}, got ${request.method}.`, { headers: { allow: api.methods.join(', ') } });
  }
  // Every method, GET included: a proxied GET spends the user's token as much as a POST does.
  // The JSON content-type rule of the other routes is left out, since an API may take any body
  // (uploads, text): it only matters where the custom header could be missing, and it cannot
  // be here. A cross-site page can send `x-latchkey` only through fetch with CORS, whose
  // preflight the BFF never answers with Access-Control-Allow-*, so the browser never sends
  // the request; forms, images and navigations cannot set it at all.
  ctx.refuseCrossSite(request, proxyBase, { anyContentType: true });
  const target = proxyTarget(api, rest, url.search);
  const idle = idleOf(request);
  const declared = request.headers.get('content-length');
  if (declared !== null && !/^\d+$/.test(declared.trim())) throw new BffError('invalid_request', 400, 'Content-Length is not a number.');
  if (Number(declared ?? '0') > api.maxBodyBytes) throw tooLarge(api);

  const { session, present } = ctx.readSession(request);
  if (!session) return signedOut(ctx, request, present);
  // Each call spends a token like a /token call does: one budget per family, whichever route.
  const limited = ctx.limit('tokenPerFamily', session.fid);
  if (limited) await limited;
  const body = await readBody(request, api, config.bodyTimeoutMs);

  let outcome: TokenOutcome;
  try {
    // The token must outlive the call it is sent with.
    outcome = await ctx.tokens.getToken(session, Math.min(MAX_MIN_VALIDITY, Math.max(30, Math.ceil(api.timeoutMs / 1000))), idle);
  } catch (error) {
    return tokenFailure(ctx, error);
  }
  let cookie = outcome.cookie === undefined ? undefined : ctx.sessionCookie(outcome.cookie, outcome.session);
  const emit = (status: number, result: Outcome, upstreamMs: number) =>
    config.onEvent({ type: 'api_proxied', familyId: session.fid, sub: session.user.sub, api: api.name, method: request.method, status, outcome: result, upstreamMs });
  const withCookie = (response: Response) => {
    if (cookie) response.headers.append('set-cookie', cookie);
    return response;
  };

  const unfit = unfitToken(api, outcome.body.accessToken, outcome.body.scope);
  if (unfit) {
    emit(403, 'refused', 0);
    return withCookie(new BffError('insufficient_scope', 403, unfit).toResponse());
  }

  const started = performance.now();
  const send = (token: string) => callApi(api, request, target, token, body);
  let answer: Response;
  let result: Outcome = 'forwarded';
  try {
    answer = await send(outcome.body.accessToken);
    // RFC 6750 §3.1: the API refused the token itself (expired, revoked), not the request. One
    // refresh that never serves the refused token again, however fresh, and one retry; never a
    // second. An API that refuses every token costs one refresh per call, within the rate limit.
    if (answer.status === 401 && bearerChallenge(answer.headers.get('www-authenticate'))?.error === 'invalid_token') {
      let renewed: TokenOutcome;
      try {
        renewed = await ctx.tokens.getToken(outcome.session, MAX_MIN_VALIDITY, undefined, { rejected: outcome.body.accessToken });
      } catch (error) {
        void answer.body?.cancel().catch(() => {});
        return tokenFailure(ctx, error, cookie);
      }
      if (renewed.cookie !== undefined) cookie = ctx.sessionCookie(renewed.cookie, renewed.session);
      if (renewed.body.accessToken !== outcome.body.accessToken) {
        void answer.body?.cancel().catch(() => {});
        result = 'retried';
        answer = await send(renewed.body.accessToken);
      }
    }
  } catch (error) {
    const timedOut = error instanceof BffError && error.code === 'upstream_timeout';
    emit(error instanceof BffError ? error.status ?? 502 : 502, timedOut ? 'timeout' : 'unavailable', Math.round(performance.now() - started));
    if (error instanceof BffError) return withCookie(error.toResponse());
    throw error;
  }
  const upstreamMs = Math.round(performance.now() - started);
  const response = relay(api, answer, target, proxyBase, request.method);
  emit(response.status, response.status === 502 && answer.status !== 502 ? 'redirect_refused' : result, upstreamMs);
  return withCookie(response);
}

/** `x-latchkey-idle`: seconds since the user was last active, as `/token` takes `idle`. */
function idleOf(request: Request): number | undefined {
  const raw = request.headers.get(IDLE_HEADER);
  if (raw === null) return undefined;
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(raw)) throw new BffError('invalid_request', 400, `${IDLE_HEADER} must be a non-negative number of seconds, got ${JSON.stringify(raw.slice(0, 40))}.`);
  return Number(raw);
}

function tooLarge(api: ResolvedApi): BffError {
  return new BffError('payload_too_large', 413, `The request body is larger than the ${api.maxBodyBytes} bytes the API "${api.name}" accepts.`);
}

/**
 * Reads the body whole, within the API's limit, before anything is sent: the API never sees a
 * partial upload, and the body can be sent again for the one retry. The limit is enforced as
 * chunks arrive (an endless body is cut off at the limit, never buffered on), and a body
 * that stops arriving is 408 after `timeoutMs`.
 */
async function readBody(request: Request, api: ResolvedApi, timeoutMs: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!request.body || request.method === 'GET' || request.method === 'HEAD') return undefined;
  return readBodyBytes(request.body, api.maxBodyBytes, timeoutMs, () => tooLarge(api));
}

/** Why this token may not go to this API (its scopes, its audience), or `undefined` when it may. */
function unfitToken(api: ResolvedApi, token: string, scope: string): string | undefined {
  if (api.scopes.length > 0 && !hasScope(scope, api.scopes)) {
    return `The session's access token lacks the scopes the API "${api.name}" requires (${api.scopes.join(' ')}). Sign in again granting them.`;
  }
  if (api.audience !== undefined && !audiences(token).includes(api.audience)) {
    return `The session's access token is not meant for the API "${api.name}" (audience ${JSON.stringify(api.audience)}); it was not sent.`;
  }
  return undefined;
}

/** The `aud` of a JWT access token, read without verifying (the API verifies); none for an opaque token. */
function audiences(token: string): string[] {
  const payload = token.split('.')[1];
  if (payload === undefined || token.split('.').length !== 3) return [];
  try {
    const { aud } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud?: unknown };
    return typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Calls the API: allow-listed request headers only, the token in `Authorization`, redirects
 * never followed, and a deadline for the response headers (cleared once they arrive; a
 * streamed body such as server-sent events has none). Past it, 504 `upstream_timeout`; no
 * answer at all, 503 `upstream_unavailable`: both with `Retry-After`, the session kept.
 */
async function callApi(api: ResolvedApi, request: Request, target: URL, token: string, body: Uint8Array<ArrayBuffer> | undefined): Promise<Response> {
  const headers = new Headers();
  for (const name of api.headers) {
    const value = request.headers.get(name);
    if (value !== null && (name !== 'content-type' || body !== undefined)) headers.set(name, value);
  }
  headers.set('authorization', `Bearer ${token}`);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), api.timeoutMs);
  try {
    return await platformFetch()(target, {
      method: request.method,
      headers,
      ...(body !== undefined && { body }),
      redirect: 'manual',
      // The browser leaving (its request aborted) ends the call too.
      signal: AbortSignal.any([deadline.signal, request.signal]),
    });
  } catch (error) {
    if (deadline.signal.aborted) {
      throw new BffError('upstream_timeout', 504, `The API "${api.name}" did not answer within ${api.timeoutMs} ms. Try again shortly; the session is kept.`, {
        cause: error,
        headers: { 'retry-after': '5' },
      });
    }
    throw new UpstreamError(`The API "${api.name}" could not be reached. Try again shortly; the session is kept.`, { cause: error, retryAfter: 5 });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The API's answer as the browser gets it: the status, allow-listed headers and the body as a
 * stream (server-sent events arrive as they are sent). A redirect is kept only when it points
 * under the API's own base URL, rewritten to go through the proxy again (and so through every
 * check); one pointing anywhere else is 502 `bad_gateway`, never followed and never shown.
 */
function relay(api: ResolvedApi, answer: Response, target: URL, proxyBase: string, method: string): Response {
  const headers = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  // Bearer challenges only: a Basic or Negotiate one would make the browser prompt for a password.
  const challenge = answer.headers.get('www-authenticate');
  const challenges = parseWwwAuthenticate(challenge);
  if (challenge && challenges.length > 0 && challenges.every((c) => c.scheme === 'bearer')) headers.set('www-authenticate', challenge);
  const location = answer.headers.get('location');
  const redirect = answer.status >= 300 && answer.status < 400 && answer.status !== 304;
  if (location !== null) {
    const rewritten = proxiedLocation(api, location, target, proxyBase);
    if (rewritten) headers.set('location', rewritten);
    else if (redirect) {
      void answer.body?.cancel().catch(() => {});
      return new BffError('bad_gateway', 502, `The API "${api.name}" redirected outside its base URL; the redirect was not followed.`).toResponse();
    }
  }
  if (headers.get('content-type')?.toLowerCase().startsWith('text/event-stream')) headers.set('x-accel-buffering', 'no');
  const empty = NO_BODY.has(answer.status) || method === 'HEAD';
  if (empty) void answer.body?.cancel().catch(() => {});
  return new Response(empty ? null : answer.body, { status: answer.status, statusText: answer.statusText, headers });
}


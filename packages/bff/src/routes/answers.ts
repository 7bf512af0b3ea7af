import { BffError } from '../errors.js';
import { RotatedButUnavailableError } from '../tokenService.js';
import type { RouteContext } from './context.js';

/**
 * No session on a request that needs one (`/token`, the proxy): counted against the per-IP
 * limit, then 401 `login_required`; a cookie that is there but cannot be read is cleared.
 */
export async function signedOut(ctx: RouteContext, request: Request, present: boolean): Promise<Response> {
  await ctx.limit('anonymousPerIp', ctx.config.clientIp(request));
  const response = new BffError('login_required', 401, present ? 'The session cookie could not be read. Sign in again.' : 'Not signed in.').toResponse();
  if (present) response.headers.append('set-cookie', ctx.clearSessionCookie());
  return response;
}

/**
 * A token that could not be had, answered alike by `/token` and the proxy: a rotated cookie
 * that could not be vouched for still goes out, an ended session clears the cookie, any other
 * failure keeps it (and carries `pending`, a rotated cookie an earlier step of the request
 * received). What is not a `BffError` is thrown on.
 */
export function tokenFailure(ctx: RouteContext, error: unknown, pending?: string): Response {
  if (error instanceof RotatedButUnavailableError) {
    const response = error.toResponse();
    if (error.outcome.cookie) response.headers.append('set-cookie', ctx.sessionCookie(error.outcome.cookie, error.outcome.session));
    else if (pending) response.headers.append('set-cookie', pending);
    return response;
  }
  if (error instanceof BffError && (error.code === 'session_expired' || error.code === 'session_revoked')) {
    const response = error.toResponse();
    response.headers.append('set-cookie', ctx.clearSessionCookie());
    return response;
  }
  if (error instanceof BffError) {
    const response = error.toResponse();
    if (pending) response.headers.append('set-cookie', pending);
    return response;
  }
  throw error;
}

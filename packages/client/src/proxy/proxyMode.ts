import { isTerminalCode, responseError, type SessionResponseBody } from '@latchkey/core';
import type { AuthMode, BffCall, BffError } from '../AuthClient.js';
import { AuthClientError } from '../errors.js';

export interface ProxyModeOptions {
  /**
   * Keep token mode (the browser holds an access token for the APIs it calls itself) and add
   * only `fetch(api, path)`, for a BFF that proxies some APIs. Off: the browser holds no token.
   */
  browserToken?: boolean;
}

/**
 * Proxy mode: the browser never holds an access token. The BFF keeps it and attaches it to the
 * calls made through `fetch(api, path, init)`, which go to its `${baseUrl}/proxy/<api>/<path>`;
 * the session's state comes from its `GET /session` (on mount, when the tab comes back, and
 * every minute), and `getAccessToken()` rejects with `configuration_error`.
 * @example
 * const auth = new AuthClient({ mode: proxyMode() });
 * const notes = await auth.fetch('notes', '/items?limit=20');
 */
export function proxyMode(options: ProxyModeOptions = {}): AuthMode {
  if (options.browserToken) return { fetch: proxyFetch };
  return {
    load: async (bff) => {
      const response = await bff('session', { method: 'GET', cache: 'no-store' });
      const body = (await response.clone().json().catch(() => undefined)) as Partial<SessionResponseBody> | undefined;
      // Signed out reads as /token's answer when there is no session cookie.
      return body?.authenticated === false ? new Response(null, { status: 204 }) : response;
    },
    noToken: () => {
      throw new AuthClientError('configuration_error', 'No access token in proxy mode: use fetch(api, path).');
    },
    fetch: proxyFetch,
  };
}

/**
 * A call through the BFF's proxy, with the cookie, the CSRF header and the idle seconds. The
 * BFF's own answers change the session: a 401 with a terminal code ends it (in every tab), and
 * `upstream_unavailable` or `rate_limited` is temporary trouble, kept in `lastError` (and the
 * session looked at again later). The call itself is never retried here: the BFF retries an
 * API's 401 itself, and every other answer is the API's, returned as it is.
 */
async function proxyFetch(
  bff: BffCall,
  failed: (response: Response, verdict: BffError) => void,
  api: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  if (path[0] !== '/') throw new TypeError(`Proxy path "${path}" must start with "/".`);
  // The BFF's headers go last, so an app's own cannot replace them; whatever credentials the app
  // asked for, the BFF's cookie is what authenticates the call.
  const headers = Object.fromEntries(new Headers(init.headers));
  const response = await bff(`proxy/${encodeURIComponent(api)}${path}`, { ...init, headers, credentials: 'same-origin' });
  if (!response.ok) {
    const verdict = responseError(response.headers, await response.clone().json().catch(() => undefined));
    if (response.status === 401 ? isTerminalCode(verdict.code) : verdict.code === 'upstream_unavailable' || verdict.code === 'rate_limited') {
      failed(response, verdict);
    }
  }
  return response;
}

// @ts-check
/**
 * What proxy mode adds to an API call: the same GET of the demo's notes API, one at a time,
 * interleaved — through the BFF (`/api/auth/proxy/notes/items`, the session cookie and the CSRF
 * header, as the Latchkey client sends it) and straight to the API with the access token (as a
 * page in token mode sends it). Both end at the same route in the same process, which verifies
 * the token; the difference is the proxy: the BFF's route, its session and token lookup, and the
 * hop from the BFF to the API and back.
 */
import { COOKIE, tokenUrl } from './sessions.mjs';
import { interleavedLatency } from './measure.mjs';

/**
 * @typedef {{ proxy: number[], direct: number[], paired: number[], errors: string[] }} ProxyLatency
 * `paired`: proxy − direct within each step.
 */

/**
 * @param {{ url: string, session: import('./sessions.mjs').Session, warmS: number, measureS: number, maxSamples?: number, signal: AbortSignal }} options
 * @returns {Promise<ProxyLatency>}
 */
export async function proxyLatency({ url, session, warmS, measureS, maxSamples = 2000, signal }) {
  /** @type {{ value: string, expiresAt: number } | undefined} */
  let token;
  // Outside the timed part: a token for the direct call with a few seconds left, from /token.
  const directToken = async () => {
    if (token && token.expiresAt - Date.now() > 3_000) return token.value;
    const response = await fetch(tokenUrl(url, 5), { method: 'POST', headers: session.headers() });
    const body = await response.json();
    session.adopt(response);
    if (response.status !== 200) throw new Error(`/token answered ${response.status} ${body.error ?? ''}`);
    token = { value: body.accessToken, expiresAt: body.expiresAt * 1000 };
    return token.value;
  };
  /** @param {string} target @param {Record<string, string>} headers @returns {Promise<import('./measure.mjs').Attempt>} */
  const get = async (target, headers) => {
    try {
      const t0 = performance.now();
      const response = await fetch(target, { headers });
      await response.arrayBuffer();
      const ms = performance.now() - t0;
      // The proxy may rotate the session on the way (its token ran low): keep the new cookie.
      session.adopt(response);
      return response.status === 200 ? { kind: 'ok', ms } : { kind: 'error', note: String(response.status) };
    } catch (error) {
      return { kind: 'error', note: error instanceof Error ? error.name : String(error) };
    }
  };
  const attempts = {
    proxy: () => get(`${url}/api/auth/proxy/notes/items`, { 'x-latchkey': '1', 'sec-fetch-site': 'same-origin', cookie: `${COOKIE}=${session.cookie}` }),
    direct: async () => get(`${url}/api/notes/items`, { authorization: `Bearer ${await directToken()}` }),
  };
  await directToken();
  const { byKind, paired } = await interleavedLatency({ warmS, measureS, maxSamples, attempts, signal });
  return { proxy: byKind.proxy.samples, direct: byKind.direct.samples, paired, errors: [...byKind.proxy.errors, ...byKind.direct.errors] };
}

// @ts-check
/**
 * The benchmark's two kinds of phase: throughput (autocannon, many connections, CPU time of the
 * server read around the measured part) and latency (one request at a time with Node's fetch —
 * the same client the BFF uses for the provider — so client costs cancel out in the subtraction).
 */
import autocannon from 'autocannon';
import { POST_HEADERS, tokenUrl } from './sessions.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Nearest-rank percentile of sorted numbers; NaN when there are none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * @typedef {object} ThroughputResult
 * @property {number} responses answers in the measured part
 * @property {number} seconds its wall-clock length
 * @property {number} non2xx
 * @property {Record<string, number>} statuses answers by status code
 * @property {number} errors connection errors and timeouts
 * @property {number} p50 latency (ms, autocannon's)
 * @property {number} p99
 * @property {number} cpuMs CPU time of the server's process tree during the measured part
 * @property {number} extraCpuMs CPU time of the other processes counted (redis-server), 0 when none
 */

/**
 * One measured phase: {@link drive} for `warmS` (thrown away), then for `measureS` with the
 * server's CPU time read around it.
 * @param {{ url: string, body?: string, headers: Record<string, string>[], connections: number, warmS: number, measureS: number,
 *   serverCpu: () => number, extraCpu?: () => number }} options
 * @returns {Promise<ThroughputResult>}
 */
export async function throughput({ url, body, headers, connections, warmS, measureS, serverCpu, extraCpu = () => 0 }) {
  await drive({ url, body, headers, connections, seconds: warmS });
  const cpu0 = serverCpu();
  const extra0 = extraCpu();
  const t0 = performance.now();
  const result = await drive({ url, body, headers, connections, seconds: measureS });
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = serverCpu() - cpu0;
  const extraCpuMs = extraCpu() - extra0;
  /** @type {Record<string, number>} */
  const statuses = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = /** @type {{ count: number }} */ (stat).count;
  return {
    responses: result.requests.total,
    seconds,
    non2xx: result.non2xx,
    statuses,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMs,
    extraCpuMs,
  };
}

/**
 * Drives one POST route with autocannon for `seconds`: connection i sends `headers[i % headers.length]`
 * (one session per connection for /token). Alone, it is a warm-up whose answers are thrown away.
 * @param {{ url: string, body?: string, headers: Record<string, string>[], connections: number, seconds: number }} options
 */
export function drive({ url, body, headers, connections, seconds }) {
  let next = 0;
  return autocannon({
    url,
    method: 'POST',
    ...(body !== undefined && { body }),
    connections,
    duration: seconds,
    setupClient: (client) => client.setHeaders(headers[next++ % headers.length] ?? POST_HEADERS),
  });
}

/**
 * @typedef {{ kind: 'ok' | 'skip' | 'error', ms?: number, note?: string }} Attempt
 * `ok` counts (`ms`: from just before the request to the end of its body), `skip` is an answer of
 * another kind than the phase measures (a /token served from cache in a refresh phase), `error` a
 * failure.
 */

/**
 * Calls several kinds of attempt one at a time, interleaved: each step calls every kind once,
 * back to back, so a busy moment of a shared machine falls on all of them alike instead of on
 * whichever phase it happened to meet. Stops after `measureS` or when the first kind has
 * `maxSamples`, after `warmS` whose answers are thrown away. `paired` holds, for each step where every kind measured, `first − the others`
 * (e.g. refresh − (bare + grant)).
 * @template {string} K
 * @param {{ warmS: number, measureS: number, maxSamples?: number, attempts: Record<K, () => Promise<Attempt>>, signal: AbortSignal }} options
 * @returns {Promise<{ byKind: Record<K, { samples: number[], skipped: number, errors: string[] }>, paired: number[] }>}
 */
export async function interleavedLatency({ warmS, measureS, maxSamples = Infinity, attempts, signal }) {
  const kinds = /** @type {K[]} */ (Object.keys(attempts));
  const byKind = /** @type {Record<K, { samples: number[], skipped: number, errors: string[] }>} */ (
    Object.fromEntries(kinds.map((kind) => [kind, { samples: [], skipped: 0, errors: [] }]))
  );
  /** @type {number[]} */
  const paired = [];
  const step = async (record) => {
    /** @type {Attempt[]} */
    const outcomes = [];
    for (const kind of kinds) outcomes.push(await attempts[kind]());
    if (record) {
      outcomes.forEach((outcome, i) => {
        const row = byKind[kinds[i]];
        if (outcome.kind === 'ok') row.samples.push(outcome.ms ?? NaN);
        else if (outcome.kind === 'skip') row.skipped += 1;
        else row.errors.push(outcome.note ?? 'error');
      });
      if (outcomes.every((o) => o.kind === 'ok')) paired.push(outcomes.reduce((sum, o, i) => (i === 0 ? sum + (o.ms ?? NaN) : sum - (o.ms ?? NaN)), 0));
    }
  };
  const first = byKind[kinds[0]];
  const warmEnd = performance.now() + warmS * 1000;
  while (performance.now() < warmEnd && !signal.aborted) await step(false);
  const end = performance.now() + measureS * 1000;
  while (performance.now() < end && !signal.aborted && first.samples.length < maxSamples) await step(true);
  for (const kind of kinds) byKind[kind].samples.sort((a, b) => a - b);
  paired.sort((a, b) => a - b);
  return { byKind, paired };
}

/**
 * A `/token` call that must refresh: the session whose last refresh is oldest, asked for a
 * `minValidity` of the whole token lifetime once its token is past the fresh share of its life
 * (before that the BFF rightly serves the cached token). An answer without a new cookie is `skip`.
 * @param {{ url: string, sessions: import('./sessions.mjs').Session[], lifetimeS: number }} options
 * @returns {() => Promise<Attempt>}
 */
export function refreshAttempt({ url, sessions, lifetimeS }) {
  // The BFF counts a token as fresh for a quarter of its life (30 s at most); a margin on top.
  const restMs = Math.min(30, lifetimeS / 4) * 1000 + 750;
  return async () => {
    const session = sessions.shift();
    if (!session) return { kind: 'error', note: 'no session' };
    sessions.push(session);
    // Signed in or refreshed moments ago: the token is still fresh and would be served from cache.
    await sleep(Math.max(session.readyAt, session.signedInAt + restMs) - Date.now());
    try {
      const t0 = performance.now();
      const response = await fetch(tokenUrl(url, lifetimeS), { method: 'POST', headers: session.headers() });
      await response.arrayBuffer();
      const ms = performance.now() - t0;
      if (response.status !== 200) return { kind: 'error', note: String(response.status) };
      const rotated = session.adopt(response);
      session.readyAt = Date.now() + restMs;
      return { kind: rotated ? 'ok' : 'skip', ms };
    } catch (error) {
      return { kind: 'error', note: error instanceof Error ? error.name : String(error) };
    }
  };
}

/**
 * A request to the bare route, with the same headers and query as a `/token` call, and no body.
 * @param {{ url: string, headers: Record<string, string> }} options
 * @returns {() => Promise<Attempt>}
 */
export function bareAttempt({ url, headers }) {
  return async () => {
    try {
      const t0 = performance.now();
      const response = await fetch(`${url}/api/bench/bare?idle=0&minValidity=0`, { method: 'POST', headers });
      await response.arrayBuffer();
      const ms = performance.now() - t0;
      return response.status === 200 ? { kind: 'ok', ms } : { kind: 'error', note: String(response.status) };
    } catch (error) {
      return { kind: 'error', note: error instanceof Error ? error.name : String(error) };
    }
  };
}

/**
 * A refresh-token grant sent straight to the provider's token endpoint, as the BFF sends it
 * (client_secret_basic, `grant_type=refresh_token`), following the rotation: each answer's new
 * refresh token is the next one used. `renew()` gives a fresh refresh token if the chain breaks.
 * @param {{ tokenEndpoint: string, client: { id: string, secret: string }, refreshToken: string, renew: () => Promise<string> }} options
 * @returns {() => Promise<Attempt>}
 */
export function grantAttempt({ tokenEndpoint, client, refreshToken, renew }) {
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  let current = refreshToken;
  return async () => {
    try {
      const t0 = performance.now();
      const response = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current }),
      });
      const json = await response.json();
      const ms = performance.now() - t0;
      if (response.status === 200 && typeof json.refresh_token === 'string') {
        current = json.refresh_token;
        return { kind: 'ok', ms };
      }
      current = await renew();
      return { kind: 'error', note: `${response.status} ${json.error ?? ''}`.trim() };
    } catch (error) {
      return { kind: 'error', note: error instanceof Error ? error.name : String(error) };
    }
  };
}

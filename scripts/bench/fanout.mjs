// @ts-check
/**
 * Upstream refreshes per rotation: waves of F simultaneous `/token` calls that carry the same
 * cookie (F tabs of one browser waking at once), one session per `minValidity`, every session's
 * token already expired when the first wave leaves. The provider's refresh-grant count over the
 * run, divided by the rotations the bench saw (distinct new session cookies), is 1.00 when the
 * BFF redeems each refresh token exactly once however many calls arrive together.
 */
import { POST_HEADERS, COOKIE, sessionCookieOf, tokenUrl } from './sessions.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * @typedef {{ grants: { authorization_code: number, refresh_token: number }, revoked: number, reuseDetected: number }} ProviderStats
 * @typedef {object} FanOutResult
 * @property {number} fanOut
 * @property {number} requests
 * @property {number} waves
 * @property {number} rotations distinct new session cookies (by family and version)
 * @property {number} cookies distinct new session cookie values (the same as rotations unless a heal re-sealed one)
 * @property {number} grants the provider's refresh_token grants during the run
 * @property {number} reuse the provider's reuseDetected during the run
 * @property {Record<string, number>} statuses
 * @property {{ minValidity: number, rotations: number }[]} byMinValidity
 */

/**
 * @param {{ url: string, cells: { minValidity: number, session: import('./sessions.mjs').Session }[], fanOut: number, durationS: number,
 *   intervalMs: number, lifetimeS: number, stats: () => Promise<ProviderStats | undefined>,
 *   open: (cookie: string) => Promise<{ fid: string, v: number }>, signal: AbortSignal }} options
 * @returns {Promise<FanOutResult>}
 */
export async function fanOutRun({ url, cells, fanOut, durationS, intervalMs, lifetimeS, stats, open, signal }) {
  // Every token past its expiry: the first wave is a refresh for every minValidity, 0 included.
  const expiredAt = Math.max(...cells.map((c) => c.session.signedInAt)) + (lifetimeS + 1) * 1000;
  await sleep(expiredAt - Date.now());
  const before = await stats();
  if (!before) throw new Error('the provider did not answer /__dev/stats');
  /** @type {Record<string, number>} */
  const statuses = {};
  let requests = 0;
  let waves = 0;
  const end = Date.now() + durationS * 1000;
  const perCell = await Promise.all(
    cells.map(async ({ minValidity, session }) => {
      const start = await open(session.cookie);
      /** @type {Set<string>} new rotations, as `family:version` */
      const rotations = new Set();
      /** @type {Map<string, number>} every new cookie value and the version it carries */
      const cookies = new Map();
      while (Date.now() < end && !signal.aborted) {
        const leftAt = Date.now();
        const headers = { ...POST_HEADERS, cookie: `${COOKIE}=${session.cookie}` };
        const answers = await Promise.all(
          Array.from({ length: fanOut }, async () => {
            try {
              const response = await fetch(tokenUrl(url, minValidity), { method: 'POST', headers });
              await response.arrayBuffer();
              return { status: String(response.status), cookie: sessionCookieOf(response) };
            } catch (error) {
              return { status: error instanceof Error ? error.name : 'error', cookie: undefined };
            }
          }),
        );
        waves += 1;
        requests += fanOut;
        let newest = { v: -1, cookie: '' };
        for (const answer of answers) {
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (!answer.cookie || answer.cookie === session.cookie) continue;
          let v = cookies.get(answer.cookie);
          if (v === undefined) {
            const opened = await open(answer.cookie);
            v = opened.v;
            cookies.set(answer.cookie, v);
            if (opened.fid === start.fid && v > start.v) rotations.add(`${opened.fid}:${v}`);
          }
          if (v > newest.v) newest = { v, cookie: answer.cookie };
        }
        // The browser keeps the newest cookie it was given; the next wave carries it.
        if (newest.cookie) session.cookie = newest.cookie;
        await sleep(leftAt + intervalMs - Date.now());
      }
      return { minValidity, rotations: rotations.size, cookies: cookies.size };
    }),
  );
  const after = await stats();
  if (!after) throw new Error('the provider did not answer /__dev/stats');
  return {
    fanOut,
    requests,
    waves,
    rotations: perCell.reduce((sum, c) => sum + c.rotations, 0),
    cookies: perCell.reduce((sum, c) => sum + c.cookies, 0),
    grants: after.grants.refresh_token - before.grants.refresh_token,
    reuse: after.reuseDetected - before.reuseDetected,
    statuses,
    byMinValidity: perCell.map(({ minValidity, rotations }) => ({ minValidity, rotations })),
  };
}

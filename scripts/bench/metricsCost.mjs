// @ts-check
/**
 * `pnpm bench --metrics`: what the BFF's OpenTelemetry metrics cost on the cached path. Two
 * instances of the built demo on the memory store: one without METRICS_BEARER_TOKEN (no SDK: the
 * BFF's instruments are the OpenTelemetry API's no-ops) and one with it (the demo installs the
 * metrics SDK and the Prometheus exporter, so every cached /token records into a real counter).
 * Each is driven as the main throughput phases drive a store — cached /token, then the bare route
 * of the same process — and the two alternate which goes first, round after round.
 */
import { randomBytes } from 'node:crypto';
import { freePorts, startIdp } from '../soak/processes.mjs';
import { demoClient } from '../soak/workspace.mjs';
import { throughput } from './measure.mjs';
import { printMetricsCost, printRatios, printThroughput } from './report.mjs';
import { signInMany, tokenUrl } from './sessions.mjs';
import { startDemo, treeCpuMs } from './stack.mjs';

/** The token requests a scrape counts, by `latchkey.result`. */
function tokenRequests(exposition) {
  /** @type {Record<string, number>} */
  const counts = {};
  for (const [, result, value] of exposition.matchAll(/^latchkey_token_requests_total\{[^}]*latchkey_result="(\w+)"[^}]*\} (\S+)$/gm)) {
    counts[/** @type {string} */ (result)] = (counts[/** @type {string} */ (result)] ?? 0) + Number(value);
  }
  return counts;
}

/**
 * Runs the comparison and prints its tables, ratios and checks.
 * @param {{ opts: { rounds: number, warmS: number, measureS: number, lifetimeS: number, connections: number },
 *   children: import('../soak/processes.mjs').Children, interrupted: AbortSignal, say: (line: string) => void }} run
 */
export async function metricsCost({ opts, children, interrupted, say }) {
  const [offPort, onPort] = await freePorts(2);
  const ports = { off: offPort, on: onPort };
  const idp = await startIdp(children, { appOrigin: Object.values(ports).map((port) => `http://localhost:${port}`).join(','), accessTokenTtl: opts.lifetimeS });
  const client = demoClient();
  const scrapeToken = randomBytes(24).toString('base64url');
  const env = {
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: client.id,
    OIDC_CLIENT_SECRET: client.secret,
    LATCHKEY_COOKIE_SECRET: randomBytes(32).toString('base64'),
    LATCHKEY_RATE_LIMITS: 'off',
    REDIS_URL: '',
  };
  const [off, on] = await Promise.all([
    startDemo(children, { name: 'demo-no-sdk', port: ports.off, env: { ...env, METRICS_BEARER_TOKEN: '' } }),
    startDemo(children, { name: 'demo-sdk', port: ports.on, env: { ...env, METRICS_BEARER_TOKEN: scrapeToken } }),
  ]);
  const variants = [
    { name: 'no SDK', demo: off },
    { name: 'SDK', demo: on },
  ];
  say(`metrics: demo without an SDK ${off.url}, with the SDK and the Prometheus exporter ${on.url} (both on the memory store), provider ${idp.issuer}`);

  const scrape = async (demo) => {
    const response = await fetch(`${demo.url}/api/metrics`, { headers: { authorization: `Bearer ${scrapeToken}` } });
    return { status: response.status, body: await response.text() };
  };
  const checks = [];
  const before = { off: await scrape(off), on: await scrape(on) };
  if (before.on.status !== 200) throw new Error(`the demo with METRICS_BEARER_TOKEN answered ${before.on.status} at /api/metrics: a build from before the metrics route? Run pnpm build, or leave out --no-build`);
  checks.push(
    before.off.status === 404
      ? 'no SDK: GET /api/metrics answers 404 (METRICS_BEARER_TOKEN unset, no SDK installed)'
      : `no SDK: GET /api/metrics answered ${before.off.status}, not 404: the "no SDK" instance may have one`,
  );

  /** @type {Map<string, import('./sessions.mjs').Session[]>} */
  const sessions = new Map();
  for (const { name, demo } of variants) sessions.set(name, await signInMany(demo, opts.connections));
  const countedBefore = tokenRequests((await scrape(on)).body).cached ?? 0;

  /** @type {import('./report.mjs').ThroughputRow[]} */
  const rows = [];
  for (let round = 1; round <= opts.rounds && !interrupted.aborted; round++) {
    // Which instance goes first alternates, so a drift of the machine's load favours neither.
    for (const { name, demo } of round % 2 === 1 ? variants : [...variants].reverse()) {
      const cached = /** @type {import('./sessions.mjs').Session[]} */ (sessions.get(name));
      // Every connection's token must outlive the phase, so the phase sees no refresh at all.
      const outlive = Math.ceil(opts.warmS + opts.measureS + 2);
      for (const session of cached) {
        const response = await fetch(tokenUrl(demo.url, outlive), { method: 'POST', headers: session.headers() });
        await response.arrayBuffer();
        session.adopt(response);
      }
      const common = { headers: cached.map((s) => s.headers()), connections: opts.connections, warmS: opts.warmS, measureS: opts.measureS, serverCpu: () => treeCpuMs(demo.pid) };
      const a = await throughput({ url: tokenUrl(demo.url, 0), ...common });
      rows.push({ ...a, store: name, round, route: 'cached' });
      const b = await throughput({ url: `${demo.url}/api/bench/bare?idle=0&minValidity=0`, ...common });
      rows.push({ ...b, store: name, round, route: 'bare' });
      say(`${name} round ${round}: /token cached ${Math.round(a.responses / a.seconds)} req/s, bare route ${Math.round(b.responses / b.seconds)} req/s`);
    }
  }

  // The SDK instance really recorded: its counter of cached token requests grew by at least the
  // cached answers of the phases (warm-ups and the outlive calls add more).
  const counted = (tokenRequests((await scrape(on)).body).cached ?? 0) - countedBefore;
  const answered = rows.filter((r) => r.store === 'SDK' && r.route === 'cached').reduce((sum, r) => sum + (r.statuses['200'] ?? 0), 0);
  checks.push(
    counted >= answered
      ? `SDK: latchkey_token_requests_total{latchkey_result="cached"} grew by ${counted.toLocaleString('en-US')} (≥ the ${answered.toLocaleString('en-US')} cached answers measured)`
      : `SDK: latchkey_token_requests_total{latchkey_result="cached"} grew by ${counted} only, for ${answered} cached answers: the SDK did not record them`,
  );
  const non200 = rows.filter((r) => r.non2xx || r.errors).length;
  checks.push(non200 === 0 ? 'every answer of every phase was 200 (LATCHKEY_RATE_LIMITS=off honoured)' : `${non200} phases had answers other than 200: see the answers column`);

  console.log('');
  console.log(`== Latchkey benchmark (metrics): ${opts.rounds} rounds A/B per instance, phases of ${opts.measureS} s after ${opts.warmS} s warm-up, the instances alternating first`);
  console.log('   the demo under next start on the memory store, without and with the OpenTelemetry SDK (METRICS_BEARER_TOKEN). How to read this: README.md, "Benchmark".');
  printThroughput(rows, opts.connections);
  printRatios({ stores: variants.map((v) => v.name), throughputRows: rows, latencyRows: [], fanOutRows: [] });
  printMetricsCost(rows);
  console.log('');
  console.log('Checks');
  for (const line of checks) console.log(`  ${line}`);
}

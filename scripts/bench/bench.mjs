#!/usr/bin/env node
// @ts-check
/**
 * `pnpm bench [--quick]`: what the BFF costs on top of Next. Starts Redis, the dev provider and
 * the built demo under `next start` twice (memory store, Redis store), then, per store, drives
 * the cached `POST /api/auth/token` and the bare route of the same process in pairs of short
 * phases (ABBA order), times a
 * refresh against the bare route plus a provider grant sent directly, and counts upstream
 * refreshes per rotation under fan-out. Prints figures and ratios; asserts nothing about time.
 * With `--soak [minutes]`, then runs a steady mix on both demos at once and reports their heap
 * (and Redis's memory) at the start and the end, so a leak shows up as growth.
 * How to read it: "Benchmark" in the root README.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Children, freePorts, startIdp, startRedis } from '../soak/processes.mjs';
import { demoClient } from '../soak/workspace.mjs';
import { fanOutRun } from './fanout.mjs';
import { dpopVerifyCost, printDPoPVerifyCost } from './dpop.mjs';
import { dpopBrowserCost, printDPoPBrowserCost } from './dpopBrowser.mjs';
import { proxyLatency } from './proxyLatency.mjs';
import { bareAttempt, drive, grantAttempt, interleavedLatency, percentile, refreshAttempt, throughput } from './measure.mjs';
import { leakSoak } from './leakSoak.mjs';
import { metricsCost } from './metricsCost.mjs';
import { printFanOut, printLatency, printProxy, printRatios, printSoak, printThroughput } from './report.mjs';
import { cookieOpener, signInMany, tokenUrl } from './sessions.mjs';
import { buildAll, demoBuildIsStale, startDemo, treeCpuMs } from './stack.mjs';

const EXIT = { ok: 0, couldNotRun: 2, interrupted: 130 };
const FAN_OUTS = [1, 20, 200];
/** Which pairs of throughput phases run the bare route first: A/B, B/A, B/A, A/B, and again, so a steady drift falls on both alike. */
const ABBA = [false, true, true, false];
const DEFAULT_SOAK_MINUTES = 30;

const USAGE = `usage: pnpm bench [--quick] [--pairs N] [--rounds N] [--no-build] [--soak [minutes]] [--soak-only] [--metrics]
  --quick            shorter phases and fan-out runs (about 2 minutes instead of 5)
  --pairs N          pairs of throughput phases per store, cached /token and bare route, in the order
                     A/B, B/A, B/A, A/B, ... (default 12; 6 with --quick; at least 4)
  --rounds N         rounds of the latency and proxy parts per store (default 2, at least 2)
  --no-build         use apps/demo/.next as it is, even when older than the sources
  --soak [minutes]   then a leak soak on both demos at once (default ${DEFAULT_SOAK_MINUTES} minutes, at least 1):
                     heap after full GCs, RSS, Redis used_memory and keys, sampled after the
                     first 10 % (warm-up) and up to the end; growth per hour, per sign-in and
                     per refresh, with no threshold (README.md, "Leak soak", tells how to read it)
  --soak-only        the leak soak alone, without the phases above (--soak's minutes, or ${DEFAULT_SOAK_MINUTES})
  --metrics          instead of all that: the cached /token A/B on the demo without and with the
                     OpenTelemetry SDK (METRICS_BEARER_TOKEN unset and set), in one run, and the ratio
environment:
  LATCHKEY_BENCH_NODE_ARGS  more flags for Node in each demo process, e.g. to profile it:
                     "--cpu-prof --cpu-prof-dir=/tmp/prof" (a profile per process when it exits)`;

/** Phase lengths and sizes; `--quick` trades precision for time. */
const PROFILES = {
  default: { warmS: 1, measureS: 6, lifetimeS: 15, refreshPool: 80, fanOutS: 10, warmUpS: 3, pairs: 12, pairS: 2, pairWarmS: 0.5 },
  quick: { warmS: 0.5, measureS: 2, lifetimeS: 10, refreshPool: 50, fanOutS: 5, warmUpS: 2, pairs: 6, pairS: 1, pairWarmS: 0.5 },
};

/** `--soak` may come without its minutes (`--soak --quick`, or last): then it means the default. */
function soakWithMinutes(args) {
  return args.map((arg, i) => (arg === '--soak' && !/^\d/.test(args[i + 1] ?? '') ? `--soak=${DEFAULT_SOAK_MINUTES}` : arg));
}

function options() {
  const { values } = parseArgs({
    args: soakWithMinutes(process.argv.slice(2)),
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      pairs: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      soak: { type: 'string' },
      'soak-only': { type: 'boolean', default: false },
      metrics: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(EXIT.ok);
  }
  const rounds = values.rounds === undefined ? 2 : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 2 || rounds > 20) throw new Error(`--rounds must be a whole number from 2 to 20, got ${JSON.stringify(values.rounds)}`);
  const profile = values.quick ? 'quick' : 'default';
  const pairs = values.pairs === undefined ? PROFILES[profile].pairs : Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < 4 || pairs > 100) throw new Error(`--pairs must be a whole number from 4 to 100, got ${JSON.stringify(values.pairs)}`);
  const soakMinutes = values.soak === undefined ? (values['soak-only'] ? DEFAULT_SOAK_MINUTES : 0) : Number(values.soak);
  if (!Number.isFinite(soakMinutes) || soakMinutes < (values.soak === undefined ? 0 : 1) || soakMinutes > 24 * 60) {
    throw new Error(`--soak takes minutes from 1 to 1440, got ${JSON.stringify(values.soak)}`);
  }
  if (values.metrics && (values.soak !== undefined || values['soak-only'])) throw new Error('--metrics runs on its own: leave out --soak and --soak-only');
  return {
    profile,
    ...PROFILES[profile],
    rounds,
    pairs,
    build: !values['no-build'],
    connections: 10,
    fanOutIntervalMs: 1000,
    soakMinutes,
    soakOnly: values['soak-only'],
    metrics: values.metrics,
  };
}

const say = (line) => console.log(`[bench] ${line}`);
const seconds = (ms) => `${Math.floor(ms / 60_000)} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')} s`;

async function main() {
  const opts = options();
  const began = Date.now();
  const interrupted = new AbortController();
  const runDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const children = new Children(runDir);
  const onSignal = (signal) => {
    if (interrupted.signal.aborted) {
      children.killAllNow();
      process.exit(EXIT.interrupted);
    }
    say(`${signal}: stopping after this phase (again to kill at once)`);
    interrupted.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => children.killAllNow());
  try {
    return await run(opts, children, interrupted.signal);
  } finally {
    await children.stopAll();
    say(`done in ${seconds(Date.now() - began)}; logs of every process: ${runDir}`);
  }
}

/**
 * @param {ReturnType<typeof options>} opts
 * @param {Children} children
 * @param {AbortSignal} interrupted
 */
async function run(opts, children, interrupted) {
  const load = loadavg()[0] ?? NaN;
  const soak = opts.soakMinutes ? `${opts.soakOnly ? 'only ' : 'then '}a leak soak of ${opts.soakMinutes} min` : '';
  say(
    `${opts.profile}: ${opts.soakOnly ? soak : `${opts.metrics ? '' : `${opts.pairs} pairs of throughput phases of ${opts.pairS} s per store, `}${opts.rounds} rounds per ${opts.metrics ? 'instance' : 'store'}, phases of ${opts.measureS} s after ${opts.warmS} s of warm-up${soak ? `, ${soak}` : ''}`}, access tokens of ${opts.lifetimeS} s; ` +
      `Node ${process.version}, ${cpus().length} CPUs, load average ${load.toFixed(2)} at start`,
  );
  if (load > cpus().length / 2) say(`the machine is busy (load ${load.toFixed(2)}): figures will be noisier than usual`);
  if (opts.build && demoBuildIsStale()) {
    say('apps/demo/.next is missing or older than the sources: building (pnpm -s turbo run build)');
    const t0 = Date.now();
    buildAll();
    say(`built in ${seconds(Date.now() - t0)}`);
  }
  if (opts.metrics) {
    await metricsCost({ opts, children, interrupted, say });
    return interrupted.aborted ? EXIT.interrupted : EXIT.ok;
  }

  // Both demo origins must be registered with the provider before it starts.
  const [memoryPort, redisPort] = await freePorts(2);
  const ports = { memory: memoryPort, redis: redisPort };
  const origins = Object.values(ports).map((port) => `http://localhost:${port}`);
  const [redis, idp] = await Promise.all([startRedis(children), startIdp(children, { appOrigin: origins.join(','), accessTokenTtl: opts.lifetimeS })]);
  const client = demoClient();
  const secret = randomBytes(32).toString('base64');
  const env = {
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: client.id,
    OIDC_CLIENT_SECRET: client.secret,
    LATCHKEY_COOKIE_SECRET: secret,
    LATCHKEY_RATE_LIMITS: 'off',
    // Opens GET /api/bench/heap, which the leak soak reads; 404 elsewhere.
    LATCHKEY_BENCH: '1',
    // Token mode with the API proxy beside it: the proxy part calls the notes API both ways.
    LATCHKEY_MODE: 'both',
  };
  // --expose-gc lets the heap route collect before it measures; it costs nothing until gc() is called.
  const nodeArgs = ['--expose-gc', ...(process.env.LATCHKEY_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const [memoryDemo, redisDemo] = await Promise.all([
    startDemo(children, { name: 'demo-memory', port: ports.memory, env: { ...env, REDIS_URL: '' }, nodeArgs }),
    startDemo(children, { name: 'demo-redis', port: ports.redis, env: { ...env, REDIS_URL: redis.url }, nodeArgs }),
  ]);
  const redisPid = /** @type {number} */ (redis.child.process.pid);
  const stores = [
    { name: 'memory', demo: memoryDemo, extraCpu: undefined },
    { name: 'redis', demo: redisDemo, extraCpu: () => treeCpuMs(redisPid) },
  ];
  const processes = [redis.child, idp.child, memoryDemo.child, redisDemo.child];
  const alive = () => {
    const gone = processes.find((c) => !c.running());
    if (gone) throw new Error(`${gone.name} exited during the run: ${gone.stderrTail() || 'see its log'}`);
  };
  say(`provider ${idp.issuer}, demo ${memoryDemo.url} (memory store) and ${redisDemo.url} (Redis), redis-server ${redis.url}`);

  /** @type {import('./report.mjs').ThroughputRow[]} */
  const throughputRows = [];
  /** @type {import('./report.mjs').LatencyRow[]} */
  const latencyRows = [];
  /** @type {import('./report.mjs').PairedRow[]} */
  const pairedRows = [];
  /** @type {import('./report.mjs').FanOutRow[]} */
  const fanOutRows = [];
  /** @type {import('./report.mjs').ProxyRow[]} */
  const proxyRows = [];
  const checks = [];
  let grantsInCachedPhases = 0;
  const refreshGrants = async () => (await idp.stats(10_000))?.grants.refresh_token ?? NaN;
  const discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  const open = cookieOpener(secret);
  const minValidities = [0, 0.25, 0.5, 0.75, 1].map((share) => Math.round(share * opts.lifetimeS));

  // One store after the other, each signing in its sessions just before it needs them: the dev
  // provider keeps grants in an LRU of 1,000 entries, so a session left idle while hundreds of
  // others sign in and refresh is forgotten upstream (invalid_grant).
  for (const store of opts.soakOnly ? [] : stores) {
    if (interrupted.aborted) break;
    const t0 = Date.now();
    const cached = await signInMany(store.demo, opts.connections);
    const fanOutSessions = await signInMany(store.demo, FAN_OUTS.length * minValidities.length);
    say(`${store.name}: ${cached.length + fanOutSessions.length} sessions signed in through the provider's login form in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // LATCHKEY_RATE_LIMITS=off must reach the BFF, or the cached path measures 429 answers.
    const probe = /** @type {import('./sessions.mjs').Session} */ (cached[0]);
    let limited = 0;
    for (let n = 0; n < 61; n++) {
      const response = await fetch(tokenUrl(store.demo.url, 0), { method: 'POST', headers: probe.headers() });
      await response.arrayBuffer();
      probe.adopt(response);
      if (response.status === 429) limited += 1;
    }
    checks.push(
      limited === 0
        ? `${store.name}: LATCHKEY_RATE_LIMITS=off honoured (61 /token calls on one session, no 429)`
        : `${store.name}: LATCHKEY_RATE_LIMITS=off NOT honoured (${limited} of 61 calls on one session got 429): the cached figures are of 429 answers`,
    );
    if (limited) say(`WARNING ${checks.at(-1)}`);

    // Throughput: the cached /token (A) and the bare route of the same process (B) in many short
    // phases, A/B and B/A in the order ABBA, after one warm-up of both: the machine's load drifts
    // over seconds, so a pair of long phases can meet a busy spell on one side only; a dozen short
    // pairs spread it over both, and the per-pair ratios show how much of it there was.
    const common = {
      connections: opts.connections,
      warmS: opts.pairWarmS,
      measureS: opts.pairS,
      serverCpu: () => treeCpuMs(store.demo.pid),
      extraCpu: store.extraCpu,
    };
    // As the client sends /token: parameters in the query, no body; the bare route gets the same request.
    const cachedUrl = tokenUrl(store.demo.url, 0);
    const bareUrl = `${store.demo.url}/api/bench/bare?idle=0&minValidity=0`;
    // Every connection's token must outlive the phase, so the phase sees no refresh at all.
    const refreshCached = async (seconds) => {
      for (const session of cached) {
        const response = await fetch(tokenUrl(store.demo.url, Math.ceil(seconds + 2)), { method: 'POST', headers: session.headers() });
        await response.arrayBuffer();
        session.adopt(response);
      }
      return cached.map((s) => s.headers());
    };
    // The JIT compiles both routes here, unmeasured, before the first pair.
    await drive({ url: cachedUrl, headers: await refreshCached(opts.warmUpS), connections: opts.connections, seconds: opts.warmUpS });
    await drive({ url: bareUrl, headers: cached.map((s) => s.headers()), connections: opts.connections, seconds: opts.warmUpS });
    for (let pair = 1; pair <= opts.pairs && !interrupted.aborted; pair++) {
      const cachedPhase = async () => {
        const headers = await refreshCached(opts.pairWarmS + opts.pairS);
        const grantsBefore = await refreshGrants();
        const result = await throughput({ url: cachedUrl, headers, ...common });
        grantsInCachedPhases += (await refreshGrants()) - grantsBefore;
        throughputRows.push({ ...result, store: store.name, round: pair, route: 'cached' });
        return result;
      };
      const barePhase = async () => {
        const result = await throughput({ url: bareUrl, headers: cached.map((s) => s.headers()), ...common });
        throughputRows.push({ ...result, store: store.name, round: pair, route: 'bare' });
        return result;
      };
      const bareFirst = ABBA[(pair - 1) % ABBA.length];
      const [a, b] = bareFirst ? await barePhase().then(async (bare) => [await cachedPhase(), bare]) : [await cachedPhase(), await barePhase()];
      alive();
      say(`${store.name} pair ${pair} (${bareFirst ? 'B/A' : 'A/B'}): /token cached ${Math.round(a.responses / a.seconds)} req/s, bare route ${Math.round(b.responses / b.seconds)} req/s`);
    }

    // Upstream refreshes per rotation under fan-out (the provider's counters are global: one run at a time).
    for (const [f, fanOut] of FAN_OUTS.entries()) {
      if (interrupted.aborted) break;
      const cells = minValidities.map((minValidity, m) => ({
        minValidity,
        session: /** @type {import('./sessions.mjs').Session} */ (fanOutSessions[f * minValidities.length + m]),
      }));
      const result = await fanOutRun({
        url: store.demo.url,
        cells,
        fanOut,
        durationS: opts.fanOutS,
        intervalMs: opts.fanOutIntervalMs,
        lifetimeS: opts.lifetimeS,
        stats: () => idp.stats(10_000),
        open,
        signal: interrupted,
      });
      fanOutRows.push({ ...result, store: store.name });
      alive();
      say(`${store.name} fan-out ${fanOut}: ${result.grants} refresh grants for ${result.rotations} rotations`);
    }

    // Latency, one request at a time: a refresh through /token, the bare route, a grant sent
    // straight to the provider. Each pool session refreshes once per round at most, so the
    // provider's LRU holds them all.
    if (interrupted.aborted) break;
    const [grantSession, ...pool] = await signInMany(store.demo, opts.refreshPool + 1);
    const renew = async () => {
      const [fresh] = await signInMany(store.demo, 1);
      return (await open(/** @type {import('./sessions.mjs').Session} */ (fresh).cookie)).rt;
    };
    const attempts = {
      refresh: refreshAttempt({ url: store.demo.url, sessions: pool, lifetimeS: opts.lifetimeS }),
      bare: bareAttempt({ url: store.demo.url, headers: probe.headers() }),
      grant: grantAttempt({
        tokenEndpoint: discovery.token_endpoint,
        client,
        refreshToken: (await open(/** @type {import('./sessions.mjs').Session} */ (grantSession).cookie)).rt,
        renew,
      }),
    };
    for (let round = 1; round <= opts.rounds && !interrupted.aborted; round++) {
      // Interleaved: refresh, bare, grant back to back, so load on the machine meets all three alike.
      const { byKind, paired } = await interleavedLatency({ warmS: opts.warmS, measureS: opts.measureS, maxSamples: opts.refreshPool, attempts, signal: interrupted });
      for (const what of /** @type {const} */ (['refresh', 'bare', 'grant'])) latencyRows.push({ store: store.name, round, what, ...byKind[what] });
      pairedRows.push({ store: store.name, round, differences: paired });
      alive();
      const p50 = (what) => percentile(latencyRows.find((r) => r.store === store.name && r.round === round && r.what === what)?.samples ?? [], 50);
      say(`${store.name} round ${round}: p50 /token refresh ${p50('refresh').toFixed(1)} ms, bare route ${p50('bare').toFixed(1)} ms, provider grant ${p50('grant').toFixed(1)} ms`);
    }

    // What proxy mode adds to an API call: through the BFF against the same call with the token.
    if (interrupted.aborted) break;
    const [proxySession] = await signInMany(store.demo, 1);
    for (let round = 1; round <= opts.rounds && !interrupted.aborted; round++) {
      const result = await proxyLatency({ url: store.demo.url, session: /** @type {import('./sessions.mjs').Session} */ (proxySession), warmS: opts.warmS, measureS: opts.measureS, signal: interrupted });
      proxyRows.push({ store: store.name, round, ...result });
      alive();
      say(`${store.name} round ${round}: p50 through the proxy ${percentile(result.proxy, 50).toFixed(1)} ms, straight to the API ${percentile(result.direct, 50).toFixed(1)} ms`);
    }
  }

  // What DPoP costs: a proof in the browser (Chromium) and its check at a resource server.
  /** @type {{ verify: import('./dpop.mjs').DPoPVerifyCost, browser: import('./dpopBrowser.mjs').DPoPBrowserCost } | undefined} */
  let dpopCosts;
  if (!opts.soakOnly && !interrupted.aborted) {
    say('DPoP: proofs in Chromium, verify() at the resource');
    const iterations = opts.profile === 'quick' ? 500 : 2000;
    dpopCosts = { browser: await dpopBrowserCost({ iterations }), verify: await dpopVerifyCost({ iterations }) };
  }

  // The leak soak: both demos at once, after the phases above (their sessions sit idle from here on).
  /** @type {Awaited<ReturnType<typeof leakSoak>> | undefined} */
  let soaked;
  if (opts.soakMinutes && !interrupted.aborted) {
    say(`leak soak: ${opts.soakMinutes} min on both demos at once, memory sampled after the first 10 % (warm-up) and up to the end`);
    soaked = await leakSoak({
      stores: [
        { name: 'memory', demo: memoryDemo },
        { name: 'redis', demo: redisDemo, redisUrl: redis.url },
      ],
      minutes: opts.soakMinutes,
      lifetimeS: opts.lifetimeS,
      signal: interrupted,
      alive,
      say,
    });
  }

  console.log('');
  const what = opts.soakOnly
    ? `a leak soak of ${opts.soakMinutes} min`
    : `throughput in ${opts.pairs} pairs of ${opts.pairS} s phases (after ${opts.pairWarmS} s warm-up each), latency and proxy in ${opts.rounds} rounds of ${opts.measureS} s after ${opts.warmS} s warm-up${opts.soakMinutes ? `, a leak soak of ${opts.soakMinutes} min` : ''}`;
  console.log(`== Latchkey benchmark (${opts.profile}${interrupted.aborted ? ', INTERRUPTED' : ''}): ${what}, access tokens of ${opts.lifetimeS} s`);
  console.log(`   demo under next start, one process per store; the bare route (/api/bench/bare) runs in the same process as the BFF. How to read this: README.md, "Benchmark".`);
  if (!opts.soakOnly) {
    printThroughput(throughputRows, opts.connections);
    printLatency(latencyRows);
    printFanOut(fanOutRows, { durationS: opts.fanOutS, intervalMs: opts.fanOutIntervalMs });
    printRatios({ stores: stores.map((s) => s.name), throughputRows, latencyRows, pairedRows, fanOutRows });
    printProxy(proxyRows, latencyRows);
  }
  if (dpopCosts) {
    console.log('');
    printDPoPVerifyCost(dpopCosts.verify);
    printDPoPBrowserCost(dpopCosts.browser);
  }
  if (soaked) printSoak({ ...soaked, lifetimeS: opts.lifetimeS });
  const provider = await idp.stats(10_000);
  console.log('');
  console.log('Checks');
  for (const line of checks) console.log(`  ${line}`);
  if (!opts.soakOnly) console.log(`  refresh grants during the cached phases: ${grantsInCachedPhases} (0 expected: those phases measure the cache alone)`);
  console.log(`  provider over the whole run: ${provider?.grants.refresh_token ?? '?'} refresh grants, ${provider?.reuseDetected ?? '?'} refresh tokens presented twice (0 expected)`);
  console.log(`  load average at the end: ${(loadavg()[0] ?? NaN).toFixed(2)} on ${cpus().length} CPUs`);
  return interrupted.aborted ? EXIT.interrupted : EXIT.ok;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[bench] could not run: ${error instanceof Error ? error.message : error}`);
    process.exit(EXIT.couldNotRun);
  },
);

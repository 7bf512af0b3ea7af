// @ts-check
/** The benchmark's printout: one table per kind of phase, then the ratios and the checks; the leak soak's figures. */
import { WARM_UP_SHARE } from './leakSoak.mjs';
import { KINDS, SOAK_MIX } from './soakLoad.mjs';
import { percentile } from './measure.mjs';

/**
 * @typedef {import('./measure.mjs').ThroughputResult & { store: string, round: number, route: 'cached' | 'bare' }} ThroughputRow
 * @typedef {{ store: string, round: number, what: 'refresh' | 'bare' | 'grant', samples: number[], skipped: number, errors: string[] }} LatencyRow
 * @typedef {import('./fanout.mjs').FanOutResult & { store: string }} FanOutRow
 * @typedef {{ store: string, round: number, differences: number[] }} PairedRow
 * @typedef {import('./proxyLatency.mjs').ProxyLatency & { store: string, round: number }} ProxyRow refresh − (bare + grant), one per interleaved step where all three measured
 */

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const times = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const statuses = (byStatus) =>
  Object.entries(byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${status} ×${count}`)
    .join(', ') || 'none';

/** Prints rows as columns; `right` holds the indexes of right-aligned columns. */
function table(header, rows, right) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    `  ${cells
      .map((c, i) => (right.includes(i) ? String(c).padStart(widths[i] ?? 0) : String(c).padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

const ROUTE = { cached: '/token cached', bare: 'bare route' };
const WHAT = { refresh: '/token refresh', bare: 'bare route', grant: 'provider grant (direct)' };

/** CPU µs per request of the server (and of the extra processes, when counted). */
const cpuPerRequest = (rows, key = 'cpuMs') => (1000 * rows.reduce((s, r) => s + r[key], 0)) / rows.reduce((s, r) => s + r.responses, 0);
const rate = (rows) => rows.reduce((s, r) => s + r.responses, 0) / rows.reduce((s, r) => s + r.seconds, 0);
/** The p50 of every sample of the rows together. */
const pooledP50 = (rows) => percentile(rows.flatMap((r) => r.samples).sort((a, b) => a - b), 50);

/** The median and the quartiles of some numbers, as `median (middle half low–high, all low–high)`. */
function spread(values) {
  const sorted = values.filter(Number.isFinite).sort((x, y) => x - y);
  if (sorted.length === 0) return 'n/a';
  const at = (p) => (sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] ?? NaN).toFixed(2);
  return `median ${at(0.5)}, middle half ${at(0.25)}–${at(0.75)}, all ${at(0)}–${at(1)}`;
}

/** @param {ThroughputRow[]} rows @param {number} connections */
export function printThroughput(rows, connections) {
  if (rows.length === 0) return;
  console.log('');
  console.log(`Throughput: POST /api/auth/token answered from cache vs the bare route, ${connections} connections (autocannon); CPU of the next-server process tree; phases pooled`);
  const groups = [...new Set(rows.map((r) => `${r.store}\u0000${r.route}`))].map((id) => rows.filter((r) => `${r.store}\u0000${r.route}` === id));
  table(
    ['store', 'route', 'phases', 'req/s', 'p50 ms (median)', 'p99 ms (worst)', 'CPU µs/req', 'answers'],
    groups.map((g) => {
      const [first] = /** @type {[ThroughputRow]} */ (g);
      const extra = g.some((r) => r.extraCpuMs) ? ` +${int(cpuPerRequest(g, 'extraCpuMs'))} redis` : '';
      const byStatus = {};
      for (const r of g) for (const [code, n] of Object.entries(r.statuses)) byStatus[code] = (byStatus[code] ?? 0) + n;
      const errors = g.reduce((n, r) => n + r.errors, 0);
      return [
        first.store,
        ROUTE[first.route],
        g.length,
        int(rate(g)),
        percentile(g.map((r) => r.p50).sort((x, y) => x - y), 50),
        Math.max(...g.map((r) => r.p99)),
        `${int(cpuPerRequest(g))}${extra}`,
        `${statuses(byStatus)}${errors ? `, ${errors} errors` : ''}`,
      ];
    }),
    [2, 3, 4, 5, 6],
  );
}

/** @param {LatencyRow[]} rows */
export function printLatency(rows) {
  if (rows.length === 0) return;
  console.log('');
  console.log('Latency: one request at a time (Node fetch, keep-alive), ms');
  table(
    ['store', 'round', 'what', 'p50', 'p90', 'n', 'left out'],
    rows.map((r) => [
      r.store,
      r.round,
      WHAT[r.what],
      ms(percentile(r.samples, 50)),
      ms(percentile(r.samples, 90)),
      r.samples.length,
      [r.skipped ? `${r.skipped} served from cache` : '', r.errors.length ? `${r.errors.length} failed (${[...new Set(r.errors)].join(', ')})` : ''].filter(Boolean).join('; '),
    ]),
    [1, 3, 4, 5],
  );
}

/** @param {FanOutRow[]} rows @param {{ durationS: number, intervalMs: number }} plan */
export function printFanOut(rows, plan) {
  if (rows.length === 0) return;
  console.log('');
  const minValidities = rows[0]?.byMinValidity.map((c) => c.minValidity).join('/') ?? '';
  console.log(
    `Fan-out: waves of F simultaneous /token calls with one cookie, every ${plan.intervalMs / 1000} s for ${plan.durationS} s, one session per minValidity ${minValidities} s`,
  );
  table(
    ['store', 'F', 'requests', 'rotations', 'refresh grants', 'per rotation', `rotations by minValidity`, 'answers'],
    rows.map((r) => [
      r.store,
      r.fanOut,
      int(r.requests),
      `${r.rotations}${r.cookies !== r.rotations ? ` (${r.cookies} cookies)` : ''}`,
      r.grants,
      r.rotations ? (r.grants / r.rotations).toFixed(r.grants === r.rotations ? 2 : 3) : 'n/a',
      r.byMinValidity.map((c) => c.rotations).join('/'),
      `${statuses(r.statuses)}${r.reuse ? `, provider reuse ${r.reuse}` : ''}`,
    ]),
    [1, 2, 3, 4, 5],
  );
}

/**
 * The ratios the benchmark exists for: throughput from the pairs of phases pooled (how the pairs'
 * own ratios spread under it), latency from the rounds pooled (each round's own in brackets).
 * @param {{ stores: string[], throughputRows: ThroughputRow[], latencyRows: LatencyRow[], pairedRows?: PairedRow[], fanOutRows: FanOutRow[] }} all
 */
export function printRatios({ stores, throughputRows, latencyRows, pairedRows = [], fanOutRows }) {
  console.log('');
  console.log('Ratios');
  for (const store of stores) {
    const of = (route, round) => throughputRows.filter((r) => r.store === store && r.route === route && (round === undefined || r.round === round));
    const rounds = [...new Set(throughputRows.filter((r) => r.store === store).map((r) => r.round))];
    if (rounds.length === 0) continue;
    const each = (f) => spread(rounds.map(f));
    const tput = (round) => rate(of('cached', round)) / rate(of('bare', round));
    const cpu = (round) => cpuPerRequest(of('cached', round)) / cpuPerRequest(of('bare', round));
    const redisCpu = of('cached').some((r) => r.extraCpuMs) ? `; redis-server adds ${int(cpuPerRequest(of('cached'), 'extraCpuMs'))} µs per cached /token` : '';
    console.log(`  ${store.padEnd(6)}  cached /token ÷ bare route: throughput ${times(tput(undefined))}, CPU per request ${times(cpu(undefined))}${redisCpu}`);
    console.log(`  ${store.padEnd(6)}    per pair of phases (${rounds.length}): throughput ${each(tput)}; CPU per request ${each(cpu)}`);
  }
  for (const store of stores) {
    const p50 = (what) => pooledP50(latencyRows.filter((r) => r.store === store && r.what === what));
    const [refresh, bare, grant] = [p50('refresh'), p50('bare'), p50('grant')];
    if (!Number.isFinite(refresh)) continue;
    console.log(
      `  ${store.padEnd(6)}  a refresh adds ${ms(refresh - (bare + grant))} ms = /token refresh p50 ${ms(refresh)} − (bare route p50 ${ms(bare)} + provider grant p50 ${ms(grant)})`,
    );
    const paired = pairedRows.filter((r) => r.store === store);
    if (paired.length > 0) {
      const median = (rows) => percentile(rows.flatMap((r) => r.differences).sort((a, b) => a - b), 50);
      console.log(
        `  ${store.padEnd(6)}    paired: median of refresh − (bare + grant) per step ${ms(median(paired))} ms (rounds ${paired.map((r) => ms(median([r]))).join(', ')}; ${paired.reduce((n, r) => n + r.differences.length, 0)} steps)`,
      );
    }
  }
  for (const store of stores) {
    const rows = fanOutRows.filter((r) => r.store === store);
    if (rows.length === 0) continue;
    const perRotation = rows.map((r) => (r.rotations ? (r.grants / r.rotations).toFixed(r.grants === r.rotations ? 2 : 3) : 'n/a')).join(' / ');
    console.log(`  ${store.padEnd(6)}  upstream refreshes per rotation at fan-outs ${rows.map((r) => r.fanOut).join(' / ')}: ${perRotation}`);
  }
}

/**
 * `--metrics`: the instance with the OpenTelemetry SDK against the one without, from the rounds
 * pooled (each round's own in brackets). The bare route records no metric, so its ratio is the
 * two processes' own difference; the last line divides it out.
 * @param {ThroughputRow[]} rows rows of the stores "no SDK" and "SDK"
 */
export function printMetricsCost(rows) {
  const of = (store, route, round) => rows.filter((r) => r.store === store && r.route === route && (round === undefined || r.round === round));
  const rounds = [...new Set(rows.map((r) => r.round))];
  if (rounds.length === 0) return;
  const tput = (route) => (round) => rate(of('SDK', route, round)) / rate(of('no SDK', route, round));
  const cpu = (route) => (round) => cpuPerRequest(of('SDK', route, round)) / cpuPerRequest(of('no SDK', route, round));
  const each = (f) => rounds.map((n) => f(n).toFixed(2)).join(', ');
  const line = (label, t, c) => console.log(`  ${label}: throughput ${times(t(undefined))} (rounds ${each(t)}), CPU per request ${times(c(undefined))} (rounds ${each(c)})`);
  line('SDK ÷ no SDK, cached /token', tput('cached'), cpu('cached'));
  line('SDK ÷ no SDK, bare route (no metric recorded: the processes\' own difference)', tput('bare'), cpu('bare'));
  const relative = (f) => (round) => f('cached')(round) / f('bare')(round);
  line('SDK ÷ no SDK, cached /token relative to its own bare route', relative(tput), relative(cpu));
}

const megabytes = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : 'n/a');
const signedMb = (bytes) => (Number.isFinite(bytes) ? `${bytes < 0 ? '−' : '+'}${(Math.abs(bytes) / 1024 / 1024).toFixed(2)} MB` : 'n/a');
const signedKb = (bytes) => (Number.isFinite(bytes) ? `${bytes < 0 ? '−' : '+'}${(Math.abs(bytes) / 1024).toFixed(1)} KB` : 'n/a');

/** Least-squares slope of `value` over `atMs`, per hour; NaN with fewer than two points. */
function perHourTrend(samples, value) {
  const points = samples.map((s) => [s.atMs / 3_600_000, value(s)]).filter(([, y]) => Number.isFinite(y));
  if (points.length < 2) return NaN;
  const mean = (i) => points.reduce((sum, p) => sum + (p[i] ?? 0), 0) / points.length;
  const [mx, my] = [mean(0), mean(1)];
  const sxx = points.reduce((sum, [x = 0]) => sum + (x - mx) ** 2, 0);
  return points.reduce((sum, [x = 0, y = 0]) => sum + (x - mx) * (y - my), 0) / sxx;
}

/**
 * The leak soak: per store, memory at each sample, requests by kind with their answers, the
 * failures, then one line per store of growth from the start of the window (after warm-up) to
 * its end, extrapolated per hour and divided by the sign-ins the window saw. Judges nothing.
 * @param {{ results: import('./leakSoak.mjs').SoakResult[], durationMs: number, stoppedEarly?: string, lifetimeS: number }} soak
 */
export function printSoak({ results, durationMs, stoppedEarly, lifetimeS }) {
  const mix = SOAK_MIX;
  console.log('');
  console.log(
    `Leak soak: ${durationMs / 60_000} min on both demos at once${stoppedEarly ? ` (STOPPED EARLY: ${stoppedEarly})` : ''}; memory of the demo process after full GCs ` +
      `(node --expose-gc, GET /api/bench/heap: GCs until the heap stops shrinking); the window runs from "start", after the first ${WARM_UP_SHARE * 100} % (warm-up: JIT, Next's caches, pools), to "end"`,
  );
  console.log(
    `  mix per demo: ${mix.liveSessions} live sessions; ${mix.cachedPerS} cached /token calls/s; each session refreshed every ${lifetimeS / 2} s (half its ${lifetimeS} s token), ` +
      `1 refresh in ${mix.pairEvery} from two tabs at once; a sign-in and a logout of the oldest session every ${mix.signInEveryS} s; ${mix.anonymousPerS} anonymous call/s`,
  );
  /** @type {string[]} */
  const verdicts = [];
  const redisPerSignIn = new Map();
  for (const result of results) {
    const { samples } = result;
    const last = samples.length - 1;
    const hasRedis = samples.some((s) => s.redisUsed !== undefined);
    console.log('');
    console.log(`  ${result.store} store`);
    const label = (i, s) =>
      i === 0 ? 'before load' : i === 1 ? 'start' : i === last ? (stoppedEarly ? 'end (early)' : 'end') : `${Math.round((s.atMs / durationMs) * 100)} %`;
    // Growth since the sample before, per hour: a bounded cache filling slows down to nothing, a leak keeps its pace.
    const since = (i, s) => {
      const before = samples[i - 1];
      return i < 2 || !before ? '' : `${signedMb(((s.heapUsed - before.heapUsed) * 3_600_000) / (s.atMs - before.atMs))}/h`;
    };
    table(
      ['sample', 'min', 'heap used', 'since last', 'external', 'RSS', ...(hasRedis ? ['Redis used_memory', 'Redis keys'] : []), 'requests', 'sign-ins'],
      samples.map((s, i) => [
        label(i, s),
        (s.atMs / 60_000).toFixed(1),
        megabytes(s.heapUsed),
        since(i, s),
        megabytes(s.external),
        megabytes(s.rss),
        ...(hasRedis ? [megabytes(s.redisUsed ?? NaN), int(s.redisKeys ?? NaN)] : []),
        int(s.requests),
        int(s.signIns),
      ]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const [first, final] = [samples[1] ?? samples[0], samples[last]];
    if (hasRedis && first && final) {
      const kinds = [...new Set([...Object.keys(first.redisKeysByKind ?? {}), ...Object.keys(final.redisKeysByKind ?? {})])].sort();
      const change = (a = 0, b = 0) => `${int(a)} → ${int(b)}${b === a ? '' : ` (${b > a ? '+' : '−'}${int(Math.abs(b - a))})`}`;
      console.log(`  Redis keys by kind, ${first === samples[1] ? 'start' : 'before load'} → end: ${kinds.map((k) => `${k} ${change(first.redisKeysByKind?.[k], final.redisKeysByKind?.[k])}`).join(', ') || 'none'}`);
      console.log(`  members of the per-user index sets: ${change(first.indexMembers, final.indexMembers)}`);
    }
    console.log('');
    table(
      ['requests by kind', 'made', 'answers (! = not what this kind should get)'],
      Object.entries(result.answers).map(([kind, answers]) => {
        const expected = KINDS[/** @type {keyof typeof KINDS} */ (kind)].expected;
        const made = Object.values(answers).reduce((sum, n) => sum + n, 0);
        const listed = Object.entries(answers)
          .sort(([, a], [, b]) => b - a)
          .map(([answer, n]) => `${expected.includes(answer) ? '' : '!'}${answer} ×${int(n)}`)
          .join(', ');
        return [KINDS[/** @type {keyof typeof KINDS} */ (kind)].label, int(made), listed || 'none'];
      }),
      [1],
    );
    console.log(`  failures (5xx, connection errors, timeouts, failed sign-ins): ${result.failureCount}${result.failures.length < result.failureCount ? `, the first ${result.failures.length}:` : ''}`);
    for (const line of result.failures) console.log(`    ${line}`);
    if (result.surprises.length) console.log(`  other unexpected answers, the first ${result.surprises.length}:`);
    for (const line of result.surprises) console.log(`    ${line}`);

    const [start, end] = [samples[1], samples[last]];
    if (!start || !end || last < 2) {
      verdicts.push(`  ${result.store.padEnd(6)}  no window: fewer than two samples after warm-up`);
      continue;
    }
    const window = samples.slice(1);
    const hours = (end.atMs - start.atMs) / 3_600_000;
    const signIns = end.signIns - start.signIns;
    const refreshes = end.refreshes - start.refreshes;
    const growth = (value) => {
      const delta = value(end) - value(start);
      return { delta, perHour: delta / hours, perSignIn: signIns ? delta / signIns : NaN, perRefresh: refreshes ? delta / refreshes : NaN, trend: perHourTrend(window, value) };
    };
    const heap = growth((s) => s.heapUsed);
    const rss = growth((s) => s.rss);
    let line =
      `  ${result.store.padEnd(6)}  heap used ${megabytes(start.heapUsed)} → ${megabytes(end.heapUsed)} in ${(hours * 60).toFixed(1)} min: ${signedMb(heap.delta)}, ` +
      `${signedMb(heap.perHour)}/h extrapolated (trend through ${window.length} samples ${signedMb(heap.trend)}/h), ` +
      `${signedKb(heap.perSignIn)} per sign-in (${signIns} in the window) or ${signedKb(heap.perRefresh)} per refresh (${refreshes}); ` +
      `RSS ${signedMb(rss.perHour)}/h`;
    if (hasRedis) {
      const used = growth((s) => s.redisUsed ?? NaN);
      const keys = growth((s) => s.redisKeys ?? NaN);
      const members = growth((s) => s.indexMembers ?? NaN);
      redisPerSignIn.set(result.store, used.perSignIn);
      line +=
        `; Redis used_memory ${megabytes(start.redisUsed ?? NaN)} → ${megabytes(end.redisUsed ?? NaN)}: ${signedMb(used.perHour)}/h, ${signedKb(used.perSignIn)} per sign-in; ` +
        `keys ${int(start.redisKeys ?? NaN)} → ${int(end.redisKeys ?? NaN)}: ${keys.perSignIn.toFixed(2)} per sign-in; user-index members ${members.perSignIn.toFixed(2)} per sign-in`;
    }
    line += `; ${result.failureCount} failures`;
    // Warm-up is not over after a few minutes: per-hour figures from a short window are mostly that.
    if (hours < 10 / 60) line += ` (a window of ${(hours * 60).toFixed(1)} min: per-hour figures are mostly warm-up; soak 30 min to read a trend)`;
    verdicts.push(line);
  }
  console.log('');
  console.log('Growth from start to end of the window (no threshold: read it against the sign-ins and refreshes, README.md "Leak soak")');
  for (const line of verdicts) console.log(line);
  const reference = [...redisPerSignIn.values()].find(Number.isFinite);
  if (reference !== undefined) {
    console.log(
      `  a sign-in leaves records in the store by design (ledger, denylist entry at logout, activity; kept as long as the session could live): ` +
        `Redis holds them in about ${signedKb(reference).slice(1)} per sign-in, the memory store in its heap`,
    );
  }
}

/**
 * What proxy mode adds to an API call, per store, from the rounds pooled (each round's own in
 * brackets): the same GET of the notes API through the BFF's proxy and with the token, interleaved.
 * `latencyRows` give the bare route's p50 in the same process: the proxy's hop to the API is one
 * more request to a server, which costs at least that.
 * @param {ProxyRow[]} rows
 * @param {LatencyRow[]} [latencyRows]
 */
export function printProxy(rows, latencyRows = []) {
  if (rows.length === 0) return;
  console.log('');
  console.log('Proxy mode: GET /api/auth/proxy/notes/items (cookie) against GET /api/notes/items (token), one at a time, interleaved, ms');
  for (const store of [...new Set(rows.map((r) => r.store))]) {
    const mine = rows.filter((r) => r.store === store);
    const pooled = (key, p) => percentile(mine.flatMap((r) => r[key]).sort((a, b) => a - b), p);
    const each = (f) => mine.map((r) => ms(f(r))).join(', ');
    const of = (r, key, p) => percentile([...r[key]].sort((a, b) => a - b), p);
    const errors = mine.flatMap((r) => r.errors);
    console.log(
      `  ${store.padEnd(6)}  proxy adds p50 ${ms(pooled('proxy', 50) - pooled('direct', 50))} (rounds ${each((r) => of(r, 'proxy', 50) - of(r, 'direct', 50))}), ` +
        `p99 ${ms(pooled('proxy', 99) - pooled('direct', 99))}; paired median ${ms(pooled('paired', 50))}. ` +
        `Proxy p50 ${ms(pooled('proxy', 50))} p99 ${ms(pooled('proxy', 99))}, direct p50 ${ms(pooled('direct', 50))} p99 ${ms(pooled('direct', 99))}; ` +
        `${mine.reduce((n, r) => n + r.paired.length, 0)} pairs${errors.length ? `, errors: ${errors.slice(0, 5).join(' ')}` : ''}`,
    );
    const bare = pooledP50(latencyRows.filter((r) => r.store === store && r.what === 'bare'));
    if (Number.isFinite(bare)) console.log(`  ${''.padEnd(6)}    for scale: a bare route of this server answers in p50 ${ms(bare)}; the proxy's call to the API is one more request to a server`);
  }
}

// @ts-check
/** The benchmark's printout: one table per kind of phase, then the ratios and the checks. */
import { percentile } from './measure.mjs';

/**
 * @typedef {import('./measure.mjs').ThroughputResult & { store: string, round: number, route: 'cached' | 'bare' }} ThroughputRow
 * @typedef {{ store: string, round: number, what: 'refresh' | 'bare' | 'grant', samples: number[], skipped: number, errors: string[] }} LatencyRow
 * @typedef {import('./fanout.mjs').FanOutResult & { store: string }} FanOutRow
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

/** @param {ThroughputRow[]} rows @param {number} connections */
export function printThroughput(rows, connections) {
  if (rows.length === 0) return;
  console.log('');
  console.log(`Throughput: POST /api/auth/token answered from cache vs the bare route, ${connections} connections (autocannon); CPU of the next-server process tree`);
  table(
    ['store', 'round', 'route', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'answers'],
    rows.map((r) => [
      r.store,
      r.round,
      ROUTE[r.route],
      int(r.responses / r.seconds),
      r.p50,
      r.p99,
      `${int((1000 * r.cpuMs) / r.responses)}${r.extraCpuMs ? ` +${int((1000 * r.extraCpuMs) / r.responses)} redis` : ''}`,
      `${statuses(r.statuses)}${r.errors ? `, ${r.errors} errors` : ''}`,
    ]),
    [1, 3, 4, 5, 6],
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
 * The ratios the benchmark exists for, from the rounds pooled (each round's own in brackets).
 * @param {{ stores: string[], throughputRows: ThroughputRow[], latencyRows: LatencyRow[], fanOutRows: FanOutRow[] }} all
 */
export function printRatios({ stores, throughputRows, latencyRows, fanOutRows }) {
  console.log('');
  console.log('Ratios');
  for (const store of stores) {
    const of = (route, round) => throughputRows.filter((r) => r.store === store && r.route === route && (round === undefined || r.round === round));
    const rounds = [...new Set(throughputRows.filter((r) => r.store === store).map((r) => r.round))];
    if (rounds.length === 0) continue;
    const each = (f) => rounds.map((n) => f(n).toFixed(2)).join(', ');
    const tput = (round) => rate(of('cached', round)) / rate(of('bare', round));
    const cpu = (round) => cpuPerRequest(of('cached', round)) / cpuPerRequest(of('bare', round));
    const redisCpu = of('cached').some((r) => r.extraCpuMs) ? `; redis-server adds ${int(cpuPerRequest(of('cached'), 'extraCpuMs'))} µs per cached /token` : '';
    console.log(
      `  ${store.padEnd(6)}  cached /token ÷ bare route: throughput ${times(tput(undefined))} (rounds ${each(tput)}), CPU per request ${times(cpu(undefined))} (rounds ${each(cpu)})${redisCpu}`,
    );
  }
  for (const store of stores) {
    const p50 = (what) => pooledP50(latencyRows.filter((r) => r.store === store && r.what === what));
    const [refresh, bare, grant] = [p50('refresh'), p50('bare'), p50('grant')];
    if (!Number.isFinite(refresh)) continue;
    console.log(
      `  ${store.padEnd(6)}  a refresh adds ${ms(refresh - (bare + grant))} ms = /token refresh p50 ${ms(refresh)} − (bare route p50 ${ms(bare)} + provider grant p50 ${ms(grant)})`,
    );
  }
  for (const store of stores) {
    const rows = fanOutRows.filter((r) => r.store === store);
    if (rows.length === 0) continue;
    const perRotation = rows.map((r) => (r.rotations ? (r.grants / r.rotations).toFixed(r.grants === r.rotations ? 2 : 3) : 'n/a')).join(' / ');
    console.log(`  ${store.padEnd(6)}  upstream refreshes per rotation at fan-outs ${rows.map((r) => r.fanOut).join(' / ')}: ${perRotation}`);
  }
}

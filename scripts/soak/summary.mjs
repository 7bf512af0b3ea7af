// @ts-check
/** The end-of-run summary: the goals first, then the figures and the evidence behind a miss. */

const mb = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : '?');

/**
 * @typedef {{ grants: { authorization_code: number, refresh_token: number }, revoked: number, reuseDetected: number }} ProviderStats
 * @param {{ title: string, metrics: import('./metrics.mjs').Metrics, results: ReturnType<typeof import('./metrics.mjs').goals>,
 *   graceMs: number, provider: { before: ProviderStats, after: ProviderStats } | undefined,
 *   heaps: { name: string, before: number, after: number }[], redis: { before: number, after: number },
 *   unseen: [string, { at: number, instance: string, late: boolean, upstreamMs: number }][], infraFailure: string | undefined }} run
 */
export function printSummary({ title, metrics, results, graceMs, provider, heaps, redis, unseen, infraFailure }) {
  const lat = metrics.latency();
  console.log('');
  console.log(`== soak summary: ${title}`);
  for (const r of results) console.log(`${r.met ? 'ok  ' : 'FAIL'} ${r.name}: ${r.value}  (goal ${r.goal})`);
  console.log(`     answers: ${[...metrics.byStatus].sort().map(([s, n]) => `${s} ×${n}`).join(', ')}; latency p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms, ${lat.over10s} over 10 s`);
  if (provider) {
    const { before, after } = provider;
    console.log(`     provider: ${after.grants.refresh_token - before.grants.refresh_token} refresh grants, ${after.grants.authorization_code - before.grants.authorization_code} code grants, ${after.revoked - before.revoked} grants revoked during the load`);
  }
  console.log(`     faults: ${metrics.faults.map((f) => `${f.kind} ${metrics.clock(f.start)}–${metrics.clock(f.end)}`).join(', ') || 'none'}`);
  console.log(`     BFF events: ${[...metrics.events].sort().map(([t, n]) => `${t} ${n}`).join(', ')}`);
  for (const heap of heaps) {
    const restarted = metrics.faults.some((f) => f.kind === 'bff-restart') && heap.name === 'bff-b';
    console.log(`     heap used ${heap.name}: ${mb(heap.before)} at start → ${mb(heap.after)} at end${restarted ? ' (restarted: the end figure is of the new process)' : ''}`);
  }
  console.log(`     redis used_memory: ${mb(redis.before)} at start → ${mb(redis.after)} at end`);
  for (const exit of metrics.unexpectedExits) console.log(`     ${exit.name} exited on its own at ${metrics.clock(exit.at)} (code ${exit.code}, signal ${exit.signal})`);
  const describe = (at) => {
    const active = metrics.faults.filter((f) => f.start <= at && at <= (f.end ?? at) + graceMs).map((f) => f.kind);
    return `${metrics.clock(at)}${active.length ? ` during/after ${active.join(', ')}` : ''}`;
  };
  for (const loss of metrics.losses.slice(0, 8)) {
    console.log(`     lost: session ${loss.session} (${loss.user}) at ${describe(loss.at)}: ${loss.status} ${loss.reason} from ${loss.instance} — ${loss.description}`);
  }
  if (metrics.losses.length > 8) console.log(`     … ${metrics.losses.length - 8} more lost sessions`);
  for (const f of metrics.unexplained().slice(0, 8)) {
    console.log(`     unexplained: ${f.status ?? 'no answer'} ${f.code ?? f.error ?? ''} from ${f.instance}, sent ${describe(f.sent)}, answered after ${f.received - f.sent} ms`);
  }
  for (const [key, r] of unseen.slice(0, 8)) {
    const [family, version] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
    const next = metrics.refreshes.get(`${family}:${version + 1}`);
    console.log(
      `     rotation no client saw: family ${family} v${version} by ${r.instance} at ${describe(r.at)}${r.late ? ' (late)' : ''}, provider answered in ${r.upstreamMs} ms` +
        (next ? `; refreshed again to v${version + 1} by ${next.instance} ${((next.at - r.at) / 1000).toFixed(1)} s later` : ''),
    );
  }
  for (const u of metrics.unexpected.slice(0, 5)) console.log(`     unexpected: ${u.status} ${u.code ?? ''} from ${u.instance} at ${metrics.clock(u.at)}`);
  if (infraFailure) console.log(`     the soak could not run as planned: ${infraFailure}`);
}

'use client';

import type { AuditRecord, OpsSnapshot, TokenResult } from '@latchkey/bff';
import { useEffect, useState } from 'react';
import { Chart, type Series } from './Chart';
import { Sessions } from './Sessions';

/** How often the page asks for new figures. */
const POLL_MS = 2000;

const RESULTS: [TokenResult, string][] = [
  ['cached', '#4c78a8'],
  ['refreshed', '#54a24b'],
  ['waited', '#b279a2'],
  ['healed', '#eeca3b'],
  ['rejected', '#e45756'],
  ['rate_limited', '#f58518'],
  ['unavailable', '#9d755d'],
];

interface Poll {
  stats: OpsSnapshot;
  audit: AuditRecord[];
}

/** Polls `/admin/api/stats` and draws the charts and the audit trail; the session list is below. */
export function Dashboard() {
  const [poll, setPoll] = useState<Poll | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const response = await fetch('/admin/api/stats', { cache: 'no-store' });
        if (!response.ok) throw new Error(`the stats answered ${response.status}`);
        if (!stopped) {
          setPoll((await response.json()) as Poll);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError(String(e));
      }
    };
    void load();
    const timer = setInterval(load, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  if (!poll) return <p>{error ?? 'Loading…'}</p>;
  const { buckets, totals, bucketSeconds, activeWindowSeconds } = poll.stats;
  const times = buckets.map((b) => b.t);
  const line = (label: string, stroke: string): Series => ({ label, stroke });
  return (
    <>
      {error && <p role="alert">{error}</p>}
      <p>
        Since this process started: <span data-testid="total-tokens">{Object.values(totals.tokens).reduce((a, b) => a + b, 0)}</span> token requests,{' '}
        {totals.signIns} sign-ins, {totals.failedSignIns} failed, {totals.rateLimited} answers 429, {totals.reuse} reuse, {totals.alerts} alerts. One point per{' '}
        {bucketSeconds} s.
      </p>
      <Chart id="tokens" title="Token requests by result" unit="requests" series={RESULTS.map(([r, c]) => line(r, c))} data={[times, ...RESULTS.map(([r]) => buckets.map((b) => b.tokens[r]))]} />
      <Chart
        id="latency"
        title="Refresh latency (ms, /token requests that refreshed)"
        unit="ms"
        series={[line('average', '#54a24b'), line('max', '#e45756')]}
        data={[times, buckets.map((b) => b.refreshMs.avg), buckets.map((b) => b.refreshMs.max)]}
      />
      <Chart id="sessions" title={`Active sessions (a /token call in the last ${activeWindowSeconds / 60} min)`} unit="sessions" series={[line('active', '#4c78a8')]} data={[times, buckets.map((b) => b.activeSessions)]} />
      <Chart
        id="alerts"
        title="429s, reuse and alerts"
        unit="events"
        series={[line('429', '#f58518'), line('reuse', '#e45756'), line('alerts', '#b279a2')]}
        data={[times, buckets.map((b) => b.rateLimited), buckets.map((b) => b.reuse), buckets.map((b) => b.alerts)]}
      />
      <Sessions />
      <h2>Audit trail</h2>
      <table style={{ fontSize: 12, borderCollapse: 'collapse', width: '100%' }}>
        <thead>
          <tr style={{ textAlign: 'left' }}>
            <th>time</th>
            <th>type</th>
            <th>outcome</th>
            <th>user</th>
            <th>family</th>
            <th>IP</th>
            <th>route</th>
          </tr>
        </thead>
        <tbody>
          {poll.audit.map((r, i) => (
            <tr key={`${r.time}-${i}`} data-testid="audit-row" title={r.userAgent}>
              <td>{r.time.slice(11, 19)}</td>
              <td>{r.type}</td>
              <td>{r.outcome}</td>
              <td>{r.sub ?? ''}</td>
              <td>{r.family ?? ''}</td>
              <td>{r.ip ?? ''}</td>
              <td>{r.route ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

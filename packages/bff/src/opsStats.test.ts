import { describe, expect, it } from 'vitest';
import { tokenResult } from './operations.js';
import { OpsStats } from './opsStats.js';

describe('tokenResult()', () => {
  it.each([
    [200, 'cached', 'cached'],
    [200, 'refreshed', 'refreshed'],
    [200, 'healed', 'healed'],
    [200, 'waited', 'waited'],
    [200, undefined, 'waited'],
    [401, undefined, 'rejected'],
    [403, undefined, 'rejected'],
    [429, undefined, 'rate_limited'],
    [503, undefined, 'unavailable'],
    [500, undefined, 'error'],
  ] as const)('%i served as %s is %s', (status, via, result) => {
    expect(tokenResult(status, via)).toBe(result);
  });
});

describe('OpsStats', () => {
  it('counts /token results and refresh latency per time slice', () => {
    const stats = new OpsStats({ bucketSeconds: 10, buckets: 6 });
    stats.token('cached', 2, 'f1', 1_000);
    stats.token('refreshed', 40, 'f1', 2_000);
    stats.token('refreshed', 80, 'f2', 3_000);
    stats.token('rate_limited', 1, 'f2', 12_000);
    const { buckets, totals } = stats.snapshot(15_000);
    expect(buckets.map((b) => b.t)).toEqual([0, 10]);
    expect(buckets[0]!.tokens).toMatchObject({ cached: 1, refreshed: 2 });
    expect(buckets[0]!.refreshMs).toEqual({ count: 2, avg: 60, max: 80 });
    expect(buckets[1]!.tokens.rate_limited).toBe(1);
    expect(totals.tokens).toMatchObject({ cached: 1, refreshed: 2, rate_limited: 1 });
  });

  it('keeps the last slices only, with empty ones for quiet time', () => {
    const stats = new OpsStats({ bucketSeconds: 10, buckets: 3 });
    stats.token('cached', 1, undefined, 0);
    const { buckets } = stats.snapshot(45_000);
    expect(buckets.map((b) => b.t)).toEqual([20, 30, 40]);
    expect(buckets.every((b) => b.tokens.cached === 0)).toBe(true);
  });

  it('counts sessions active in the window as active, and forgets the quiet ones', () => {
    const stats = new OpsStats({ bucketSeconds: 10, buckets: 100, activeWindowSeconds: 60 });
    stats.token('cached', 1, 'f1', 0);
    stats.token('cached', 1, 'f2', 30_000);
    stats.token('cached', 1, 'f2', 31_000);
    expect(stats.snapshot(40_000).buckets.at(-1)!.activeSessions).toBe(2);
    expect(stats.snapshot(70_000).buckets.at(-1)!.activeSessions).toBe(1);
    expect(stats.snapshot(200_000).buckets.at(-1)!.activeSessions).toBe(0);
  });

  it('counts 429s, reuse, alerts and sign-ins from audit records', () => {
    const stats = new OpsStats();
    const rec = (type: string, event: string) => ({ time: '', type, event, outcome: 'x' }) as const;
    stats.record(rec('rate_limit', 'rate_limited') as never, 0);
    stats.record(rec('reuse', 'reuse_detected') as never, 0);
    stats.record(rec('alert', 'alert') as never, 0);
    stats.record(rec('sign_in', 'session_created') as never, 0);
    stats.record(rec('sign_in', 'sign_in_failed') as never, 0);
    stats.record(rec('refresh', 'token_refreshed') as never, 0);
    expect(stats.snapshot(0).totals).toMatchObject({ rateLimited: 1, reuse: 1, alerts: 1, signIns: 1, failedSignIns: 1 });
  });
});

import { readFileSync } from 'node:fs';
import { metrics, type Attributes, type MeterProvider } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider as SdkMeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BffError, UpstreamError } from './errors.js';
import type { BffEvent } from './events.js';
import { ACTIVE_SESSIONS_KEY, bffMetrics, METER_NAME, METER_VERSION, refreshOutcomeOf } from './metrics.js';
import { memoryStore, type BffStore } from './store.js';
import { points, testMetrics, type TestMetrics } from './test/metrics.js';

let t: TestMetrics;
afterEach(async () => {
  await t?.shutdown();
  metrics.disable();
  vi.restoreAllMocks();
});

function setup(store: BffStore = memoryStore(), options: { activeReadIntervalMs?: number; activeReadTimeoutMs?: number } = {}) {
  t = testMetrics();
  return bffMetrics({ meterProvider: t.provider, store, ...options });
}

/** Each event that feeds an instrument: the instrument and the attributes of its one point. */
const EVENTS: [BffEvent, string, Attributes][] = [
  [{ type: 'session_created', familyId: 'f', sub: 'alice' }, 'latchkey.sessions.started', {}],
  [{ type: 'sign_in_failed', outcome: 'failure', error: 'invalid_state' }, 'latchkey.logins', { 'latchkey.outcome': 'failure' }],
  [{ type: 'sign_in_failed', outcome: 'provider_error', error: 'access_denied' }, 'latchkey.logins', { 'latchkey.outcome': 'provider_error' }],
  [{ type: 'logged_out', familyId: 'f' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'logout' }],
  [{ type: 'session_expired', familyId: 'f', reason: 'idle' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'idle' }],
  [{ type: 'session_expired', familyId: 'f', reason: 'absolute' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'absolute' }],
  [{ type: 'session_expired', familyId: 'f', reason: 'invalid_grant' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'invalid_grant' }],
  [{ type: 'session_revoked', familyId: 'f', reason: 'reuse' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'reuse' }],
  [{ type: 'session_revoked', familyId: 'f', reason: 'revoke_user' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'revoked' }],
  [{ type: 'session_revoked', familyId: 'f', reason: 'revoke_family' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'revoked' }],
  [{ type: 'session_revoked', familyId: 'f', reason: 'new_sign_in' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'revoked' }],
  [{ type: 'session_revoked', familyId: 'f', reason: 'session_limit' }, 'latchkey.sessions.ended', { 'latchkey.reason': 'revoked' }],
  [{ type: 'reuse_detected', familyId: 'f', presentedVersion: 1, currentVersion: 3 }, 'latchkey.reuse.detected', {}],
  [{ type: 'rate_limited', limit: 'token_family', retryAfter: 30 }, 'latchkey.rate_limited', { 'latchkey.route': 'token' }],
  [{ type: 'rate_limited', limit: 'login_ip', retryAfter: 30 }, 'latchkey.rate_limited', { 'latchkey.route': 'login' }],
  [{ type: 'rate_limited', limit: 'anonymous_ip', retryAfter: 30 }, 'latchkey.rate_limited', { 'latchkey.route': 'anonymous' }],
];

describe('bffMetrics()', () => {
  it('names its meter @latchkey/bff with the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect(METER_NAME).toBe(pkg.name);
    expect(METER_VERSION).toBe(pkg.version);
    t = testMetrics();
    const getMeter = vi.fn((name: string, version?: string) => t.provider.getMeter(name, version));
    bffMetrics({ meterProvider: { getMeter }, store: memoryStore() }).tokenRequest('cached');
    expect(getMeter).toHaveBeenCalledWith('@latchkey/bff', pkg.version);
  });

  it('creates every instrument with the kind and unit OpenTelemetry names for it', async () => {
    const store = memoryStore();
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-1', 60);
    const m = setup(store);
    m.tokenRequest('cached');
    m.refresh('success', 0.2);
    m.lockWait(0.05);
    m.cookieSize(900);
    for (const event of EVENTS.map(([e]) => e)) m.record(event);
    const collected = await t.collect();
    const kind = (metric: MetricData) =>
      metric.dataPointType === DataPointType.SUM ? (metric.isMonotonic ? 'counter' : 'updowncounter') : metric.dataPointType === DataPointType.GAUGE ? 'gauge' : 'histogram';
    const shape = Object.fromEntries([...collected].map(([name, metric]) => [name, [kind(metric), metric.descriptor.unit]]));
    expect(shape).toEqual({
      'latchkey.token.requests': ['counter', '{request}'],
      'latchkey.refresh.duration': ['histogram', 's'],
      'latchkey.lock.wait.duration': ['histogram', 's'],
      'latchkey.sessions.started': ['counter', '{session}'],
      'latchkey.sessions.ended': ['counter', '{session}'],
      'latchkey.sessions.active': ['gauge', '{session}'],
      'latchkey.reuse.detected': ['counter', '{detection}'],
      'latchkey.rate_limited': ['counter', '{request}'],
      'latchkey.logins': ['counter', '{login}'],
      'latchkey.cookie.size': ['histogram', 'By'],
    });
    for (const metric of collected.values()) expect(metric.descriptor.description).toMatch(/\w+ \w+/);
  });

  it('counts token requests by latchkey.result', async () => {
    const m = setup();
    for (const result of ['cached', 'cached', 'refreshed', 'waited', 'healed', 'rejected'] as const) m.tokenRequest(result);
    expect(await t.total('latchkey.token.requests', { 'latchkey.result': 'cached' })).toBe(2);
    for (const result of ['refreshed', 'waited', 'healed', 'rejected']) expect(await t.total('latchkey.token.requests', { 'latchkey.result': result })).toBe(1);
  });

  it('hands the SDK one attributes object per result, built once: the cached path allocates none', () => {
    const add = vi.fn();
    const meter = { createCounter: () => ({ add }), createHistogram: () => ({ record: vi.fn() }), createObservableGauge: () => ({ addCallback: vi.fn() }) };
    const m = bffMetrics({ meterProvider: { getMeter: () => meter } as unknown as MeterProvider, store: memoryStore() });
    m.tokenRequest('cached');
    m.tokenRequest('cached');
    expect(add).toHaveBeenCalledTimes(2);
    expect(add.mock.calls[0]![1]).toBe(add.mock.calls[1]![1]);
    expect(Object.isFrozen(add.mock.calls[0]![1])).toBe(true);
  });

  it('records refresh durations in seconds by latchkey.outcome, in buckets made for seconds', async () => {
    const m = setup();
    m.refresh('success', 0.12);
    m.refresh('success', 0.3);
    m.refresh('timeout', 5);
    m.refresh('upstream_error', -1); // a clock that stepped back: never a negative duration
    const metric = (await t.collect()).get('latchkey.refresh.duration')!;
    const success = points(metric).find((p) => p.attributes['latchkey.outcome'] === 'success')!;
    expect(success).toMatchObject({ count: 2 });
    expect(success.sum).toBeCloseTo(0.42);
    expect(points(metric).find((p) => p.attributes['latchkey.outcome'] === 'timeout')).toMatchObject({ count: 1, sum: 5 });
    expect(points(metric).find((p) => p.attributes['latchkey.outcome'] === 'upstream_error')).toMatchObject({ count: 1, sum: 0 });
    const boundaries = (metric.dataPoints[0]!.value as { buckets: { boundaries: number[] } }).buckets.boundaries;
    expect(boundaries).toContain(0.1);
    expect(boundaries.at(-1)).toBe(10);
  });

  it('records lock waits in seconds and cookie sizes in bytes, without attributes', async () => {
    const m = setup();
    m.lockWait(0.025);
    m.cookieSize(1200);
    m.cookieSize(1300);
    const collected = await t.collect();
    expect(points(collected.get('latchkey.lock.wait.duration')!)).toEqual([{ attributes: {}, value: 0, count: 1, sum: 0.025 }]);
    expect(points(collected.get('latchkey.cookie.size')!)).toEqual([{ attributes: {}, value: 0, count: 2, sum: 2500 }]);
    expect((collected.get('latchkey.cookie.size')!.dataPoints[0]!.value as { buckets: { boundaries: number[] } }).buckets.boundaries.at(-1)).toBe(4096);
  });

  it.each(EVENTS)('records %j as %s %j', async (event, name, attributes) => {
    const m = setup();
    m.record(event);
    const collected = await t.collect();
    const recorded = [...collected].filter(([n]) => n !== 'latchkey.sessions.active').flatMap(([n, metric]) => points(metric).map((p) => [n, p.attributes, p.value] as const));
    const expected = [[name, attributes, 1]];
    // A sign-in starts a session and is a successful login.
    if (event.type === 'session_created') expected.push(['latchkey.logins', { 'latchkey.outcome': 'success' }, 1]);
    expect(recorded.sort()).toEqual(expected.sort());
  });

  it.each<BffEvent>([
    { type: 'token_served_from_cache', familyId: 'f' },
    { type: 'token_refreshed', familyId: 'f', version: 2, upstreamMs: 10, rotated: true },
    { type: 'refresh_failed', familyId: 'f', reason: 'upstream_unavailable' },
    { type: 'stale_cookie_healed', familyId: 'f', fromVersion: 1, toVersion: 2, ageMs: 0 },
    { type: 'csrf_rejected', path: '/api/auth/token', reason: 'origin' },
    { type: 'configuration_error', step: 'refresh', providerCode: 'invalid_client' },
    { type: 'store_unavailable', operation: 'get' },
    { type: 'revocation_failed', familyId: 'f', reason: 'down' },
    // Reported as logged_out and session_expired, so not counted twice.
    { type: 'session_revoked', familyId: 'f', reason: 'logout' },
    { type: 'session_revoked', familyId: 'f', reason: 'expired' },
  ])('leaves $type ($reason) to the instruments fed by the token service, or to none', async (event) => {
    const m = setup();
    m.record(event);
    expect([...(await t.collect()).keys()].filter((n) => n !== 'latchkey.sessions.active')).toEqual([]);
  });

  it('maps each refresh failure to its outcome: invalid_grant, configuration_error, timeout, upstream_error', () => {
    expect(refreshOutcomeOf(new BffError('session_expired', 401, 'x'))).toBe('invalid_grant');
    expect(refreshOutcomeOf(new BffError('configuration_error', 500, 'x'))).toBe('configuration_error');
    expect(refreshOutcomeOf(new UpstreamError('x', { cause: Object.assign(new Error('t'), { name: 'TimeoutError' }) }))).toBe('timeout');
    expect(refreshOutcomeOf(new UpstreamError('x', { cause: new TypeError('fetch failed') }))).toBe('upstream_error');
    expect(refreshOutcomeOf(new Error('bug'))).toBe('upstream_error');
  });
});

describe('latchkey.sessions.active', () => {
  const active = async () => {
    const gauge = (await t.collect()).get('latchkey.sessions.active');
    return gauge ? points(gauge).map((p) => p.value) : [];
  };

  it('reports the live families of the store, whichever instance wrote them, and none that expired or ended', async () => {
    let now = 1_000_000;
    const store = memoryStore({ now: () => now });
    const m = setup(store, { activeReadIntervalMs: 0 });
    m.tokenRequest('cached'); // first use: the gauge exists from here on
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-1', 60);
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-2', 600);
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-3', 600);
    expect(await active()).toEqual([3]);
    await store.removeFromSet(ACTIVE_SESSIONS_KEY, 'family-3');
    now += 61_000;
    expect(await active()).toEqual([1]);
  });

  it('reads the store at most once per interval and reports the last value in between', async () => {
    const store = memoryStore();
    const countSet = vi.spyOn(store, 'countSet');
    const m = setup(store, { activeReadIntervalMs: 60_000 });
    m.tokenRequest('cached');
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-1', 60);
    expect(await active()).toEqual([1]);
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-2', 60);
    expect(await active()).toEqual([1]);
    expect(countSet).toHaveBeenCalledTimes(1);
  });

  it('counts members() when the store has no countSet', async () => {
    const { countSet: _, ...store } = memoryStore();
    const m = setup(store, { activeReadIntervalMs: 0 });
    m.tokenRequest('cached');
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-1', 60);
    expect(await active()).toEqual([1]);
  });

  it('never throws into the SDK nor holds up a collection: a failing or slow store leaves the last value', async () => {
    const store = memoryStore();
    const m = setup(store, { activeReadIntervalMs: 0, activeReadTimeoutMs: 50 });
    m.tokenRequest('cached');
    await store.addToSet(ACTIVE_SESSIONS_KEY, 'family-1', 60);
    expect(await active()).toEqual([1]);
    vi.spyOn(store, 'countSet').mockRejectedValueOnce(new Error('store down'));
    expect(await active()).toEqual([1]);
    vi.spyOn(store, 'countSet').mockImplementationOnce(() => new Promise(() => {}));
    const started = performance.now();
    expect(await active()).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(1_000);
    vi.spyOn(store, 'countSet').mockImplementationOnce(() => {
      throw new Error('synchronous');
    });
    expect(await active()).toEqual([1]);
  });

  it('observes nothing until the store has answered once', async () => {
    const store = memoryStore();
    vi.spyOn(store, 'countSet').mockRejectedValue(new Error('store down'));
    const m = setup(store, { activeReadIntervalMs: 0 });
    m.tokenRequest('cached');
    expect(await active()).toEqual([]);
  });
});

describe('the global meter provider', () => {
  it('is looked up at first use, so an SDK registered after the BFF was made still counts', async () => {
    const m = bffMetrics({ store: memoryStore() });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new SdkMeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    m.tokenRequest('refreshed');
    await reader.forceFlush();
    const recorded = exporter.getMetrics().flatMap((r) => r.scopeMetrics).flatMap((s) => s.metrics);
    const requests = recorded.find((metric) => metric.descriptor.name === 'latchkey.token.requests')!;
    expect(requests.dataPointType).toBe(DataPointType.SUM);
    expect(requests.dataPoints).toMatchObject([{ attributes: { 'latchkey.result': 'refreshed' }, value: 1 }]);
    expect(exporter.getMetrics()[0]!.scopeMetrics[0]!.scope).toMatchObject({ name: '@latchkey/bff', version: METER_VERSION });
    await provider.shutdown();
  });

  it('is looked at again while it is still the no-op, so an SDK registered after the first request counts within a second', async () => {
    let clock = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const m = bffMetrics({ store: memoryStore() });
    m.tokenRequest('cached'); // no SDK yet: a no-op
    t = testMetrics();
    metrics.setGlobalMeterProvider(t.provider);
    m.tokenRequest('cached');
    expect(await t.total('latchkey.token.requests')).toBe(0);
    clock += 1_001;
    m.tokenRequest('cached');
    expect(await t.total('latchkey.token.requests')).toBe(1);
  });

  it('keeps the BFF working when a meter provider throws', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const m = bffMetrics({
      meterProvider: {
        getMeter: () => {
          throw new Error('broken SDK');
        },
      },
      store: memoryStore(),
    });
    expect(() => m.tokenRequest('cached')).not.toThrow();
    expect(() => m.record({ type: 'reuse_detected', familyId: 'f', presentedVersion: 1, currentVersion: 2 })).not.toThrow();
    expect(error).toHaveBeenCalledTimes(1);
  });
});

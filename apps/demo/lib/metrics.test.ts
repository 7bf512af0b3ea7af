import { metrics } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, hasBearer, installMetrics, metricsResponse } from './metrics';

const TOKEN = 'scrape-token-0123456789';
const scrapeRequest = (authorization?: string, method = 'GET') =>
  new Request('http://localhost:3000/api/metrics', { method, headers: authorization === undefined ? {} : { authorization } });

describe('hasBearer()', () => {
  it.each([
    ['the token', `Bearer ${TOKEN}`, true],
    ['the scheme in any case', `bearer ${TOKEN}`, true],
    ['no header', null, false],
    ['an empty header', '', false],
    ['another token', 'Bearer scrape-token-0123456780', false],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`, false],
    ['the token and more', `Bearer ${TOKEN}x`, false],
    ['the token without the scheme', TOKEN, false],
    ['another scheme', `Basic ${TOKEN}`, false],
    ['the scheme alone', 'Bearer ', false],
  ])('answers %s: %j → %s', (_name, header, expected) => {
    expect(hasBearer(header, TOKEN)).toBe(expected);
  });
});

describe('createMetrics().scrape()', () => {
  it('serves what the instruments recorded in the Prometheus text format, with the bearer token', async () => {
    const { provider, scrape } = createMetrics(TOKEN);
    const meter = provider.getMeter('@latchkey/bff');
    meter.createCounter('latchkey.token.requests').add(3, { 'latchkey.result': 'cached' });
    meter.createHistogram('latchkey.refresh.duration', { unit: 's' }).record(0.2, { 'latchkey.outcome': 'success' });
    const response = await scrape(scrapeRequest(`Bearer ${TOKEN}`));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.text();
    expect(body).toMatch(/^# TYPE latchkey_token_requests_total counter$/m);
    expect(body).toMatch(/^latchkey_token_requests_total\{latchkey_result="cached",otel_scope_name="@latchkey\/bff"\} 3$/m);
    expect(body).toMatch(/^latchkey_refresh_duration_count\{latchkey_outcome="success",otel_scope_name="@latchkey\/bff"\} 1$/m);
    expect(body).toMatch(/^target_info\{.*service_name="latchkey-demo"/m);
    await provider.shutdown();
  });

  it('ends the exposition with a line feed even before anything was recorded', async () => {
    const { provider, scrape } = createMetrics(TOKEN);
    const body = await (await scrape(scrapeRequest(`Bearer ${TOKEN}`))).text();
    expect(body).toMatch(/^# TYPE target_info gauge$/m);
    expect(body.endsWith('\n')).toBe(true);
    await provider.shutdown();
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong token', 'Bearer not-the-token'],
    ['the token without the scheme', TOKEN],
  ])('answers 404 JSON that does not mention metrics to %s', async (_name, authorization) => {
    const { provider, scrape } = createMetrics(TOKEN);
    provider.getMeter('test').createCounter('latchkey.logins').add(1);
    const response = await scrape(scrapeRequest(authorization));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found', error_description: 'Not found.' });
    await provider.shutdown();
  });

  it('refuses an empty token rather than serving to anyone', () => {
    expect(() => createMetrics('')).toThrow(/non-empty bearer token/);
  });
});

describe('installMetrics()', () => {
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[Symbol.for('latchkey.demo.metrics')];
    metrics.disable();
    delete process.env.METRICS_BEARER_TOKEN;
  });

  it('installs nothing and serves the same 404 without METRICS_BEARER_TOKEN', async () => {
    expect(installMetrics({})).toBeUndefined();
    const response = await metricsResponse(scrapeRequest(`Bearer ${TOKEN}`));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found', error_description: 'Not found.' });
    // Still the API's no-op provider: nothing was registered.
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
  });

  it('registers one global meter provider per process, whose instruments the scrape shows', async () => {
    process.env.METRICS_BEARER_TOKEN = TOKEN;
    const first = installMetrics();
    expect(first).toBeDefined();
    expect(installMetrics()).toBe(first);
    // What the BFF does: a meter from the API, no reference to the SDK.
    metrics.getMeter('@latchkey/bff').createCounter('latchkey.reuse.detected').add(1);
    const body = await (await metricsResponse(scrapeRequest(`Bearer ${TOKEN}`))).text();
    expect(body).toMatch(/^latchkey_reuse_detected_total\{otel_scope_name="@latchkey\/bff"\} 1$/m);
  });
});

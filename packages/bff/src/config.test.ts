import { describe, expect, it, vi } from 'vitest';
import { createBff } from './createBff.js';
import { ConfigurationError } from './errors.js';

const good = {
  issuer: 'https://idp.example/',
  clientId: 'c',
  clientSecret: 's',
  appOrigin: 'https://app.example',
  cookieSecret: 'a-perfectly-random-secret-of-more-than-32-chars',
};

describe('createBff() configuration', () => {
  it.each([
    ['a missing cookie secret', { cookieSecret: undefined }, /"cookieSecret" is missing/],
    ['a short cookie secret', { cookieSecret: 'short' }, /at least 32 characters, got 5/],
    ['a placeholder secret', { cookieSecret: 'changeme-changeme-changeme-changeme' }, /placeholder/],
    ['a short key in a password map', { cookieSecret: { 2: 'x'.repeat(10), 1: good.cookieSecret } }, /cookieSecret"\[2\]/],
    ['a missing issuer', { issuer: '' }, /"issuer" is required/],
    ['an http issuer without allowInsecureHttp', { issuer: 'http://idp.example' }, /allowInsecureHttp/],
    ['an appOrigin with a path', { appOrigin: 'https://app.example/app' }, /origin only/],
    ['a zero timeout', { upstreamTimeoutMs: 0 }, /"upstreamTimeoutMs" must be a positive number/],
    ['a negative idle timeout', { idleTimeoutSeconds: -1 }, /"idleTimeoutSeconds" must be a non-negative number, got -1/],
    ['a rate limit of zero', { rateLimits: { tokenPerFamily: { limit: 0, windowSeconds: 60 } } }, /"rateLimits.tokenPerFamily" must be false or \{ limit, windowSeconds \}/],
    ['a fractional rate window', { rateLimits: { loginPerIp: { limit: 5, windowSeconds: 0.5 } } }, /"rateLimits.loginPerIp"/],
  ])('fails at start-up on %s with a message naming the option', (_name, patch, message) => {
    expect(() => createBff({ ...good, ...patch } as never)).toThrow(ConfigurationError);
    expect(() => createBff({ ...good, ...patch } as never)).toThrow(message);
  });

  it('accepts a password map for key rotation', () => {
    expect(() => createBff({ ...good, cookieSecret: { 2: `${good.cookieSecret}-new`, 1: good.cookieSecret } })).not.toThrow();
  });

  it('takes lifetime presets as plain options', async () => {
    const { sessionPresets } = await import('./config.js');
    const bff = createBff({ ...good, ...sessionPresets.pciDss });
    expect(bff.config.idleTimeoutSeconds).toBe(900);
    expect(bff.config.absoluteLifetimeSeconds).toBe(12 * 3600);
  });

  it('logs events as JSON lines by default, never with a token in them, and no line per cached token', async () => {
    const { jsonLinesLogger } = await import('./events.js');
    const lines: string[] = [];
    const log = jsonLinesLogger((line) => lines.push(line));
    log({ type: 'reuse_detected', familyId: 'f1', presentedVersion: 1, currentVersion: 3 });
    log({ type: 'session_created', familyId: 'f2', sub: 'alice' });
    log({ type: 'token_served_from_cache', familyId: 'f2' }); // routine: not a line per request
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'warn', source: 'latchkey', type: 'reuse_detected', familyId: 'f1', presentedVersion: 1, currentVersion: 3 },
      { time: expect.any(String), level: 'info', source: 'latchkey', type: 'session_created', familyId: 'f2', sub: 'alice' },
    ]);
  });
});

describe('provider calls', () => {
  it('never go through a framework wrapper of fetch (Next.js wraps it for its data cache)', async () => {
    const saved = globalThis.fetch;
    const wrapper = vi.fn(async () => new Response('{}', { status: 503 }));
    globalThis.fetch = Object.assign(wrapper, { _nextOriginalFetch: wrapper }) as unknown as typeof fetch;
    try {
      // Nothing listens on port 1: discovery fails at once, through the BFF's own client.
      const bff = createBff({ ...good, issuer: 'http://127.0.0.1:1', allowInsecureHttp: true });
      const response = await bff.handle(new Request('https://app.example/api/auth/login', { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } }));
      expect(response.status).toBe(503);
      expect(wrapper).not.toHaveBeenCalled();
    } finally {
      globalThis.fetch = saved;
    }
  });
});

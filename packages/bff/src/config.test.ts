import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { resolveConfig } from './config.js';
import { createBff } from './createBff.js';
import { ConfigurationError } from './errors.js';
import { testMetrics } from './test/metrics.js';
import { good } from './test/goodConfig.js';


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
    ['dpop given as a string', { dpop: 'true' }, /"dpop" must be true or false, got "true"/],
  ])('check() fails on %s with a message naming the option; createBff() itself checks nothing', (_name, patch, message) => {
    const bff = createBff({ ...good, ...patch } as never);
    expect(() => bff.check()).toThrow(ConfigurationError);
    expect(() => bff.check()).toThrow(message);
    expect(() => bff.config).toThrow(message);
  });

  it('answers 500 configuration_error to requests while the configuration is bad, logging the cause once', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const bff = createBff({ ...good, cookieSecret: 'short' });
      for (let i = 0; i < 3; i++) {
        const response = await bff.handle(new Request('https://app.example/api/auth/session'));
        expect(response.status).toBe(500);
        expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
        expect(await response.json()).toEqual({ error: 'configuration_error', error_description: expect.stringMatching(/misconfigured; its server log says why/) });
      }
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]![0])).toMatch(/"cookieSecret" must be at least 32 characters, got 5/);
    } finally {
      log.mockRestore();
    }
  });

  it('falls back to OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, LATCHKEY_COOKIE_SECRET and APP_ORIGIN, read at first use', () => {
    const saved = { ...process.env };
    try {
      const bff = createBff({ scope: 'openid offline_access' });
      Object.assign(process.env, {
        OIDC_ISSUER: 'https://env-idp.example/',
        OIDC_CLIENT_ID: 'env-client',
        OIDC_CLIENT_SECRET: 'env-secret',
        LATCHKEY_COOKIE_SECRET: good.cookieSecret,
        APP_ORIGIN: 'https://env-app.example',
      });
      expect(bff.config).toMatchObject({ issuer: 'https://env-idp.example/', clientId: 'env-client', appOrigin: 'https://env-app.example', scope: 'openid offline_access' });
      // Options win over the environment.
      expect(createBff({ ...good }).config).toMatchObject({ issuer: 'https://idp.example/', clientId: 'c', appOrigin: 'https://app.example' });
    } finally {
      process.env = saved;
    }
  });

  it.each([
    ['outside production, the local dev server', { NODE_ENV: 'development', PORT: '3100' }, 'http://localhost:3100'],
    ['outside production without PORT, port 3000', { NODE_ENV: 'test' }, 'http://localhost:3000'],
    ['a Vercel production deployment', { NODE_ENV: 'production', VERCEL_ENV: 'production', VERCEL_PROJECT_PRODUCTION_URL: 'shop.example', VERCEL_URL: 'x.vercel.app' }, 'https://shop.example'],
    ['a Vercel preview deployment', { NODE_ENV: 'production', VERCEL_ENV: 'preview', VERCEL_URL: 'shop-git-x.vercel.app' }, 'https://shop-git-x.vercel.app'],
  ])('derives appOrigin for %s', async (_name, env, origin) => {
    const { resolveConfig } = await import('./config.js');
    const { appOrigin: _a, ...rest } = good;
    expect(resolveConfig(rest, env).appOrigin).toBe(origin);
  });

  it.each([['production', { NODE_ENV: 'production', APP_ORIGIN: '' }], ['no NODE_ENV at all (node server.js, a container)', {}]])('requires appOrigin in %s, saying which variable to set', async (_name, env) => {
    const { resolveConfig } = await import('./config.js');
    const { appOrigin: _a, ...rest } = good;
    expect(() => resolveConfig(rest, env)).toThrow(/"appOrigin" is required: pass it to createBff\(\) or set APP_ORIGIN.*APP_ORIGIN=https:\/\/app.example.com/);
  });

  it.each(['http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000'])('accepts an http: issuer on this machine without a flag: %s', (issuer) => {
    const bff = createBff({ ...good, issuer });
    expect(bff.config.allowInsecureHttp).toBe(true);
  });

  it('accepts a password map for key rotation', () => {
    expect(() => createBff({ ...good, cookieSecret: { 2: `${good.cookieSecret}-new`, 1: good.cookieSecret } }).check()).not.toThrow();
  });

  it('caps a user at 50 live sessions by default, as providers cap refresh tokens per user', () => {
    expect(createBff(good).config.maxSessionsPerUser).toBe(50);
    expect(createBff({ ...good, maxSessionsPerUser: 3 }).config.maxSessionsPerUser).toBe(3);
  });

  it('checks alert thresholds with the rest of the configuration, naming the one at fault', () => {
    expect(() => createBff({ ...good, alertThresholds: { heals: { count: 0, windowSeconds: 60 } } }).check()).toThrow(/"alertThresholds.heals"/);
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

describe('typed users', () => {
  it('createBff<User>() and its getSession() carry the app\'s own user type', () => {
    interface AppUser {
      sub: string;
      roles: string[];
    }
    const bff = createBff<AppUser>({ ...good, mapUser: (claims) => ({ sub: String(claims.sub), roles: [] }) });
    expectTypeOf(bff.getSession).returns.resolves.toEqualTypeOf<AppUser | undefined>();
    expectTypeOf(bff.findSession).returns.resolves.toEqualTypeOf<AppUser | null>();
    expectTypeOf(bff.getAccessToken).returns.resolves.toHaveProperty('user').toEqualTypeOf<AppUser>();
  });
});

describe('onEvent and the metrics recorder', () => {
  it('records metrics before the app’s hook runs, and a hook that throws is logged once and never reaches the BFF', async () => {
    const t = testMetrics();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const seen: string[] = [];
    const config = resolveConfig({
      ...good,
      meterProvider: t.provider,
      onEvent: (event) => {
        seen.push(event.type);
        throw new Error('a broken log pipeline');
      },
    });
    const reuse = { type: 'reuse_detected', familyId: 'f', presentedVersion: 1, currentVersion: 2 } as const;
    expect(() => config.onEvent(reuse)).not.toThrow();
    expect(() => config.onEvent(reuse)).not.toThrow();
    expect(seen).toEqual(['reuse_detected', 'reuse_detected']);
    expect(await t.total('latchkey.reuse.detected')).toBe(2);
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]![0])).toMatch(/onEvent hook threw/);
    error.mockRestore();
    await t.shutdown();
  });
});

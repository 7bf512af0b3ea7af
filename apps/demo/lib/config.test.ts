import { describe, expect, it } from 'vitest';
import { dpopFromEnv, MISSING_COOKIE_SECRET, modeFromEnv, rateLimitsFromEnv, requireCookieSecret, testHooksFromEnv } from './config';

describe('requireCookieSecret()', () => {
  const secret = 'a-real-secret-from-openssl-rand-base64-32-xxxxxx';

  it('refuses production without LATCHKEY_COOKIE_SECRET, in one line that says how to make one', () => {
    expect(() => requireCookieSecret({ NODE_ENV: 'production' })).toThrow(MISSING_COOKIE_SECRET);
    expect(() => requireCookieSecret({ NODE_ENV: 'production', LATCHKEY_COOKIE_SECRET: '' })).toThrow(MISSING_COOKIE_SECRET);
    expect(MISSING_COOKIE_SECRET).toBe('LATCHKEY_COOKIE_SECRET is not set. Make one with: openssl rand -base64 32');
  });

  it.each([
    ['production with the secret', { NODE_ENV: 'production', LATCHKEY_COOKIE_SECRET: secret }, secret],
    ['development with the secret', { NODE_ENV: 'development', LATCHKEY_COOKIE_SECRET: secret }, secret],
  ])('answers the configured secret in %s', (_name, env, expected) => {
    expect(requireCookieSecret(env)).toBe(expected);
  });

  it.each([
    ['next dev', { NODE_ENV: 'development' }],
    ['tests', { NODE_ENV: 'test' }],
    // `next build` runs with NODE_ENV=production and evaluates route modules, but seals nothing.
    ['next build', { NODE_ENV: 'production', NEXT_PHASE: 'phase-production-build' }],
  ])('falls back to the embedded dev secret under %s', (_name, env) => {
    expect(requireCookieSecret(env)).toMatch(/for-local-dev-only/);
  });
});

describe('rateLimitsFromEnv()', () => {
  it('keeps the defaults when unset, turns limits off with "off", and passes JSON through', () => {
    expect(rateLimitsFromEnv(undefined)).toBeUndefined();
    expect(rateLimitsFromEnv('off')).toBe(false);
    expect(rateLimitsFromEnv('{"tokenPerFamily":{"limit":600,"windowSeconds":60}}')).toEqual({ tokenPerFamily: { limit: 600, windowSeconds: 60 } });
  });

  it('refuses anything else with a message naming the variable', () => {
    for (const bad of ['on', '[1]', '{', '42']) expect(() => rateLimitsFromEnv(bad)).toThrow(/LATCHKEY_RATE_LIMITS/);
  });
});

describe('modeFromEnv()', () => {
  it('is token mode when unset or empty, and takes "token", "proxy" and "both"', () => {
    expect(modeFromEnv(undefined)).toBe('token');
    expect(modeFromEnv('')).toBe('token');
    expect(modeFromEnv('token')).toBe('token');
    expect(modeFromEnv('proxy')).toBe('proxy');
    expect(modeFromEnv('both')).toBe('both');
  });

  it.each(['Proxy', 'PROXY', ' proxy', 'proxy ', 'Both', 'bff', '1', 'true'])('refuses %j, naming the variable, the values it takes and the value at fault', (bad) => {
    expect(() => modeFromEnv(bad)).toThrow(`LATCHKEY_MODE must be "token", "proxy" or "both", got ${JSON.stringify(bad)}.`);
  });
});

describe('dpopFromEnv()', () => {
  it('is off unless set to exactly "1", in token mode', () => {
    expect(dpopFromEnv(undefined, 'token')).toBe(false);
    expect(dpopFromEnv('', 'token')).toBe(false);
    expect(dpopFromEnv('0', 'token')).toBe(false);
    expect(dpopFromEnv('1', 'token')).toBe(true);
  });

  it.each(['true', 'yes', ' 1', '2'])('refuses %j, naming the variable and the value', (bad) => {
    expect(() => dpopFromEnv(bad, 'token')).toThrow(`LATCHKEY_DPOP must be "1" (on) or "0" (off), got ${JSON.stringify(bad)}.`);
  });

  it.each(['proxy', 'both'] as const)('refuses DPoP with LATCHKEY_MODE=%s, where no bound token reaches the page', (mode) => {
    expect(() => dpopFromEnv('1', mode)).toThrow(`LATCHKEY_DPOP=1 binds the tokens the page holds, so it needs LATCHKEY_MODE=token, got "${mode}".`);
  });
});

describe('testHooksFromEnv()', () => {
  it('is off unless set to exactly "1"', () => {
    expect(testHooksFromEnv(undefined)).toBe(false);
    expect(testHooksFromEnv('')).toBe(false);
    expect(testHooksFromEnv('0')).toBe(false);
    expect(testHooksFromEnv('1')).toBe(true);
  });

  it.each(['true', 'yes', 'on', '2', ' 1'])('refuses %j rather than guessing', (bad) => {
    expect(() => testHooksFromEnv(bad)).toThrow(`LATCHKEY_DEMO_TEST_HOOKS must be "1" (on) or "0" (off), got ${JSON.stringify(bad)}.`);
  });
});

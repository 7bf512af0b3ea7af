import { describe, expect, it } from 'vitest';
import { MISSING_COOKIE_SECRET, rateLimitsFromEnv, requireCookieSecret } from './config';

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

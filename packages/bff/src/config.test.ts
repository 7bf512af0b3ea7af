import { describe, expect, it } from 'vitest';
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
  ])('fails at start-up on %s with a message naming the option', (_name, patch, message) => {
    expect(() => createBff({ ...good, ...patch } as never)).toThrow(ConfigurationError);
    expect(() => createBff({ ...good, ...patch } as never)).toThrow(message);
  });

  it('accepts a password map for key rotation', () => {
    expect(() => createBff({ ...good, cookieSecret: { 2: `${good.cookieSecret}-new`, 1: good.cookieSecret } })).not.toThrow();
  });
});

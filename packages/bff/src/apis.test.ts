import { describe, expect, it } from 'vitest';
import { resolveApis, type ApiConfig } from './apis.js';
import { resolveConfig } from './config.js';
import { ConfigurationError } from './errors.js';
import { proxiedLocation, proxyTarget } from './proxyPath.js';
import { good } from './test/goodConfig.js';

const api = (patch: Partial<ApiConfig> = {}) => ({ notes: { url: 'https://api.example/v1', ...patch } });

describe('resolveApis()', () => {
  it.each<[string, unknown, unknown, RegExp]>([
    ['a name with a dot', { 'a.b': { url: 'https://api.example/' } }, undefined, /API names must match .* got "a\.b"/],
    ['a name starting with "_"', { __x: { url: 'https://api.example/' } }, undefined, /got "__x"/],
    ['a relative URL', api({ url: '/v1' }), undefined, /"apis\.notes"\.url must be an absolute URL, got "\/v1"/],
    ['an http URL off this machine', api({ url: 'http://api.example/' }), undefined, /must use https: .* got "http:\/\/api\.example\/"/],
    ['credentials in the URL', api({ url: 'https://u:p@api.example/' }), undefined, /must not carry credentials/],
    ['a query in the URL', api({ url: 'https://api.example/v1?key=1' }), undefined, /no query or fragment, got "https:\/\/api\.example\/v1\?key=1"/],
    ['a fragment in the URL', api({ url: 'https://api.example/v1#x' }), undefined, /no query or fragment/],
    ['a bare "?" in the URL', api({ url: 'https://api.example/v1?' }), undefined, /no query or fragment/],
    ['a lower-case method', api({ methods: ['get'] }), undefined, /methods: each must be one of .* got "get"/],
    ['TRACE', api({ methods: ['TRACE'] }), undefined, /got "TRACE"/],
    ['no methods', api({ methods: [] }), undefined, /must list at least one method, got \[\]/],
    ['a forbidden header', api({ headers: ['cookie'] }), undefined, /may not list "cookie"/],
    ['x-forwarded-for as a header', api({ headers: ['x-forwarded-for'] }), undefined, /may not list "x-forwarded-for"/],
    ['an upper-case header', api({ headers: ['X-Id'] }), undefined, /"X-Id" is not allowed/],
    ['a zero timeout', api({ timeoutMs: 0 }), undefined, /timeoutMs must be a whole number of at least 1, got 0/],
    ['a fractional body limit', api({ maxBodyBytes: 1.5 }), undefined, /maxBodyBytes .* got 1\.5/],
    ['an empty audience', api({ audience: ' ' }), undefined, /audience must be a non-empty string/],
    ['an unknown mode', undefined, 'tokens', /"mode" must be "token", "proxy" or "both", got "tokens"/],
    ['proxy mode without APIs', undefined, 'proxy', /"mode" is "proxy" but no "apis"/],
    ['token mode with APIs', api(), 'token', /"mode" is "token" but "apis" lists "notes"/],
  ])('refuses %s, quoting it', (_name, apis, mode, message) => {
    expect(() => resolveApis(apis as never, mode as never)).toThrow(ConfigurationError);
    expect(() => resolveApis(apis as never, mode as never)).toThrow(message);
  });

  it('defaults: token without APIs, proxy with them; GET only; base path ending in "/"; http on loopback', () => {
    expect(resolveApis(undefined, undefined).mode).toBe('token');
    const { apis, mode } = resolveApis({ ...api(), local: { url: 'http://127.0.0.1:8080' } }, undefined);
    expect(mode).toBe('proxy');
    expect(apis.notes).toMatchObject({ url: 'https://api.example/v1/', methods: ['GET'], timeoutMs: 30_000, maxBodyBytes: 1024 * 1024 });
    expect(apis.local!.url).toBe('http://127.0.0.1:8080/');
    expect(Object.getPrototypeOf(apis)).toBeNull();
    expect(resolveConfig({ ...good, ...{ apis: api(), mode: 'both' } }).mode).toBe('both');
  });
});

describe('proxyTarget()', () => {
  const notes = resolveApis(api(), undefined).apis.notes!;
  it('appends the path below the base and passes the query through', () => {
    expect(proxyTarget(notes, '/items/1', '?a=1&b=%20').href).toBe('https://api.example/v1/items/1?a=1&b=%20');
    expect(proxyTarget(notes, '', '').href).toBe('https://api.example/v1/');
    expect(proxyTarget(notes, '/a%20b/', '').href).toBe('https://api.example/v1/a%20b/');
  });
  it.each(['/..', '/a/..', '/.', '/%2e%2e', '/a%2fb', '/a%5cb', '/a\\b', '//x', '/a//b', '/@x', '/%40x', '/%252e', '/%00', '/%0a', '/%EF%BC%8E%EF%BC%8E', '/..;x', '/%zz', 'x', '/a#frag', '/a?x=1', '/a b'])(
    'refuses %j',
    (rest) => expect(() => proxyTarget(notes, rest, '')).toThrow(expect.objectContaining({ code: 'invalid_proxy_path', status: 400 })),
  );
  it('rewrites a Location under the base to the proxy path, and nothing else', () => {
    const at = new URL('https://api.example/v1/items');
    expect(proxiedLocation(notes, '/v1/items/2?x=1', at, '/api/auth/proxy/notes')).toBe('/api/auth/proxy/notes/items/2?x=1');
    expect(proxiedLocation(notes, 'https://api.example/v1', at, '/p')).toBe('/p');
    for (const location of ['https://evil.example/v1/x', '//evil.example/v1/', '/v2/x', '/v1x', 'https://u@api.example/v1/x', 'http://api.example/v1/x']) {
      expect(proxiedLocation(notes, location, at, '/p'), location).toBeUndefined();
    }
  });
});

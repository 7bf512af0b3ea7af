import { describe, expect, it } from 'vitest';
import { createBff } from './createBff.js';
import { safeReturnTo } from './returnTo.js';

// No provider is needed for these: every request here is refused before one would be called.
const APP = 'https://app.example';
const bff = createBff({
  issuer: 'https://idp.invalid/',
  clientId: 'c',
  clientSecret: 's',
  appOrigin: APP,
  cookieSecret: 'a-perfectly-random-secret-of-more-than-32-chars',
  onEvent: () => {},
  fetch: async () => {
    throw new TypeError('no network in this test');
  },
});

const goodPost = { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };
const post = (path: string, headers: Record<string, string>, body = '{}') =>
  bff.handle(new Request(`${APP}/api/auth/${path}`, { method: 'POST', headers, body }));

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await response.json();
  expect(body.error).toBe(code);
  expect(typeof body.error_description).toBe('string');
  expect(body.error_description.length).toBeGreaterThan(5);
}

describe('CSRF gate on POST', () => {
  it.each([
    ['no x-latchkey header', { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }],
    ['x-latchkey other than 1', { ...goodPost, 'x-latchkey': 'true' }],
    ['a simple form content type', { ...goodPost, 'content-type': 'application/x-www-form-urlencoded' }],
    ['text/plain', { ...goodPost, 'content-type': 'text/plain' }],
    ['no content type', { 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' }],
    ['cross-site Fetch Metadata', { ...goodPost, 'sec-fetch-site': 'cross-site' }],
    ['same-site (a sibling subdomain)', { ...goodPost, 'sec-fetch-site': 'same-site' }],
    ['no Fetch Metadata and no Origin', { 'content-type': 'application/json', 'x-latchkey': '1' }],
    ['no Fetch Metadata and a foreign Origin', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'https://evil.example' }],
  ])('refuses %s with 403 csrf_rejected', async (_name, headers) => {
    await expectError(await post('token', headers), 403, 'csrf_rejected');
    await expectError(await post('logout', headers), 403, 'csrf_rejected');
  });

  it('reports each refusal as csrf_rejected with the path and why, for the operators', async () => {
    const events: unknown[] = [];
    const watched = createBff({ issuer: 'https://idp.invalid/', clientId: 'c', clientSecret: 's', appOrigin: APP, cookieSecret: 'a-perfectly-random-secret-of-more-than-32-chars', onEvent: (event) => events.push(event) });
    await watched.handle(new Request(`${APP}/api/auth/logout`, { method: 'POST', headers: { ...goodPost, 'sec-fetch-site': 'cross-site' }, body: '{}' }));
    expect(events).toContainEqual({ type: 'csrf_rejected', path: '/api/auth/logout', reason: expect.stringMatching(/cross-site|site/i) });
  });

  it('accepts an Origin equal to the app origin when Fetch Metadata is absent', async () => {
    await expectError(await post('token', { 'content-type': 'application/json', 'x-latchkey': '1', origin: APP }), 401, 'login_required');
  });
});

describe('POST /token without a usable session', () => {
  it('answers 401 login_required with no cookie at all, and sets none', async () => {
    const response = await post('token', goodPost);
    await expectError(response, 401, 'login_required');
    expect(response.headers.getSetCookie()).toEqual([]);
  });
  it.each(['garbage', 'Fe26.2*1*aaa*bbb', 'x'.repeat(9000), '%00%ff'])('answers 401 login_required and clears a cookie that cannot be opened: %s', async (value) => {
    const response = await post('token', { ...goodPost, cookie: `__Host-latchkey=${value.slice(0, 100)}` });
    await expectError(response, 401, 'login_required');
    expect(response.headers.getSetCookie()[0]).toMatch(/^__Host-latchkey=; Path=\/; Max-Age=0/);
  });
  it.each([
    ['not JSON', '{', 400, 'invalid_request'],
    ['a JSON array', '[]', 400, 'invalid_request'],
    ['a negative minValidity', '{"minValidity":-1}', 400, 'invalid_request'],
    ['a string minValidity', '{"minValidity":"60"}', 400, 'invalid_request'],
    ['a huge body', `{"x":"${'a'.repeat(5000)}"}`, 413, 'payload_too_large'],
  ])('answers %s with a 4xx JSON error', async (_name, body, status, code) => {
    await expectError(await post('token', goodPost, body), status, code);
  });
});

describe('routing', () => {
  it('answers an unknown route with 404 not_found', async () => {
    await expectError(await bff.handle(new Request(`${APP}/api/auth/nope`)), 404, 'not_found');
    await expectError(await bff.handle(new Request(`${APP}/api/auth/__proto__`)), 404, 'not_found');
  });
  it.each([
    ['GET', 'token'],
    ['GET', 'logout'],
    ['POST', 'login'],
    ['PUT', 'token'],
    ['DELETE', 'session'],
  ])('answers %s /%s with 405 and an Allow header', async (method, path) => {
    const response = await bff.handle(new Request(`${APP}/api/auth/${path}`, { method, headers: goodPost, ...(method === 'GET' ? {} : { body: '{}' }) }));
    await expectError(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toMatch(/^(GET|POST)$/);
  });
  it('answers GET /session with authenticated: false and no token when signed out', async () => {
    const response = await bff.handle(new Request(`${APP}/api/auth/session`));
    expect(await response.json()).toEqual({ authenticated: false });
  });
});

describe('GET /login', () => {
  it.each(['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', 'notes', '/\t/evil.example', '/\n/evil.example'])(
    'refuses returnTo=%j with 400 invalid_return_to',
    async (returnTo) => {
      const response = await bff.handle(new Request(`${APP}/api/auth/login?returnTo=${encodeURIComponent(returnTo)}`));
      await expectError(response, 400, 'invalid_return_to');
    },
  );
  it('answers 503 upstream_unavailable with Retry-After when the provider cannot be reached', async () => {
    const response = await bff.handle(new Request(`${APP}/api/auth/login?returnTo=/notes`));
    await expectError(response, 503, 'upstream_unavailable');
    expect(response.headers.get('retry-after')).toBe('5');
  });
});

describe('GET /callback without a transaction', () => {
  it('answers 400 missing_transaction with Referrer-Policy: no-referrer and no session cookie', async () => {
    const response = await bff.handle(new Request(`${APP}/api/auth/callback?code=abc&state=def`));
    await expectError(response, 400, 'missing_transaction');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.getSetCookie().some((c) => c.startsWith('__Host-latchkey='))).toBe(false);
  });
});

describe('safeReturnTo()', () => {
  it('keeps paths, queries and fragments on the app origin', () => {
    expect(safeReturnTo('/notes?x=1#top', APP)).toBe('/notes?x=1#top');
    expect(safeReturnTo(null, APP)).toBe('/');
  });
});

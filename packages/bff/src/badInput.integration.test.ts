import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, startHarness, type Harness } from './test/harness.js';

/**
 * Every route fed malformed, oversized, tampered and wrong-method requests, each with a valid
 * session cookie alongside (tampered cases send a forgery of it instead). Each must answer 4xx with the JSON
 * error body, never 5xx, and must not end or clear the valid session. Every case is its own
 * test with its own freshly signed-in session, so no case leans on another having run first
 * (`vitest --sequence.shuffle` runs them in any order).
 */
interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Cookie header to send instead, made from this test's valid session cookie (tampered cookies). */
  cookie?: (valid: string) => string;
}

const JSON_POST = { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };

function csrfCases(): Case[] {
  const variants: [string, Record<string, string>][] = [
    ['no x-latchkey', { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }],
    ['x-latchkey: true', { ...JSON_POST, 'x-latchkey': 'true' }],
    ['x-latchkey: 0', { ...JSON_POST, 'x-latchkey': '0' }],
    ['x-latchkey empty', { ...JSON_POST, 'x-latchkey': '' }],
    ['x-latchkey: 1, 1', { ...JSON_POST, 'x-latchkey': '1, 1' }],
    ['form content type', { ...JSON_POST, 'content-type': 'application/x-www-form-urlencoded' }],
    ['multipart content type', { ...JSON_POST, 'content-type': 'multipart/form-data; boundary=x' }],
    ['text/plain', { ...JSON_POST, 'content-type': 'text/plain' }],
    ['text/plain carrying JSON', { ...JSON_POST, 'content-type': 'text/plain;application/json' }],
    ['application/jsonp', { ...JSON_POST, 'content-type': 'application/jsonp' }],
    ['application/json-patch+json', { ...JSON_POST, 'content-type': 'application/json-patch+json' }],
    ['no content type', { 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' }],
    ['Sec-Fetch-Site: cross-site', { ...JSON_POST, 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { ...JSON_POST, 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site: none', { ...JSON_POST, 'sec-fetch-site': 'none' }],
    ['Sec-Fetch-Site garbage', { ...JSON_POST, 'sec-fetch-site': 'same-origin-ish' }],
    ['no Fetch Metadata, no Origin', { 'content-type': 'application/json', 'x-latchkey': '1' }],
    ['no Fetch Metadata, Origin null', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'null' }],
    ['no Fetch Metadata, foreign Origin', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'https://evil.example' }],
    ['no Fetch Metadata, Origin with path', { 'content-type': 'application/json', 'x-latchkey': '1', origin: `${APP}/` }],
    ['no Fetch Metadata, other port', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'http://localhost:3001' }],
    ['no Fetch Metadata, https scheme', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'https://localhost:3000' }],
    ['no Fetch Metadata, subdomain', { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'http://evil.localhost:3000' }],
  ];
  return ['token', 'logout'].flatMap((route) =>
    variants.map(([name, headers]) => ({ name: `POST /${route}: ${name}`, method: 'POST', path: `/api/auth/${route}`, headers, body: '{}' })),
  );
}

function bodyCases(): Case[] {
  const bodies: [string, string | Uint8Array][] = [
    ['truncated JSON', '{'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON number', '1'],
    ['a JSON string', '"x"'],
    ['JSON true', 'true'],
    ['trailing garbage', '{}x'],
    ['single quotes', "{'minValidity':1}"],
    ['a BOM and garbage', '\ufeff{'],
    ['NUL bytes', '\u0000\u0000'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ['minValidity -1', '{"minValidity":-1}'],
    ['minValidity as a string', '{"minValidity":"60"}'],
    ['minValidity too large', '{"minValidity":86401}'],
    ['minValidity 1e309', '{"minValidity":1e309}'],
    ['minValidity an array', '{"minValidity":[60]}'],
    ['minValidity an object', '{"minValidity":{}}'],
    ['minValidity true', '{"minValidity":true}'],
    ['idle -5', '{"idle":-5}'],
    ['idle as a string', '{"idle":"5"}'],
    ['idle an object', '{"idle":{"$gt":0}}'],
    ['idle 1e309', '{"idle":1e309}'],
    ['deep nesting', `${'['.repeat(2000)}${']'.repeat(2000)}`],
    ['a 5 kB body', `{"x":"${'a'.repeat(5000)}"}`],
    ['a 1 MB body', `{"x":"${'a'.repeat(1_000_000)}"}`],
    ['a 64 kB run of spaces then JSON', `${' '.repeat(65_536)}{}`],
  ];
  const token = bodies.map(([name, body]) => ({ name: `POST /token body: ${name}`, method: 'POST', path: '/api/auth/token', headers: JSON_POST, body }));
  // Logout must refuse these before it signs anyone out.
  const logout = bodies
    .filter(([name]) => !/minValidity|idle/.test(name))
    .map(([name, body]) => ({ name: `POST /logout body: ${name}`, method: 'POST', path: '/api/auth/logout', headers: JSON_POST, body }));
  return [...token, ...logout];
}

function queryCases(): Case[] {
  const queries: [string, string, string?][] = [
    ['minValidity not a number', 'minValidity=abc'],
    ['minValidity -1', 'minValidity=-1'],
    ['minValidity too large', 'minValidity=86401'],
    ['minValidity empty', 'minValidity='],
    ['minValidity in exponent form', 'minValidity=1e3'],
    ['minValidity given twice', 'minValidity=1&minValidity=2'],
    ['idle not a number', 'idle=x'],
    ['idle -5', 'idle=-5'],
    ['an unknown parameter', 'idle=1&admin=1'],
    ['optional other than 1', 'optional=yes'],
    ['optional given twice', 'optional=1&optional=1'],
    ['__proto__', '__proto__=1'],
    ['parameters in both the query and the body', 'minValidity=1', '{"idle":1}'],
    ['query and an empty JSON object body', 'idle=1', '{}'],
  ];
  return queries.map(([name, query, body]) => ({
    name: `POST /token?${query}: ${name}`,
    method: 'POST',
    path: `/api/auth/token?${query}`,
    // As a server receives it: a request with a body says how long it is.
    headers: body === undefined ? JSON_POST : { ...JSON_POST, 'content-length': String(body.length) },
    ...(body !== undefined && { body }),
  }));
}

function methodCases(): Case[] {
  const routes: [string, string][] = [
    ['login', 'GET'],
    ['callback', 'GET'],
    ['token', 'POST'],
    ['logout', 'POST'],
    ['session', 'GET'],
  ];
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
  return routes.flatMap(([route, allowed]) =>
    methods
      .filter((m) => m !== allowed)
      .map((method) => ({
        name: `${method} /${route}`,
        method,
        path: `/api/auth/${route}`,
        headers: JSON_POST,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
      })),
  );
}

function pathCases(): Case[] {
  return [
    '/api/auth/nope',
    '/api/auth/',
    '/api/auth',
    '/api/auth/token/',
    '/api/auth/TOKEN',
    '/api/auth/token%00',
    '/api/auth/..%2ftoken',
    '/api/auth/%2e%2e/token',
    '/api/auth/__proto__',
    '/api/auth/constructor',
    '/api/auth/toString',
    '/api/auth/hasOwnProperty',
    '/api/auth/token/extra',
    '/api/authx/token',
    '/api/auth//token',
    `/api/auth/${'a'.repeat(5000)}`,
    '/api/auth/login/',
    '/api/auth/session/',
    '/api/auth/callback/extra',
    '/api/auth/.',
    '/api/auth/logout%2f',
    '/api/auth/Token',
  ].flatMap((path) => [
    { name: `GET ${path.slice(0, 60)}`, method: 'GET', path },
    { name: `POST ${path.slice(0, 60)}`, method: 'POST', path, headers: JSON_POST, body: '{}' },
  ]);
}

function returnToCases(): Case[] {
  return [
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'https://evil.example/',
    'http://localhost:3000.evil.example/',
    'javascript:alert(1)',
    'data:text/html,x',
    'notes',
    '.',
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r/evil.example',
    '/%09/evil.example'.replace('%09', '\t'),
    '/\u0000',
    '/\u007f',
    `/${'a'.repeat(3000)}`,
    ' /notes',
    'HTTPS://evil.example',
    '//%65vil.example',
    '/\\/evil.example',
    '\t//evil.example',
    'ftp://evil.example/',
    'mailto:someone@evil.example',
    '//evil.example/%2e%2e',
    // Back into the BFF: sign-in would land on sign-in again, for ever.
    '/api/auth/login',
    '/api/auth/login?returnTo=/api/auth/login',
    '/api/auth',
    '/x/../api/auth/logout',
    '/api/%61uth/login',
  ].map((returnTo) => ({
    name: `GET /login?returnTo=${JSON.stringify(returnTo).slice(0, 50)}`,
    method: 'GET',
    path: `/api/auth/login?returnTo=${encodeURIComponent(returnTo)}`,
  }));
}

function tamperedCookieCases(): Case[] {
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const values: [string, (valid: string) => string][] = [
    ['one character flipped in the middle', (v) => flip(v, Math.floor(v.length / 2))],
    ['one character flipped near the end', (v) => flip(v, v.length - 3)],
    ['truncated by half', (v) => v.slice(0, Math.floor(v.length / 2))],
    ['truncated by one', (v) => v.slice(0, -1)],
    ['MAC replaced by another of the same length', (v) => v.replace(/\*[^*]+$/, `*${'A'.repeat(43)}`)],
    ['seal of another format', (v) => v.replace('Fe26.2', 'Fe26.1')],
    ['password id changed', (v) => v.replace(/^Fe26\.2\*\d+\*/, 'Fe26.2*9*')],
    ['expiry pushed a year ahead', (v) => v.split('*').map((part, i) => (i === 5 && part ? String(Number(part) + 31_536_000_000) : part)).join('*')],
    ['expiry removed', (v) => v.split('*').map((part, i) => (i === 5 ? '' : part)).join('*')],
    ['empty', () => ''],
    ['garbage', () => 'garbage'],
    ['percent-encoded garbage', () => '%00%ff%fe'],
    ['8,000 characters of garbage', () => 'x'.repeat(8000)],
    // Past the 8,192 characters the BFF will even try to open, and past what browsers keep per cookie.
    ['9,000 characters of garbage', () => 'x'.repeat(9000)],
    ['the valid seal padded to 9,000 characters', (v) => v + 'A'.repeat(9000 - v.length)],
    ['a JSON session in clear', () => JSON.stringify({ fid: 'x', v: 1, rt: 'rt', user: { sub: 'alice' }, ca: 1 })],
  ];
  return values.map(([name, value]) => ({
    name: `POST /token with a tampered cookie: ${name}`,
    method: 'POST',
    path: '/api/auth/token',
    headers: JSON_POST,
    body: '{}',
    cookie: (valid: string) => {
      expect(valid.split('*'), 'a sealed cookie is Fe26.2*id*salt*iv*data*expiry*macSalt*mac').toHaveLength(8);
      return `__Host-latchkey=${value(valid)}`;
    },
  }));
}

function callbackCases(): Case[] {
  return [
    ['no parameters', ''],
    ['code only', '?code=abc'],
    ['state only', '?state=abc'],
    ['huge state', `?code=a&state=${'s'.repeat(10_000)}`],
    ['duplicated state', '?code=a&state=x&state=y'],
    ['foreign iss', '?code=a&state=x&iss=https%3A%2F%2Fevil.example'],
    ['percent garbage', '?code=%ff%fe&state=%00'],
  ].map(([name, query]) => ({ name: `GET /callback without a transaction: ${name}`, method: 'GET', path: `/api/auth/callback${query}` }));
}

let h: Harness;
beforeAll(async () => {
  // Rate limits stay at their defaults: each test signs in its own session family.
  h = await startHarness();
});
afterAll(() => h.close());

const cases = (): Case[] => [...csrfCases(), ...bodyCases(), ...queryCases(), ...methodCases(), ...pathCases(), ...returnToCases(), ...callbackCases()];

describe('bad input', () => {
  it.each(cases().map((c) => [c.name, c] as const))('%s → 4xx JSON error, session untouched', async (_name, c) => {
    const valid = await h.signIn();
    await expectClean(await send(c, valid), c);
    await expectAlive(valid, c);
  });

  it.each(tamperedCookieCases().map((c) => [c.name, c] as const))('%s → 401 login_required, and the valid session it imitates lives on', async (_name, c) => {
    const valid = await h.signIn();
    const response = await send(c, valid);
    expect(response.status, c.name).toBe(401);
    expect(await response.json(), c.name).toMatchObject({ error: 'login_required', error_description: expect.any(String) });
    await expectAlive(valid, c);
  });
});

async function send(c: Case, valid: string): Promise<Response> {
  const headers = new Headers(c.headers);
  const cookie = c.cookie ? c.cookie(valid) : `__Host-latchkey=${valid}`;
  if (cookie !== undefined) headers.set('cookie', cookie);
  const request = new Request(`${APP}${c.path}`, { method: c.method, headers, ...(c.body !== undefined && { body: c.body as BodyInit }) });
  // What the BFF is handed is the case itself, byte for byte: nothing on the way shortened it.
  expect(request.headers.get('cookie')?.length, `${c.name}: characters of Cookie sent`).toBe(cookie?.length);
  expect(request.headers.get('cookie') ?? undefined, c.name).toBe(cookie);
  return h.bff.handle(request);
}

async function expectClean(response: Response, c: Case) {
  expect(response.status, c.name).toBeGreaterThanOrEqual(400);
  expect(response.status, c.name).toBeLessThan(500);
  if (c.method !== 'HEAD') {
    expect(response.headers.get('content-type'), c.name).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: unknown; error_description: unknown };
    expect(typeof body.error, c.name).toBe('string');
    expect(typeof body.error_description, c.name).toBe('string');
  }
  // The valid session sent alongside is not cleared or replaced...
  expect(response.headers.getSetCookie().some((line) => line.startsWith('__Host-latchkey=')), c.name).toBe(false);
}

/** ...nor ended behind the cookie's back: the session still gets a token afterwards. */
async function expectAlive(valid: string, c: Case) {
  const response = await h.token(valid);
  expect(response.status, `${c.name}: the valid session afterwards`).toBe(200);
  expect(await response.json()).toMatchObject({ tokenType: 'Bearer', user: { sub: 'alice' } });
}

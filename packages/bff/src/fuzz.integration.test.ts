import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserNavigation } from './routes/login.js';
import { APP, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

/**
 * Property-based fuzz of every route: fast-check generates whole requests (method, path, query,
 * headers, cookies, body) and sends them straight to `bff.handle()` of an in-process BFF on the
 * real dev provider. Properties, for every request:
 *
 * 1. no status is 5xx;
 * 2. every 4xx is a JSON `{error, error_description}` with string values;
 * 3. every redirect's Location is on the app origin or the provider's issuer origin;
 * 4. a request that carries the valid session cookie neither clears nor replaces it (no
 *    `Set-Cookie: __Host-latchkey=…`), and no request ends it behind its back (`GET /session`
 *    still says authenticated) — legitimate sign-outs, token calls and sign-ins get sessions of
 *    their own instead (see {@link legitimate});
 *
 * and after each route's run the valid session still gets a 200 from `POST /token`.
 *
 * Some callbacks start with a generated `GET /login?returnTo=…` and come back with its state and
 * a provider `error=`, so whatever returnTo /login lets through meets the callback's redirect.
 *
 * Runs are reproducible: the seed is printed, and `LATCHKEY_FUZZ_SEED=<n>` replays another one
 * (`LATCHKEY_FUZZ_RUNS=<n>` changes the runs per route). A failure is shrunk by fast-check and
 * reported with the request spelled out. Rate limits are off for this BFF (`rateLimits: false`):
 * one client sends thousands of requests, and a 429 would hide what lies behind it.
 */

const SEED = Number(process.env.LATCHKEY_FUZZ_SEED ?? 20_251_201);
/** Runs per route group; six groups, so at least 10,200 generated requests in all. */
const RUNS = Number(process.env.LATCHKEY_FUZZ_RUNS ?? 1_700);
const SESSION = '__Host-latchkey';

// ---------------------------------------------------------------------------------------------
// What a generated request is made of. Plain data, so fast-check prints and shrinks it; secrets
// (seals, codes) are symbolic and filled in from the world when the request is built.
// ---------------------------------------------------------------------------------------------

type Encoding = 'raw' | 'component' | 'double' | 'slashes' | 'plus';
/** A query value, or a reference to the real code, state or issuer of this run's sign-in. */
type QueryValue = string | { real: 'code' | 'state' | 'iss' };
interface QueryParam {
  key: string;
  value: QueryValue | null;
  encode: Encoding;
}
/** A cookie value: one of the world's real seals, or made from one, or made up. */
type SealValue =
  | { as: 'real' }
  | { as: 'tampered'; at: number; char: string }
  | { as: 'truncated'; keep: number }
  | { as: 'padded'; to: number }
  | { as: 'huge'; size: number; char: string }
  | { as: 'text'; text: string };
type CookieEntry =
  /** `__Host-latchkey` (or a near miss of the name) holding the valid session, a spare one, or something made of them. */
  | { kind: 'session'; name: string; of: 'valid' | 'spare'; value: SealValue }
  /** This run's transaction cookie, or another sign-in's, as is or mangled. */
  | { kind: 'tx'; of: 'this' | 'other'; value: SealValue }
  | { kind: 'other'; pair: string };
type BodySpec =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'repeat'; prefix: string; char: string; size: number; suffix: string };
type RealParam = 'code' | 'state' | 'iss' | 'error';
/** The headers the BFF's gates read (CSRF, Fetch Metadata of a navigation), each present or not, mostly right when present. */
type GateHeaders = Partial<Record<'x-latchkey' | 'content-type' | 'sec-fetch-site' | 'origin' | 'sec-fetch-mode' | 'sec-fetch-dest', string>>;

interface Spec {
  method: string;
  path: string;
  query: QueryParam[];
  /**
   * Start the query with these of the provider's parameters for this run's sign-in: its real
   * `code`, `state` and `iss` (and an `error=access_denied`), or each with an empty value; in this
   * order, repeats allowed.
   */
  realCallback: { key: RealParam; empty: boolean }[];
  /**
   * Callbacks only: first start a sign-in with `GET /login?returnTo=…` and answer as the provider
   * would for it (its state, no valid code), so whatever returnTo /login let through meets the
   * callback's redirect.
   */
  loginFirst: { returnTo: string; encode: Encoding } | null;
  gate: GateHeaders;
  headers: [string, string][];
  cookies: CookieEntry[];
  cookieSeparator: string;
  /** Send the cookies as two `Cookie` headers. */
  splitCookies: boolean;
  body: BodySpec;
  /** Which pooled sign-in this run's `{real: …}` values and `this` transaction refer to. */
  signIn: number;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------

/** Latin-1 without NUL, CR and LF: what a header value may carry. */
const headerChar = fc.integer({ min: 1, max: 255 }).filter((c) => c !== 10 && c !== 13).map((c) => String.fromCharCode(c));
const headerText = fc.string({ unit: headerChar, maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
const token = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);

const RETURN_TO = [
  '/notes', '/', '', '/notes?tab=1&x=%2F', '/notes#frag', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example',
  '/\\/evil.example', '\\/evil.example', 'https://evil.example/', 'HTTPS://evil.example', 'http://localhost:3000/notes',
  'http://localhost:3000.evil.example/', 'http://localhost:3000@evil.example/', 'javascript:alert(1)', 'data:text/html,x',
  'notes', '.', '..', '/./../..//evil.example', '/notes/../../x', '/%2e%2e/%2e%2e/etc', '/..%2f..%2fevil.example',
  '/%2f%2fevil.example', '/%5cevil.example', '//%65vil.example', '/%09/evil.example', '/\t/evil.example', '/\n/evil.example',
  '/\r/evil.example', '\t//evil.example', ' /notes', '/\u0000', '/\u007f', '/\u0085', '/\u2028', '/\ufeff', '/é', '/😀',
  'mailto:x@evil.example', '/api/auth/logout', '/api/auth/callback?code=x',
];
const returnTo = fc.oneof(
  { arbitrary: fc.constantFrom(...RETURN_TO), weight: 4 },
  { arbitrary: fc.tuple(fc.constantFrom('/', '//', '/\\', '\\', '/./', '/../', '/%2e/', 'http://', ''), anyText).map(([a, b]) => a + b), weight: 2 },
  { arbitrary: fc.integer({ min: 1900, max: 3000 }).map((n) => `/${'a'.repeat(n)}`), weight: 1 },
);
const queryValue: fc.Arbitrary<QueryValue> = fc.oneof(
  fc.constantFrom<QueryValue>({ real: 'code' }, { real: 'state' }, { real: 'iss' }),
  returnTo,
  anyText,
  fc.constantFrom('', 'access_denied', 'login_required', 'server_error', 'invalid_request', 'https://evil.example', '%ff%fe', '%00', '%', '+'),
  fc.integer({ min: 2000, max: 12_000 }).map((n) => 's'.repeat(n)),
);
const encoding = fc.constantFrom<Encoding>('raw', 'component', 'double', 'slashes', 'plus');
const param = (keys: fc.Arbitrary<string>): fc.Arbitrary<QueryParam> =>
  fc.record({ key: keys, value: fc.option(queryValue, { freq: 5, nil: null }), encode: encoding });
const callbackKeys = fc.oneof(
  { arbitrary: fc.constantFrom('code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state', 'response', 'returnTo'), weight: 5 },
  { arbitrary: token, weight: 1 },
);
const loginKeys = fc.oneof({ arbitrary: fc.constant('returnTo'), weight: 5 }, { arbitrary: fc.constantFrom('returnto', 'return_to', 'code', 'state'), weight: 1 }, { arbitrary: token, weight: 1 });
const anyKeys = fc.oneof(fc.constantFrom('returnTo', 'code', 'state', 'error', 'minValidity', '__proto__'), token);

const sealValue: fc.Arbitrary<SealValue> = fc.oneof(
  { arbitrary: fc.constant<SealValue>({ as: 'real' }), weight: 6 },
  { arbitrary: fc.record({ as: fc.constant('tampered' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), char: fc.constantFrom('A', '*', '0', '~', '%', ' ', '"') }), weight: 2 },
  { arbitrary: fc.record({ as: fc.constant('truncated' as const), keep: fc.double({ min: 0, max: 1, noNaN: true }) }), weight: 2 },
  { arbitrary: fc.record({ as: fc.constant('padded' as const), to: fc.constantFrom(4097, 8192, 8193, 9000, 16_000) }), weight: 1 },
  { arbitrary: fc.record({ as: fc.constant('huge' as const), size: fc.constantFrom(4096, 8192, 8193, 9000, 20_000), char: fc.constantFrom('x', '*', '%') }), weight: 1 },
  { arbitrary: fc.record({ as: fc.constant('text' as const), text: fc.oneof(fc.constantFrom('', 'Fe26.2*1*****', 'Fe26.2', '%00%ff', '""', 'undefined'), headerText.filter((s) => !/[;,]/.test(s))) }), weight: 1 },
);
const cookieEntry: fc.Arbitrary<CookieEntry> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      name: fc.oneof({ arbitrary: fc.constant(SESSION), weight: 12 }, { arbitrary: fc.constantFrom('__host-latchkey', 'latchkey', '__Host-latchkey-tx', '__Secure-latchkey', ' __Host-latchkey'), weight: 1 }),
      of: fc.oneof({ arbitrary: fc.constant('valid' as const), weight: 4 }, { arbitrary: fc.constant('spare' as const), weight: 1 }),
      value: sealValue,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('tx' as const), of: fc.constantFrom('this' as const, 'other' as const), value: sealValue }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('other' as const), pair: fc.oneof(fc.tuple(token, headerText).map(([k, v]) => `${k}=${v}`), headerText) }), weight: 1 },
);

const HEADER_VALUES: Record<string, readonly string[]> = {
  'x-latchkey': ['1', '0', 'true', '', ' 1 ', '1, 1', '11', 'yes'],
  'content-type': [
    'application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;', 'text/plain', 'text/plain; application/json',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-patch+json',
    'application/vnd.api+json', ' application/json ', 'application/json, text/plain', 'text/plain;charset=UTF-8', '',
  ],
  'content-length': ['0', '1', '2', '4096', '4097', '99999999', '-1', 'abc', '1e9', ' 5', '', '18446744073709551616'],
  'sec-fetch-site': ['same-origin', 'same-site', 'cross-site', 'none', 'SAME-ORIGIN', 'same-origin, cross-site', ''],
  'sec-fetch-mode': ['cors', 'navigate', 'no-cors', 'same-origin', 'websocket'],
  'sec-fetch-dest': ['document', 'empty', 'iframe', 'image', 'script'],
  'sec-purpose': ['prefetch', 'prefetch;prerender'],
  origin: [APP, 'null', 'https://evil.example', `${APP}/`, 'http://localhost:3001', 'https://localhost:3000', 'http://evil.localhost:3000', 'HTTP://LOCALHOST:3000', ''],
  referer: [`${APP}/notes`, 'https://evil.example/'],
  'x-forwarded-for': ['1.2.3.4', '1.2.3.4, 5.6.7.8', '', 'garbage', '::1', '999.999.999.999', Array.from({ length: 200 }, (_, i) => `10.0.0.${i % 256}`).join(', ')],
  'x-forwarded-host': ['evil.example', 'localhost:3000', ''],
  'x-forwarded-proto': ['https', 'http', 'gopher'],
  forwarded: ['for=1.2.3.4;host=evil.example;proto=https'],
  host: ['evil.example', 'localhost:3000', ''],
  accept: ['application/json', 'text/html', '*/*'],
  authorization: ['Bearer x', 'Basic Zm9vOmJhcg==', ''],
  'transfer-encoding': ['chunked', 'gzip'],
};
/** Right and wrong values of the gate's headers, each independently, so every mix of them comes up. */
const gate: fc.Arbitrary<GateHeaders> = fc.record(
  {
    'x-latchkey': fc.oneof({ arbitrary: fc.constant('1'), weight: 4 }, fc.constantFrom(...HEADER_VALUES['x-latchkey']!)),
    'content-type': fc.oneof({ arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'), weight: 3 }, fc.constantFrom(...HEADER_VALUES['content-type']!)),
    'sec-fetch-site': fc.oneof({ arbitrary: fc.constant('same-origin'), weight: 3 }, fc.constantFrom(...HEADER_VALUES['sec-fetch-site']!)),
    origin: fc.oneof({ arbitrary: fc.constant(APP), weight: 3 }, fc.constantFrom(...HEADER_VALUES.origin!)),
    'sec-fetch-mode': fc.constantFrom(...HEADER_VALUES['sec-fetch-mode']!),
    'sec-fetch-dest': fc.constantFrom(...HEADER_VALUES['sec-fetch-dest']!),
  },
  { requiredKeys: [] },
);
const extraHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(HEADER_VALUES)).chain((name) => fc.tuple(fc.constant(name), fc.oneof({ arbitrary: fc.constantFrom(...HEADER_VALUES[name]!), weight: 4 }, headerText))), weight: 5 },
  { arbitrary: fc.tuple(token.map((t) => `x-${t}`), headerText), weight: 1 },
);

const TOKEN_BODIES = [
  '{}', '{"minValidity":0}', '{"minValidity":60}', '{"minValidity":86400}', '{"minValidity":86401}', '{"minValidity":-1}', '{"minValidity":1e309}',
  '{"minValidity":-0}', '{"minValidity":"60"}', '{"minValidity":[60]}', '{"minValidity":{}}', '{"minValidity":null}', '{"minValidity":true}',
  '{"idle":0}', '{"idle":5}', '{"idle":-5}', '{"idle":"5"}', '{"idle":{"$gt":0}}', '{"idle":1e309}', '{"idle":null}',
  '{"__proto__":{"minValidity":99999}}', '{"constructor":{"prototype":{"x":1}}}', '{"minValidity":1,"minValidity":"x"}',
  'null', '[]', '"x"', '1', 'true', '{', '{}x', "{'minValidity':1}", '\ufeff{}', '\ufeff{', ' {} ', '\u00a0', '\u0000', '{"x":"\ud800"}',
];
const tokenBody = fc
  .record({ minValidity: fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double(), fc.string()), idle: fc.oneof(fc.integer({ min: -10, max: 10 }), fc.double(), fc.string()) }, { requiredKeys: [] })
  .map((o) => JSON.stringify(o));
const body: fc.Arbitrary<BodySpec> = fc.oneof(
  { arbitrary: fc.constant<BodySpec>({ kind: 'none' }), weight: 3 },
  { arbitrary: fc.oneof(fc.constantFrom(...TOKEN_BODIES), tokenBody, fc.json(), fc.string({ unit: 'binary', maxLength: 200 })).map((text): BodySpec => ({ kind: 'text', text })), weight: 8 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): BodySpec => ({ kind: 'bytes', bytes })), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      prefix: fc.constantFrom('', '{"x":"', '[', ' ', '{"minValidity":'),
      char: fc.constantFrom('a', ' ', '[', '0', '\u00ff'),
      size: fc.oneof(fc.integer({ min: 4000, max: 4200 }), fc.integer({ min: 4200, max: 1_100_000 })),
      suffix: fc.constantFrom('', '"}', ']', '}'),
    }),
    weight: 1,
  },
);

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get', 'post', 'Post', 'patch', 'PROPFIND', 'FOO'];
const method = (own: 'GET' | 'POST') => fc.oneof({ arbitrary: fc.constant(own), weight: 6 }, { arbitrary: fc.constantFrom(...METHODS), weight: 2 });

/** Paths onto a route: exact mostly, else spellings a URL parser may or may not fold onto it. */
const routePath = (route: string) =>
  fc.oneof(
    { arbitrary: fc.constant(`/api/auth/${route}`), weight: 12 },
    {
      arbitrary: fc.constantFrom(
        `/api/auth/${route}/`, `/api/auth/${route.toUpperCase()}`, `/api/auth/./${route}`, `/api/auth/x/../${route}`, `/api/auth/%2e/${route}`,
        `/api/auth/%2E%2E/auth/${route}`, `/api/auth//${route}`, `/api/auth\\${route}`, `/api/auth/${route}%2f`, `/api/auth/${route}%00`,
        `/api/auth/${route};x`, `/api/auth/${route}/extra`, `/api//auth/${route}`, `/API/auth/${route}`, `/api/auth/${encodeURIComponent(route)}%20`,
      ),
      weight: 3,
    },
  );
const unknownPath = fc.oneof(
  fc.constantFrom(
    '/', '/api', '/api/auth', '/api/auth/', '/api/authx/token', '/api/auth/nope', '/api/auth/__proto__', '/api/auth/constructor', '/api/auth/toString',
    '/api/auth/hasOwnProperty', '/api/auth/valueOf', '/api/auth/.', '/api/auth/..', '/api/auth/%2e%2e/token', '/api/auth/..%2ftoken',
    '/api/auth/token/..', '/api/auth/callback/extra', '/.well-known/openid-configuration', '/api/auth/%F0%9F%98%80',
  ),
  fc.tuple(fc.constantFrom('/api/auth/', '/api/auth//', '/', '/api/auth/x/'), anyText).map(([a, b]) => a + b),
  fc.integer({ min: 2000, max: 9000 }).map((n) => `/api/auth/${'a'.repeat(n)}`),
);

function specs(route: string, own: 'GET' | 'POST', path: fc.Arbitrary<string>, keys: fc.Arbitrary<string>): fc.Arbitrary<Spec> {
  return fc.record({
    method: method(own),
    path,
    query: fc.array(param(keys), { maxLength: route === 'login' || route === 'callback' ? 4 : 2 }),
    realCallback:
      route === 'callback'
        ? fc.oneof(
            fc.constant(['code', 'state', 'iss'].map((key) => ({ key: key as RealParam, empty: false }))),
            fc.constant(['state', 'iss', 'error'].map((key) => ({ key: key as RealParam, empty: false }))),
            {
              arbitrary: fc.array(
                fc.record({ key: fc.constantFrom<RealParam>('code', 'state', 'iss', 'error'), empty: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)) }),
                { minLength: 1, maxLength: 5 },
              ),
              weight: 3,
            },
          )
        : fc.constant([]),
    loginFirst: route === 'callback' ? fc.option(fc.record({ returnTo, encode: encoding }), { freq: 2, nil: null }) : fc.constant(null),
    gate,
    headers: fc.array(extraHeader, { maxLength: 4 }),
    // A callback mostly comes with its own transaction cookie, so that it gets past the first check.
    cookies: route === 'callback' ? fc.tuple(fc.option(fc.constant<CookieEntry>({ kind: 'tx', of: 'this', value: { as: 'real' } }), { freq: 3 }), fc.array(cookieEntry, { maxLength: 3 })).map(([tx, rest]) => (tx ? [tx, ...rest] : rest)) : fc.array(cookieEntry, { maxLength: 4 }),
    cookieSeparator: fc.constantFrom('; ', ';', ' ; ', ';;', '; ; '),
    splitCookies: fc.boolean(),
    body,
    signIn: fc.nat(),
  });
}

// ---------------------------------------------------------------------------------------------
// The world a run plays in: real sessions and real pending sign-ins on the real provider.
// ---------------------------------------------------------------------------------------------

/** The sessions and pending sign-ins of one route's run; spares are re-made when used up, within a budget. */
class World {
  readonly #h: Harness;
  /** The session every property protects. Changes only after a run that harmed it (which fails). */
  valid = '';
  readonly firstValid: Promise<string>;
  /** Any other real session: signed in over, signed out, whatever happens to it. */
  spare = '';
  /** Given to legitimate sign-outs, which end it; re-made while the budget lasts. */
  #logoutSession: string | undefined;
  /** Given to legitimate token calls; follows rotations as a browser would. */
  #tokenSession: string | undefined;
  #budget = 60;
  pending: { callbackUrl: string; txCookie: string; code: string; state: string; iss: string }[] = [];

  constructor(h: Harness) {
    this.#h = h;
    this.firstValid = h.signIn();
  }

  async setUp(pendingSignIns: number) {
    this.valid = await this.firstValid;
    this.spare = await this.#h.signIn('bob');
    for (let i = 0; i < pendingSignIns; i++) {
      const { callbackUrl, txCookie } = await this.#h.authorize();
      const url = new URL(callbackUrl);
      this.pending.push({ callbackUrl, txCookie, code: url.searchParams.get('code')!, state: url.searchParams.get('state')!, iss: url.searchParams.get('iss') ?? '' });
    }
  }

  async logoutSession() {
    this.#logoutSession ??= await this.#h.signIn();
    return this.#logoutSession;
  }
  async tokenSession() {
    this.#tokenSession ??= await this.#h.signIn();
    return this.#tokenSession;
  }
  /** After a legitimate sign-out or token call: follow the cookie it set, or sign in anew (within a budget) if it ended. */
  settle(kind: 'logout' | 'token', response: Response) {
    if (!response.headers.getSetCookie().some((line) => line.startsWith(`${SESSION}=`))) return;
    const value = sessionCookieFrom(response);
    if (kind === 'token' && value) {
      this.#tokenSession = value;
      return;
    }
    if (this.#budget <= 0) return; // keep using the ended one
    this.#budget--;
    if (kind === 'logout') this.#logoutSession = undefined;
    else this.#tokenSession = undefined;
  }
  async replaceValid() {
    this.valid = await this.#h.signIn();
  }
}

interface Built {
  request: Request;
  /** Human-readable request, seals and codes named instead of spelled out. */
  text: string;
  carriesValid: boolean;
  /** Carries the valid session's seal in any form, so it could end it (a mangled seal may still open). */
  touchesValid: boolean;
  legit?: 'logout' | 'token' | 'sign-in';
}

function sealOf(real: string, value: SealValue): string {
  switch (value.as) {
    case 'real':
      return real;
    case 'tampered': {
      const i = Math.min(real.length - 1, Math.floor(value.at * real.length));
      return real.slice(0, i) + (real[i] === value.char ? 'B' : value.char) + real.slice(i + 1);
    }
    case 'truncated':
      return real.slice(0, Math.floor(value.keep * real.length));
    case 'padded':
      return real + 'A'.repeat(Math.max(0, value.to - real.length));
    case 'huge':
      return value.char.repeat(value.size);
    case 'text':
      return value.text;
  }
}

function describeSeal(name: string, value: SealValue): string {
  return value.as === 'real' ? `<${name}>` : value.as === 'text' ? JSON.stringify(value.text) : `<${name} ${JSON.stringify(value).slice(1, -1)}>`;
}

function encode(value: string, how: Encoding): string {
  // encodeURIComponent throws on a lone surrogate; a browser would send U+FFFD for it.
  const well = value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  switch (how) {
    case 'raw':
      return value;
    case 'component':
      return encodeURIComponent(well);
    case 'double':
      return encodeURIComponent(encodeURIComponent(well));
    case 'slashes':
      return value.replace(/[/\\.]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    case 'plus':
      return encodeURIComponent(well).replace(/%20/g, '+');
  }
}

function bodyOf(spec: BodySpec): string | Uint8Array | undefined {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'text':
      return spec.text;
    case 'bytes':
      return spec.bytes;
    case 'repeat':
      return spec.prefix + spec.char.repeat(spec.size) + spec.suffix;
  }
}

/**
 * Design §3's CSRF gate, read generously: where the design leaves room (a `+json` type, letter
 * case) a request counts as passing, so that a session is only ever put at stake by requests
 * the BFF must refuse.
 */
function passesCsrf(request: Request): boolean {
  if (request.headers.get('x-latchkey') !== '1') return false;
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[^\s,]+\+json$/.test(type)) return false;
  const site = request.headers.get('sec-fetch-site');
  if (site !== null) return site.toLowerCase() === 'same-origin';
  return request.headers.get('origin')?.toLowerCase() === APP;
}

/** A `/token` body the design accepts (`{minValidity?, idle?}`), read generously too (`null` as absent). */
function isTokenBody(bytes: Uint8Array): boolean {
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') return true;
  try {
    const value: unknown = JSON.parse(text); // TextDecoder has dropped a BOM already
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const { minValidity, idle } = value as Record<string, unknown>;
    const numberOrNothing = (v: unknown) => v === undefined || v === null || typeof v === 'number';
    return numberOrNothing(minValidity) && numberOrNothing(idle);
  } catch {
    return false;
  }
}

/**
 * Which requests may legitimately end or replace the session they carry: a sign-out that passes
 * the CSRF gate, a token call that passes it with a usable body, and a callback that carries its
 * sign-in's code and state and (in any form) its transaction cookie. They are sent with sessions
 * of their own; every other request carries the valid session wherever the spec puts it.
 */
function legitimate(request: Request, bytes: Uint8Array, signIn: { code: string; state: string }, carriesItsTransaction: boolean): Built['legit'] {
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/api/auth/logout' && passesCsrf(request)) return 'logout';
  // A person following a sign-in link while signed in ends that session first (see routes/login.ts).
  if (request.method === 'GET' && url.pathname === '/api/auth/login' && isUserNavigation(request)) return 'logout';
  if (request.method === 'POST' && url.pathname === '/api/auth/token' && passesCsrf(request) && isTokenBody(bytes)) return 'token';
  if (url.searchParams.getAll('code').includes(signIn.code) && url.searchParams.getAll('state').includes(signIn.state) && carriesItsTransaction) {
    return 'sign-in';
  }
  return undefined;
}

type SignIn = World['pending'][number];

async function build(spec: Spec, world: World, started?: SignIn): Promise<Built> {
  const pooled = world.pending[spec.signIn % world.pending.length]!;
  const signIn = started ?? pooled;
  const other = world.pending[(spec.signIn + 1) % world.pending.length]!;
  const real = { code: signIn.code, state: signIn.state, iss: signIn.iss, error: 'access_denied' };

  const params: string[] = [];
  for (const { key, empty } of spec.realCallback) params.push(`${key}=${empty ? '' : encodeURIComponent(real[key])}`);
  for (const p of spec.query) {
    const value = p.value === null ? null : typeof p.value === 'string' ? p.value : real[p.value.real];
    params.push(value === null ? encode(p.key, p.encode) : `${encode(p.key, p.encode)}=${encode(value, p.encode)}`);
  }
  const url = `${APP}${spec.path}${params.length ? `?${params.join('&')}` : ''}`;

  const headers = new Headers();
  for (const [name, value] of Object.entries(spec.gate)) headers.set(name, value);
  for (const [name, value] of spec.headers) headers.append(name, value);

  const m = spec.method.toUpperCase();
  const raw = m === 'GET' || m === 'HEAD' ? undefined : bodyOf(spec.body);
  // The request once without cookies, to judge what it is; then with them.
  const bare = new Request(url, { method: spec.method, headers, ...(raw !== undefined && { body: raw as BodyInit }) });
  const bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : (raw ?? new Uint8Array());

  // Any form of its transaction cookie counts: whether a mangled seal still opens is the seal library's business.
  const legit = legitimate(bare, bytes, signIn, spec.cookies.some((c) => c.kind === 'tx' && c.of === 'this'));
  const validStandIn = legit === 'logout' ? await world.logoutSession() : legit === 'token' ? await world.tokenSession() : legit === 'sign-in' ? world.spare : world.valid;
  const standInName = legit === 'logout' ? 'logout session' : legit === 'token' ? 'token session' : legit === 'sign-in' ? 'spare session' : 'valid session';

  const pairs: string[] = [];
  const described: string[] = [];
  for (const c of spec.cookies) {
    if (c.kind === 'session') {
      const seal = c.of === 'valid' ? validStandIn : world.spare;
      pairs.push(`${c.name}=${sealOf(seal, c.value)}`);
      described.push(`${c.name}=${describeSeal(c.of === 'valid' ? standInName : 'spare session', c.value)}`);
    } else if (c.kind === 'tx') {
      const tx = c.of === 'this' ? signIn.txCookie : other.txCookie;
      const eq = tx.indexOf('=');
      pairs.push(`${tx.slice(0, eq)}=${sealOf(tx.slice(eq + 1), c.value)}`);
      const whose = c.of === 'other' ? "another sign-in's" : started ? "the /login above's" : "this sign-in's";
      described.push(`${tx.slice(0, eq)}=${describeSeal(`${whose} transaction`, c.value)}`);
    } else {
      pairs.push(c.pair);
      described.push(JSON.stringify(c.pair));
    }
  }
  const withCookies = new Headers(headers);
  if (pairs.length) {
    const half = spec.splitCookies ? Math.ceil(pairs.length / 2) : pairs.length;
    withCookies.append('cookie', pairs.slice(0, half).join(spec.cookieSeparator));
    if (half < pairs.length) withCookies.append('cookie', pairs.slice(half).join(spec.cookieSeparator));
  }
  const request = new Request(url, { method: spec.method, headers: withCookies, ...(raw !== undefined && { body: raw as BodyInit }) });
  const sent = request.headers.get('cookie') ?? '';
  const carriesValid = sent.split(';').some((part) => {
    const eq = part.indexOf('=');
    return eq !== -1 && part.slice(0, eq).trim() === SESSION && part.slice(eq + 1).trim() === world.valid;
  });

  const shown = (s: string) => (s.length > 300 ? `${JSON.stringify(s.slice(0, 300))}… (${s.length} characters)` : JSON.stringify(s));
  const bodyText =
    raw === undefined ? '(none)' : raw instanceof Uint8Array ? `bytes [${[...raw.slice(0, 64)].join(',')}${raw.length > 64 ? ', …' : ''}] (${raw.length} bytes)` : shown(raw);
  const text = [
    `${request.method} ${shown(url.slice(APP.length))}`,
    ...[...headers].map(([k, v]) => `  ${k}: ${shown(v)}`),
    ...(pairs.length ? [`  cookie${spec.splitCookies ? ' (two headers)' : ''}: ${described.join(spec.cookieSeparator)}   (${sent.length} characters)`] : []),
    `  body: ${bodyText}`,
    ...(legit ? [`  (a legitimate ${legit}: sent with the ${standInName}, not the valid one)`] : []),
  ].join('\n');
  const touchesValid = !legit && spec.cookies.some((c) => c.kind === 'session' && c.of === 'valid');
  return { request, text, carriesValid, touchesValid, ...(legit && { legit }) };
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

let h: Harness;
let issuerOrigin: string;
beforeAll(async () => {
  h = await startHarness({}, { rateLimits: false });
  issuerOrigin = new URL(h.idp.issuer).origin;
  // The BFF logs its own 500s; the fuzz reports them itself.
  console.info(`fuzz: seed ${SEED} (set LATCHKEY_FUZZ_SEED to change), ${RUNS} requests per route group, rate limits off`);
});
afterAll(() => h.close());

async function violations(built: Built, response: Response, world: World): Promise<string[]> {
  const found: string[] = [];
  const text = await response.text();
  const shown = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  if (response.status >= 500) found.push(`answered ${response.status} ${shown}`);
  if (response.status >= 400 && response.status < 500) {
    const type = response.headers.get('content-type') ?? '';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const ok = /^application\/json/.test(type) && typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' && typeof (body as { error_description?: unknown }).error_description === 'string';
    if (!ok) found.push(`answered ${response.status} without a JSON {error, error_description} (content-type ${JSON.stringify(type)}): ${JSON.stringify(shown)}`);
  }
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    let origin: string | undefined;
    try {
      origin = location === null ? undefined : new URL(location, APP).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== APP && origin !== issuerOrigin) found.push(`answered ${response.status} to ${JSON.stringify(location)}, neither the app's origin nor the provider's`);
  }
  if (built.carriesValid) {
    const set = response.headers.getSetCookie().filter((line) => line.startsWith(`${SESSION}=`));
    if (set.length) found.push(`${response.status}, and cleared or replaced the valid session cookie: ${set.map((l) => l.slice(0, 80)).join(' | ')}`);
  }
  // Not only after those that carry it exactly: a mangled copy of the seal may still open.
  if (built.touchesValid && !(await isAlive(world.valid))) found.push(`${response.status}, and the valid session ended: GET /session no longer says authenticated`);
  return found;
}

async function isAlive(seal: string): Promise<boolean> {
  const check = await h.bff.handle(new Request(`${APP}/api/auth/session`, { headers: { cookie: `${SESSION}=${seal}` } }));
  const session = (await check.json().catch(() => ({}))) as { authenticated?: unknown };
  return check.status === 200 && session.authenticated === true;
}

async function fuzz(name: string, arbitrary: fc.Arbitrary<Spec>, seed: number, pendingSignIns = 2) {
  const world = new World(h);
  await world.setUp(pendingSignIns);
  const started = performance.now();
  let sent = 0;
  /** What the BFF answered, tallied, to show that the generated requests reach past the first gate. */
  const answers = new Map<string, number>();
  const tally = (key: string) => answers.set(key, (answers.get(key) ?? 0) + 1);
  console.info(`fuzz ${name}: seed ${seed}, ${RUNS} runs`);
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (spec) => {
        const send = async (built: Built, before = '') => {
          const response = await h.bff.handle(built.request);
          sent++;
          const error = response.status >= 400 ? ((await response.clone().json().catch(() => ({}))) as { error?: unknown }).error : undefined;
          tally(`${response.status}${typeof error === 'string' ? ` ${error}` : ''}`);
          if (built.carriesValid) tally('(with the valid session)');
          if (built.legit) tally(`(legitimate ${built.legit})`);
          if (built.legit === 'logout' || built.legit === 'token') world.settle(built.legit, response.clone());
          const found = await violations(built, response.clone(), world);
          if (found.length) {
            // The next run (or shrink step) starts from a healthy valid session again.
            if (!(await isAlive(world.valid))) await world.replaceValid();
            throw new Error(`${found.join('\n')}\n\nRequest:\n${before}${built.text}`);
          }
          return response;
        };
        let started: SignIn | undefined;
        let before = '';
        if (spec.loginFirst) {
          const url = `${APP}/api/auth/login?returnTo=${encode(spec.loginFirst.returnTo, spec.loginFirst.encode)}`;
          const text = `GET ${JSON.stringify(url.slice(APP.length))}`;
          const login = await send({ request: new Request(url), text, carriesValid: false, touchesValid: false });
          const tx = login.headers.getSetCookie().find((line) => line.startsWith('__Host-latchkey-tx'))?.split(';')[0];
          const state = login.status === 302 ? new URL(login.headers.get('location')!).searchParams.get('state') : null;
          if (tx && state) {
            started = { callbackUrl: '', txCookie: tx, code: 'a-code-the-provider-never-issued', state, iss: world.pending[0]!.iss };
            before = `${text}\n  → 302 to the provider, with a transaction cookie; then:\n`;
          }
        }
        await send(await build(spec, world, started), before);
      }),
      { seed, numRuns: RUNS },
    );
  } finally {
    const summary = [...answers].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`).join(', ');
    console.info(`fuzz ${name}: ${sent} requests (shrinking included) in ${Math.round(performance.now() - started)} ms; ${summary}`);
  }
  // The valid session rode along with thousands of those requests and is still good.
  expect(world.valid, 'the valid session was replaced after a run harmed it').toBe(await world.firstValid);
  const token = await h.token(world.valid);
  expect(token.status).toBe(200);
  expect(await token.json()).toMatchObject({ tokenType: 'Bearer', user: { sub: 'alice' } });
}

describe('fuzz: generated requests to every route', () => {
  it('GET /login: no 5xx, JSON 4xx, redirects only to the app or the provider, the valid session untouched', { timeout: 120_000 }, async () => {
    await fuzz('login', specs('login', 'GET', routePath('login'), loginKeys), SEED);
  });
  it('GET /callback: no 5xx, JSON 4xx, redirects only to the app or the provider, the valid session untouched', { timeout: 120_000 }, async () => {
    await fuzz('callback', specs('callback', 'GET', routePath('callback'), callbackKeys), SEED + 1, 24);
  });
  it('POST /token: no 5xx, JSON 4xx, the valid session untouched by anything but a legitimate call', { timeout: 120_000 }, async () => {
    await fuzz('token', specs('token', 'POST', routePath('token'), anyKeys), SEED + 2);
  });
  it('POST /logout: no 5xx, JSON 4xx, the valid session untouched by anything but a legitimate sign-out', { timeout: 120_000 }, async () => {
    await fuzz('logout', specs('logout', 'POST', routePath('logout'), anyKeys), SEED + 3);
  });
  it('GET /session: no 5xx, JSON 4xx, the valid session untouched', { timeout: 120_000 }, async () => {
    await fuzz('session', specs('session', 'GET', routePath('session'), anyKeys), SEED + 4);
  });
  it('unknown paths: no 5xx, JSON 4xx, the valid session untouched', { timeout: 120_000 }, async () => {
    await fuzz('unknown paths', specs('unknown', 'GET', unknownPath, anyKeys), SEED + 5);
  });
});

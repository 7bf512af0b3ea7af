import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_API_AUDIENCE } from '@latchkey/idp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiConfig } from './apis.js';
import type { BffEvent } from './events.js';
import { nodeHandler } from './node.js';
import { freePort } from './test/freePort.js';
import { APP, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

/**
 * Proxy mode against a real API: a `node:http` server that records every request it receives,
 * and the real dev provider. Every refusal is asserted twice: the status and JSON error code the
 * browser gets, and that the API received nothing at all.
 */

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Script = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

/** The API: records each request as it starts (`started`) and once its body is in (`received`); answers per `script`. */
class Upstream {
  readonly started: IncomingMessage[] = [];
  readonly received: Received[] = [];
  /** Answers queued for the next requests, in order; once empty, the default echo. */
  readonly queue: Script[] = [];
  #server!: Server;
  origin = '';

  async start() {
    this.#server = createServer((req, res) => {
      this.started.push(req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const script = this.queue.shift() ?? echo;
        void Promise.resolve(script(req, res, body)).catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  reset() {
    this.started.length = 0;
    this.received.length = 0;
    this.queue.length = 0;
  }
  close() {
    this.#server.closeAllConnections();
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The default answer: what the API saw, with headers the browser must never get. */
const echo: Script = (req, res, body) => {
  res.writeHead(200, {
    'content-type': 'application/json',
    'set-cookie': ['upstream=1; Path=/', 'other=2'],
    'keep-alive': 'timeout=5',
    'proxy-authenticate': 'Basic realm="x"',
    'x-internal-secret': 'do-not-leak',
    'cache-control': 'public, max-age=3600',
    etag: '"v1"',
    'access-control-allow-origin': '*',
  });
  res.end(JSON.stringify({ method: req.method, url: req.url, body }));
};

const unauthorized =
  (challenge = 'Bearer error="invalid_token", error_description="The access token expired"'): Script =>
  (_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenge });
    res.end('{"error":"invalid_token"}');
  };

const upstream = new Upstream();
let h: Harness;
let downPort: number;
const events: BffEvent[] = [];

const apis = (): Record<string, ApiConfig> => ({
  notes: { url: `${upstream.origin}/v1`, methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'], headers: ['x-request-id'], scopes: ['notes:read'], audience: DEMO_API_AUDIENCE },
  readonly: { url: `${upstream.origin}/v1/` },
  small: { url: `${upstream.origin}/v1/`, methods: ['POST'], maxBodyBytes: 1024 },
  slow: { url: `${upstream.origin}/v1/`, timeoutMs: 300 },
  down: { url: `http://127.0.0.1:${downPort}/` },
  elsewhere: { url: `${upstream.origin}/v1/`, audience: 'https://other-api.example' },
  writer: { url: `${upstream.origin}/v1/`, scopes: ['notes:write'] },
});

beforeAll(async () => {
  await upstream.start();
  downPort = await freePort();
  h = await startHarness({ accessTokenTtl: 60 }, { rateLimits: false, apis: apis(), bodyTimeoutMs: 2000 });
  h.events.length = 0;
});
afterAll(async () => {
  await upstream.close();
  await h?.close();
});
beforeEach(() => {
  upstream.reset();
  events.length = 0;
});

const SPA = { 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };

/** A call as the SPA makes it, through the in-process handler. */
function call(path: string, cookie: string | undefined, init: { method?: string; headers?: Record<string, string>; body?: BodyInit } = {}) {
  const body = init.body;
  return h.bff.handle(
    new Request(`${APP}/api/auth/proxy${path}`, {
      method: init.method ?? 'GET',
      headers: { ...SPA, ...(cookie ? { cookie: `__Host-latchkey=${cookie}` } : {}), ...init.headers },
      ...(body !== undefined && { body }),
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit),
  );
}

const tokenOf = (r: Received) => r.headers.authorization?.replace(/^Bearer /, '');
const proxied = () => h.events.filter((e): e is Extract<BffEvent, { type: 'api_proxied' }> => e.type === 'api_proxied');

/** A request body that never ends: chunks as fast as they are read. */
function endless(): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(16 * 1024).fill(120);
  return new ReadableStream({ pull: (controller) => controller.enqueue(chunk) });
}

describe('proxy mode: happy paths', () => {
  it('GETs JSON with the session\'s token, which the browser never sees', async () => {
    const cookie = await h.signIn();
    const response = await call('/notes/items/1?x=1', cookie, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ method: 'GET', url: '/v1/items/1?x=1', body: '' });
    expect(upstream.received).toHaveLength(1);
    const [seen] = upstream.received;
    expect(tokenOf(seen!)).toMatch(/^ey/);
    expect(seen!.headers.accept).toBe('application/json');
    // Nothing of the token, and nothing the API must not set, reaches the browser.
    const headers = Object.fromEntries(response.headers);
    expect(JSON.stringify(headers)).not.toContain(tokenOf(seen!)!);
    expect(response.headers.getSetCookie()).toEqual([]);
    for (const name of ['keep-alive', 'proxy-authenticate', 'x-internal-secret', 'access-control-allow-origin', 'connection', 'transfer-encoding']) expect(headers[name]).toBeUndefined();
    expect(headers['cache-control']).toMatch(/^no-store\b/);
    expect(headers.etag).toBe('"v1"');
    expect(proxied().at(-1)).toMatchObject({ api: 'notes', method: 'GET', status: 200, outcome: 'forwarded' });
  });

  it('POSTs a JSON body as sent, and passes the query string through untouched', async () => {
    const cookie = await h.signIn();
    const body = JSON.stringify({ title: 'é', n: [1, 2] });
    const response = await call('/notes/items?tag=a%20b&tag=c&empty=', cookie, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    expect(upstream.received).toEqual([expect.objectContaining({ method: 'POST', url: '/v1/items?tag=a%20b&tag=c&empty=', body })]);
    expect(upstream.received[0]!.headers['content-type']).toBe('application/json');
    expect(upstream.received[0]!.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('streams server-sent events chunk by chunk, before the API has finished', async () => {
    const cookie = await h.signIn();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    upstream.queue.push(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await finished;
      res.end('data: two\n\n');
    });
    const response = await call('/notes/events', cookie, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await Promise.race([reader.read(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the first event was held back')), 3000))]);
    expect(first.value).toBe('data: one\n\n');
    finish();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
    expect(rest).toBe('data: two\n\n');
  });

  it('sets the rotated session cookie on the proxied answer when the family refreshed', async () => {
    const cookie = await h.signIn();
    await call('/notes/a', cookie);
    h.age(50); // 10 s of the 60 s token left: less than a call needs
    const response = await call('/notes/b', cookie);
    expect(response.status).toBe(200);
    const rotated = sessionCookieFrom(response);
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    expect(tokenOf(upstream.received[1]!)).not.toBe(tokenOf(upstream.received[0]!));
    // The new cookie works, without a refresh of its own.
    expect((await call('/notes/c', rotated)).status).toBe(200);
    expect(tokenOf(upstream.received[2]!)).toBe(tokenOf(upstream.received[1]!));
  });

  it('passes the If-None-Match of a conditional GET and the API\'s 304 back, bodiless', async () => {
    const cookie = await h.signIn();
    upstream.queue.push((_req, res) => {
      res.writeHead(304, { etag: '"v1"' });
      res.end();
    });
    const response = await call('/notes/items/1', cookie, { headers: { 'if-none-match': '"v1"' } });
    expect(response.status).toBe(304);
    expect(response.body).toBeNull();
    expect(upstream.received[0]!.headers['if-none-match']).toBe('"v1"');
  });

  it('rewrites a redirect within the API to the proxy path, and refuses one leaving it (502, never followed)', async () => {
    const cookie = await h.signIn();
    upstream.queue.push((_req, res) => {
      res.writeHead(302, { location: '/v1/items/2?y=1' });
      res.end();
    });
    const inside = await call('/notes/items/1', cookie);
    expect(inside.status).toBe(302);
    expect(inside.headers.get('location')).toBe('/api/auth/proxy/notes/items/2?y=1');
    for (const location of ['https://evil.example/x', '//evil.example/x', `${upstream.origin}/admin`, '/v1/../admin', `http://user:pw@127.0.0.1:${new URL(upstream.origin).port}/v1/x`]) {
      upstream.queue.push((_req, res) => {
        res.writeHead(302, { location });
        res.end();
      });
      const outside = await call('/notes/items/1', cookie);
      expect(outside.status, location).toBe(502);
      expect(await outside.json()).toMatchObject({ error: 'bad_gateway' });
      expect(outside.headers.get('location')).toBeNull();
    }
    expect(upstream.received).toHaveLength(6);
  });

  it('answers 504 upstream_timeout past the API\'s deadline and 503 when it cannot be reached, keeping the session', async () => {
    const cookie = await h.signIn();
    upstream.queue.push(() => new Promise(() => {}));
    const started = performance.now();
    const slow = await call('/slow/x', cookie);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(slow.status).toBe(504);
    expect(await slow.json()).toMatchObject({ error: 'upstream_timeout' });
    expect(slow.headers.get('retry-after')).toBe('5');
    expect(slow.headers.getSetCookie()).toEqual([]);
    const down = await call('/down/x', cookie);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: 'upstream_unavailable' });
    expect(down.headers.get('retry-after')).toBe('5');
    expect((await call('/notes/x', cookie)).status).toBe(200);
    expect(proxied().slice(-3).map((e) => e.outcome)).toEqual(['timeout', 'unavailable', 'forwarded']);
  });

  it('serves the Node adapter too, streaming included', async () => {
    const cookie = await h.signIn();
    const server = createServer(nodeHandler(h.bff));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/api/auth/proxy/notes/x?q=1`, { headers: { ...SPA, cookie: `__Host-latchkey=${cookie}` } });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ url: '/v1/x?q=1' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('proxy mode: the API refuses the token (401 invalid_token)', () => {
  it('refreshes once and retries once with the new token', async () => {
    const cookie = await h.signIn();
    h.age(20); // the token is no longer one the provider just issued
    upstream.queue.push(unauthorized());
    const response = await call('/notes/items', cookie);
    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(2);
    const [first, second] = upstream.received.map(tokenOf);
    expect(second).toMatch(/^ey/);
    expect(second).not.toBe(first);
    expect(sessionCookieFrom(response)).toBeDefined();
    expect(proxied().at(-1)).toMatchObject({ status: 200, outcome: 'retried' });
  });

  it('never retries twice: a second 401 goes back to the browser as the API sent it', async () => {
    const cookie = await h.signIn();
    h.age(20);
    upstream.queue.push(unauthorized(), unauthorized(), unauthorized());
    const response = await call('/notes/items', cookie);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(upstream.received).toHaveLength(2);
    // The refresh happened: its cookie still goes out.
    expect(sessionCookieFrom(response)).toBeDefined();
  });

  it('refreshes even a token issued moments ago when the API refuses it, retries once with the new one, and never a second time', async () => {
    const cookie = await h.signIn();
    upstream.queue.push(unauthorized(), unauthorized());
    const response = await call('/notes/items', cookie);
    expect(response.status).toBe(401);
    expect(upstream.received).toHaveLength(2);
    const [first, second] = upstream.received.map((r) => r.headers.authorization);
    expect(second).toMatch(/^Bearer /);
    expect(second).not.toBe(first);
    // The session lives on, with the rotated cookie.
    expect(sessionCookieFrom(response)).toBeDefined();
  });

  it('replays a POST body byte for byte (bodies are read whole before the first call), and a PUT', async () => {
    const cookie = await h.signIn();
    h.age(20);
    const body = JSON.stringify({ n: 1, text: 'x'.repeat(5000) });
    upstream.queue.push(unauthorized());
    const post = await call('/notes/items', cookie, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(post.status).toBe(200);
    expect(upstream.received.map((r) => [r.method, r.body])).toEqual([
      ['POST', body],
      ['POST', body],
    ]);
    const rotated = sessionCookieFrom(post)!;
    h.age(20);
    upstream.reset();
    upstream.queue.push(unauthorized());
    const put = await call('/notes/items/1', rotated, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'plain' });
    expect(put.status).toBe(200);
    expect(upstream.received.map((r) => [r.method, r.body, r.headers['content-type']])).toEqual([
      ['PUT', 'plain', 'text/plain'],
      ['PUT', 'plain', 'text/plain'],
    ]);
  });

  it.each([
    ['no WWW-Authenticate', undefined],
    ['a Basic challenge', 'Basic realm="api"'],
    ['Bearer insufficient_scope', 'Bearer error="insufficient_scope"'],
    ['Bearer with no error', 'Bearer realm="api"'],
  ])('does not retry a 401 with %s, and passes no password-prompting challenge back', async (_name, challenge) => {
    const cookie = await h.signIn();
    h.age(20);
    upstream.queue.push((_req, res) => {
      res.writeHead(401, challenge ? { 'www-authenticate': challenge } : {});
      res.end();
    });
    const response = await call('/notes/items', cookie, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(upstream.received).toHaveLength(1);
    const relayed = response.headers.get('www-authenticate');
    expect(relayed === null || /^Bearer/.test(relayed)).toBe(true);
  });
});

describe('proxy mode: request headers', () => {
  it.each<[string, Record<string, string>, (seen: IncomingHttpHeaders, token: string | undefined) => void]>([
    ['the browser\'s cookies never reach the API', { 'x-extra': '1' }, (seen) => expect(seen.cookie).toBeUndefined()],
    ['an Authorization from the browser is replaced by the session\'s token', { authorization: 'Bearer forged' }, (seen, token) => expect(token).not.toBe('forged')],
    ['X-Forwarded-For / -Host / -Proto are not forwarded', { 'x-forwarded-for': '10.0.0.1', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'for=1.2.3.4' }, (seen) => {
      for (const name of ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded']) expect(seen[name]).toBeUndefined();
    }],
    ['Host is the API\'s own', { host: 'evil.example' }, (seen) => expect(seen.host).toBe(new URL(upstream.origin).host)],
    ['Latchkey\'s own headers stay behind', { 'x-latchkey-idle': '3' }, (seen) => {
      expect(seen['x-latchkey']).toBeUndefined();
      expect(seen['x-latchkey-idle']).toBeUndefined();
    }],
    ['hop-by-hop and proxy headers are dropped', { te: 'trailers', 'proxy-authorization': 'Basic eA==', upgrade: 'websocket', 'keep-alive': 'timeout=1' }, (seen) => {
      for (const name of ['te', 'proxy-authorization', 'upgrade', 'keep-alive']) expect(seen[name]).toBeUndefined();
    }],
    ['a header outside the allow-list is dropped; one in the API\'s list is kept', { 'x-request-id': 'r-1', 'x-api-key': 'k' }, (seen) => {
      expect(seen['x-request-id']).toBe('r-1');
      expect(seen['x-api-key']).toBeUndefined();
    }],
  ])('%s', async (_name, headers, check) => {
    const cookie = await h.signIn();
    const response = await call('/notes/items', cookie, { headers });
    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    check(upstream.received[0]!.headers, tokenOf(upstream.received[0]!));
  });

  it('sends the length of the body it read, whatever Transfer-Encoding and Content-Length the browser claimed', async () => {
    const cookie = await h.signIn();
    const body = '{"a":1}';
    const response = await call('/notes/items', cookie, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '3', 'transfer-encoding': 'chunked' }, body });
    expect(response.status).toBe(200);
    const [seen] = upstream.received;
    expect(seen!.body).toBe(body);
    expect(seen!.headers['content-length']).toBe(String(body.length));
    expect(seen!.headers['transfer-encoding']).toBeUndefined();
  });
});

/** A refusal: what the request is, what it must answer. The API must receive nothing. */
interface Attack {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: () => BodyInit;
  /** Cookie header, made from a valid session cookie (default: that cookie). */
  cookie?: (valid: string) => string | undefined;
  status: number;
  error: string;
  /** Sent as raw HTTP through the Node adapter (methods and paths a WHATWG Request cannot carry). */
  raw?: boolean;
  /** A BFF other than the proxy-mode one. */
  bff?: 'token-mode';
}

const path400 = (name: string, path: string): Attack => ({ name, path, status: 400, error: 'invalid_proxy_path' });
const nf = (name: string, path: string): Attack => ({ name, path, status: 404, error: 'not_found' });
const csrf = (name: string, headers: Record<string, string>, method = 'GET'): Attack => ({ name: `CSRF ${method}: ${name}`, path: '/notes/items', method, headers, status: 403, error: 'csrf_rejected' });

const ATTACKS: Attack[] = [
  // Path escapes. The WHATWG URL parser resolves raw and %2e dot segments before the BFF sees
  // the path (the browser does too), so those land on another route or API, never above the base.
  nf('../ up to the BFF\'s own /token', '/notes/../../token'),
  nf('%2e%2e/ segments, resolved by the URL parser onto another (unknown) API', '/notes/%2e%2e/secret/x'),
  nf('%2E%2e/ mixed case', '/notes/%2E%2e/%2E%2e/admin'),
  path400('..%2f hidden in one segment', '/notes/a/..%2f..%2fadmin'),
  path400('%2e%2e%2f', '/notes/%2e%2e%2fadmin'),
  path400('double-encoded %252e%252e', '/notes/%252e%252e/admin'),
  path400('double-encoded %252e%252e%252f', '/notes/%252e%252e%252fadmin'),
  path400('an encoded dot inside a name', '/notes/file%2ejson'),
  path400('..; (matrix parameter, Tomcat reads it as ..)', '/notes/..;/admin'),
  path400('.; segment', '/notes/.;/admin'),
  path400('%5c (encoded backslash)', '/notes/a%5c..%5cadmin'),
  path400('%5C upper case', '/notes/%5C%5Cevil.example'),
  path400('//evil.com', '/notes//evil.com/x'),
  path400('a trailing //', '/notes/items//'),
  path400('/@evil.com', '/notes/@evil.com'),
  path400('%40evil.com', '/notes/%40evil.com/x'),
  path400('http://evil.com as the path', '/notes/http://evil.com/'),
  path400('http:%2f%2fevil.com', '/notes/http:%2f%2fevil.com'),
  path400('%2f encoded slash', '/notes/a%2fb'),
  path400('%2F upper case', '/notes/a%2Fb'),
  path400('%00', '/notes/a%00.json'),
  path400('CR/LF header injection', '/notes/a%0d%0aHost:%20evil.example'),
  path400('%09 tab', '/notes/a%09b'),
  path400('%7f DEL', '/notes/a%7f'),
  path400('fullwidth dots ．． (NFKC folds them to ..)', '/notes/%EF%BC%8E%EF%BC%8E/admin'),
  path400('fullwidth solidus ／', '/notes/a%EF%BC%8Fb'),
  path400('fullwidth reverse solidus ＼', '/notes/a%EF%BC%BCb'),
  path400('U+2028 line separator', '/notes/a%E2%80%A8b'),
  path400('overlong UTF-8 dot %c0%ae', '/notes/%c0%ae%c0%ae/admin'),
  path400('IIS-style %u002e', '/notes/%u002e%u002e/admin'),
  path400('a lone %', '/notes/100%'),
  // API names.
  nf('__proto__', '/__proto__/x'),
  nf('constructor', '/constructor/x'),
  nf('toString', '/toString'),
  nf('hasOwnProperty', '/hasOwnProperty/x'),
  nf('an encoded name (%6eotes)', '/%6eotes/x'),
  nf('another case (NOTES)', '/NOTES/x'),
  nf('an encoded slash after the name', '/notes%2f..%2fadmin/x'),
  nf('no name', '/'),
  nf('no name, no slash', ''),
  // Methods.
  { name: 'PATCH, not configured', path: '/notes/items', method: 'PATCH', body: () => '{}', status: 405, error: 'method_not_allowed' },
  { name: 'DELETE on a read-only API', path: '/readonly/items', method: 'DELETE', status: 405, error: 'method_not_allowed' },
  { name: 'lower-case patch (fetch does not normalise it)', path: '/notes/items', method: 'patch', status: 405, error: 'method_not_allowed' },
  { name: 'PROPFIND', path: '/notes/items', method: 'PROPFIND', status: 405, error: 'method_not_allowed' },
  { name: 'TRACE (through the Node adapter)', path: '/notes/items', method: 'TRACE', raw: true, status: 400, error: 'invalid_request' },
  { name: 'PURGE', path: '/notes/items', method: 'PURGE', status: 405, error: 'method_not_allowed' },
  // Raw paths, as a client may send them (the adapter builds the URL as a browser would).
  { name: 'raw ../ over HTTP', path: '/notes/../../token', raw: true, status: 404, error: 'not_found' },
  { name: 'raw \\ over HTTP', path: '/notes/a\\..\\..\\..\\token', raw: true, status: 404, error: 'not_found' },
  { name: 'raw absolute-form target', path: 'http://evil.example/x', raw: true, status: 404, error: 'not_found' },
  // CSRF, on GET as on POST.
  csrf('no x-latchkey', { 'x-latchkey': '' }),
  csrf('x-latchkey: 0', { 'x-latchkey': '0' }),
  csrf('x-latchkey: true', { 'x-latchkey': 'true' }, 'POST'),
  csrf('Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }),
  csrf('Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }, 'POST'),
  csrf('Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }),
  csrf('no Fetch Metadata, foreign Origin', { 'sec-fetch-site': '', origin: 'https://evil.example' }, 'POST'),
  csrf('no Fetch Metadata, Origin null', { 'sec-fetch-site': '', origin: 'null' }),
  csrf('no Fetch Metadata, no Origin', { 'sec-fetch-site': '' }, 'DELETE'),
  csrf('no Fetch Metadata, Origin of another port', { 'sec-fetch-site': '', origin: 'http://localhost:3001' }),
  // Sessions.
  { name: 'no session cookie', path: '/notes/items', cookie: () => undefined, status: 401, error: 'login_required' },
  { name: 'an unreadable session cookie', path: '/notes/items', cookie: () => 'Fe26.2**garbage', status: 401, error: 'login_required' },
  { name: 'a tampered session cookie', path: '/notes/items', cookie: (valid) => `${valid.slice(0, -4)}AAAA`, status: 401, error: 'login_required' },
  // Bodies.
  { name: 'a declared Content-Length over the limit', path: '/small/x', method: 'POST', headers: { 'content-length': '4096' }, body: () => 'x', status: 413, error: 'payload_too_large' },
  { name: 'a streamed body over the limit, no Content-Length', path: '/small/x', method: 'POST', body: () => new Blob(['x'.repeat(2000)]).stream(), status: 413, error: 'payload_too_large' },
  { name: 'an endless chunked body', path: '/notes/x', method: 'POST', body: endless, status: 413, error: 'payload_too_large' },
  { name: 'a Content-Length that is not a number', path: '/small/x', method: 'POST', headers: { 'content-length': '1e3' }, body: () => 'x', status: 400, error: 'invalid_request' },
  { name: 'an x-latchkey-idle that is not a number', path: '/notes/x', headers: { 'x-latchkey-idle': '-1' }, status: 400, error: 'invalid_request' },
  // Tokens that may not go to this API.
  { name: 'a token for another audience', path: '/elsewhere/x', status: 403, error: 'insufficient_scope' },
  { name: 'a token without the API\'s scope', path: '/writer/x', status: 403, error: 'insufficient_scope' },
  // Modes.
  { name: 'token mode (no apis): no proxy route', path: '/notes/x', bff: 'token-mode', status: 404, error: 'not_found' },
];

describe('proxy mode: attacks, each refused with the API receiving nothing', () => {
  let valid: string;
  let tokenMode: ReturnType<Harness['instance']>['bff'];
  beforeAll(async () => {
    valid = await h.signIn();
    tokenMode = h.instance({ apis: undefined }).bff;
  });

  it('has at least 40 rows', () => expect(ATTACKS.length).toBeGreaterThanOrEqual(40));

  it.each(ATTACKS.map((a) => [a.name, a] as const))('%s', async (_name, attack) => {
    const cookieValue = attack.cookie ? attack.cookie(valid) : valid;
    const headers = { ...SPA, ...(cookieValue ? { cookie: `__Host-latchkey=${cookieValue}` } : {}), ...attack.headers };
    for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name as keyof typeof headers];
    let status: number;
    let body: { error?: string };
    if (attack.raw) {
      ({ status, body } = await rawCall(attack.method ?? 'GET', attack.path.startsWith('/') ? `/api/auth/proxy${attack.path}` : attack.path, headers));
    } else {
      const target = attack.bff === 'token-mode' ? tokenMode : h.bff;
      const init = attack.body?.();
      const response = await target.handle(
        new Request(`${APP}/api/auth/proxy${attack.path}`, {
          method: attack.method ?? 'GET',
          headers,
          ...(init !== undefined && { body: init, duplex: 'half' }),
        } as RequestInit),
      );
      status = response.status;
      body = (await response.json()) as { error?: string };
      if (status === 405) expect(response.headers.get('allow')).toMatch(/^[A-Z, ]+$/);
    }
    expect({ status, error: body.error }).toEqual({ status: attack.status, error: attack.error });
    // Give a request that did leave time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(upstream.started).toHaveLength(0);
  });

  it('token mode: /token still answers; proxy mode: /token is 404, so no route hands out a token', async () => {
    // Each instance has a store of its own: one session each, so none sees another's rotation as reuse.
    expect((await h.instance({ apis: undefined }).token(await h.signIn())).status).toBe(200);
    const cookie = await h.signIn();
    const proxyMode = await h.token(cookie);
    expect(proxyMode.status).toBe(404);
    expect(await proxyMode.json()).toMatchObject({ error: 'not_found' });
    // Server code still gets its token in proxy mode.
    expect((await h.bff.getAccessToken(`__Host-latchkey=${cookie}`)).accessToken).toMatch(/^ey/);
    const both = h.instance({ mode: 'both' });
    expect((await both.token(await h.signIn())).status).toBe(200);
  });

  it('a session that ended answers 401 session_revoked and clears the cookie, the API receiving nothing', async () => {
    const cookie = await h.signIn();
    await h.bff.revokeFamily((await h.eventsOf(cookie)).find((e) => e.type === 'session_created')!.familyId);
    const response = await call('/notes/x', cookie);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'session_revoked' });
    expect(response.headers.getSetCookie().join()).toMatch(/__Host-latchkey=;.*Max-Age=0/i);
    expect(upstream.started).toHaveLength(0);
  });

  it('the audit trail records a call that did not go well by its API, never its path or query, and no routine success', async () => {
    const cookie = await h.signIn();
    const before = (await h.bff.admin.recentAudit(500)).filter((r) => r.event === 'api_proxied').length;
    expect((await call('/notes/patients/4711/records?name=Jane%20Doe', cookie, { headers: { 'x-latchkey-idle': '2.5' } })).status).toBe(200);
    expect((await h.bff.admin.recentAudit(500)).filter((r) => r.event === 'api_proxied')).toHaveLength(before);
    upstream.queue.push((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{}');
    });
    expect((await call('/notes/patients/4711/records?name=Jane%20Doe', cookie)).status).toBe(500);
    const records = await h.bff.admin.recentAudit(500);
    const record = records.find((r) => r.event === 'api_proxied');
    expect(record).toMatchObject({ type: 'proxy', outcome: 'forwarded', route: '/proxy/notes', detail: { api: 'notes', method: 'GET', status: 500 } });
    expect(JSON.stringify(records)).not.toMatch(/4711|Jane/);
  });

  it('mode both: the proxy and /token answer side by side', async () => {
    const both = h.instance({ mode: 'both' });
    const cookie = await h.signIn();
    const proxiedAnswer = await both.bff.handle(new Request(`${APP}/api/auth/proxy/readonly/x`, { headers: { ...SPA, cookie: `__Host-latchkey=${cookie}` } }));
    expect(proxiedAnswer.status).toBe(200);
    const rotated = sessionCookieFrom(proxiedAnswer) ?? cookie;
    expect((await both.token(rotated)).status).toBe(200);
  });

  it('the public configuration lists APIs, not secrets', () => {
    const { apis: listed, mode } = h.bff.config;
    expect(mode).toBe('proxy');
    expect(listed.notes).toMatchObject({ url: `${upstream.origin}/v1/`, methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] });
    expect(JSON.stringify(h.bff.config)).not.toContain(SECRET);
  });
});

let rawServer: { port: number; close(): Promise<void> } | undefined;
afterAll(() => rawServer?.close());

/** Sends raw HTTP (any method, any request target) to the proxy-mode BFF behind the Node adapter. */
async function rawCall(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: string } }> {
  if (!rawServer) {
    const server = createServer(nodeHandler(h.bff));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    rawServer = {
      port: (server.address() as AddressInfo).port,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }
  const port = rawServer.port;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, insecureHTTPParser: true }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as { error?: string } }));
    });
    req.on('error', reject);
    req.end();
  });
}

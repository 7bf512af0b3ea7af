import { createServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBff, type Bff } from './createBff.js';
import { clientIp, nodeHandler } from './node.js';

const APP = 'https://app.example';
const SECRET = 'node-adapter-test-secret-0123456789-abcdefghijklmnop';
const servers: Server[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

/** A real `node:http` server on a free loopback port; answers its base URL. */
async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A stand-in BFF that records what it was handed and answers what the test says. */
function stub(answer: (request: Request) => Response | Promise<Response> = () => Response.json({ ok: true })) {
  const seen: Request[] = [];
  const bff: Pick<Bff, 'handle' | 'config'> = {
    handle: async (request) => {
      seen.push(request);
      return answer(request);
    },
    config: { appOrigin: APP, basePath: '/api/auth' } as Bff['config'],
  };
  return { bff, seen };
}

/** A raw request through `node:http`, for what fetch will not send (a Host header, a path starting "//", TRACE, two Cookie lines). */
function raw(base: string, path: string, options: { method?: string; headers?: Record<string, string | string[]>; chunks?: string[]; gapMs?: number } = {}) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    const chunks = [...(options.chunks ?? [])];
    const next = () => {
      const chunk = chunks.shift();
      if (chunk === undefined) return void req.end();
      req.write(chunk);
      setTimeout(next, options.gapMs ?? 0);
    };
    next();
  });
}

describe('nodeHandler()', () => {
  it('builds the request URL from the configured appOrigin, never from Host or X-Forwarded-*', async () => {
    const { bff, seen } = stub();
    const base = await listen(nodeHandler(bff));
    await raw(base, '/api/auth/session?x=1', {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example' },
    });
    expect(seen[0]!.url).toBe(`${APP}/api/auth/session?x=1`);
  });

  it('keeps a path that looks like an authority ("//evil.example/…") a path on appOrigin', async () => {
    const { bff, seen } = stub();
    const base = await listen(nodeHandler(bff));
    await raw(base, '//evil.example/api/auth/session');
    expect(new URL(seen[0]!.url).origin).toBe(APP);
    expect(new URL(seen[0]!.url).pathname).toBe('//evil.example/api/auth/session');
  });

  it('reads bff.config when a request arrives, not when the handler is made (configuration resolves at first use)', async () => {
    const { bff } = stub();
    let reads = 0;
    const counting = { handle: bff.handle, get config() {
      reads++;
      return bff.config;
    } };
    const handler = nodeHandler(counting);
    expect(reads).toBe(0);
    const base = await listen(handler);
    await raw(base, '/api/auth/session');
    expect(reads).toBeGreaterThan(0);
  });

  it('writes the status, every header and each Set-Cookie as its own line', async () => {
    const { bff } = stub(() => {
      const headers = new Headers({ location: `${APP}/notes`, 'referrer-policy': 'no-referrer' });
      headers.append('set-cookie', 'a=1; Path=/; HttpOnly');
      headers.append('set-cookie', 'b=2; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
      headers.append('set-cookie', 'c=3; Path=/');
      return new Response(null, { status: 302, headers });
    });
    const base = await listen(nodeHandler(bff));
    const response = await fetch(`${base}/api/auth/callback`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${APP}/notes`);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'c=3; Path=/']);
  });

  it('streams a POST body through whole, and gives a GET none', async () => {
    const { bff, seen } = stub(async (request) => new Response(request.body ? await request.text() : '(none)'));
    const base = await listen(nodeHandler(bff));
    const chunks = Array.from({ length: 8 }, (_, i) => `{"part":${i},"pad":"${'é'.repeat(200)}"}`);
    const posted = await raw(base, '/api/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, chunks });
    expect(posted.body).toBe(chunks.join(''));
    expect((await raw(base, '/api/auth/session')).body).toBe('(none)');
    expect(seen[1]!.body).toBeNull();
  });

  it('passes request headers, with two Cookie lines joined by "; " as a cookie header must be', async () => {
    const { bff, seen } = stub();
    const base = await listen(nodeHandler(bff));
    await raw(base, '/api/auth/session', { headers: { cookie: ['a=1', 'b=2'], 'x-latchkey': '1', accept: 'application/json' } });
    expect(seen[0]!.headers.get('cookie')).toBe('a=1; b=2');
    expect(seen[0]!.headers.get('x-latchkey')).toBe('1');
    expect(seen[0]!.headers.get('accept')).toBe('application/json');
  });

  it('hands the socket address to clientIp(), whatever X-Forwarded-For says, and nothing for other requests', async () => {
    const seenIps: (string | undefined)[] = [];
    const { bff } = stub((request) => {
      seenIps.push(clientIp(request));
      return Response.json({});
    });
    const base = await listen(nodeHandler(bff));
    await raw(base, '/api/auth/session', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(seenIps).toEqual(['127.0.0.1']);
    expect(clientIp(new Request(`${APP}/api/auth/session`, { headers: { 'x-forwarded-for': '203.0.113.9' } }))).toBeUndefined();
  });

  it('answers 500 server_error JSON and logs when the BFF throws, with no unhandled rejection', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const { bff } = stub(() => {
        throw new Error('boom');
      });
      const base = await listen(nodeHandler(bff));
      const response = await fetch(`${base}/api/auth/session`);
      expect(response.status).toBe(500);
      expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
      expect(await response.json()).toMatchObject({ error: 'server_error' });
      expect(log).toHaveBeenCalledWith('[latchkey] the Node adapter failed', expect.objectContaining({ message: 'boom' }));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('lets a BFF whose configuration is bad answer for itself: 500 configuration_error, its cause logged once', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const misconfigured = createBff({ issuer: 'not a url', clientId: 'x', clientSecret: 'y', appOrigin: APP, cookieSecret: SECRET });
    const base = await listen(nodeHandler(misconfigured));
    for (const path of ['/api/auth/session', '/api/auth/token']) {
      const response = await fetch(`${base}${path}`, { method: path.endsWith('token') ? 'POST' : 'GET' });
      expect(response.status).toBe(500);
      expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
      expect(await response.json()).toMatchObject({ error: 'configuration_error' });
    }
    expect(log).toHaveBeenCalledTimes(1);
    expect(String(log.mock.calls[0]![0])).toMatch(/"issuer"/);
  });

  it('refuses a method fetch cannot carry (TRACE) with 400 JSON, not a logged 500', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { bff, seen } = stub();
    const base = await listen(nodeHandler(bff));
    const response = await raw(base, '/api/auth/session', { method: 'TRACE' });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request' });
    expect(seen).toHaveLength(0);
    expect(log).not.toHaveBeenCalled();
  });

  it('as middleware, passes requests outside basePath on to next() and keeps a mount path (originalUrl)', async () => {
    const { bff, seen } = stub();
    const handler = nodeHandler(bff);
    const base = await listen((req, res) => {
      // What Express does for app.use('/api/auth', handler): req.url loses the mount path.
      Object.assign(req, { originalUrl: req.url, url: req.url!.replace(/^\/api\/auth/, '') || '/' });
      handler(req, res, () => res.end('next'));
    });
    expect((await raw(base, '/hello')).body).toBe('next');
    expect((await raw(base, '/api/auth/session?a=1')).body).toBe('{"ok":true}');
    expect(seen.map((r) => r.url)).toEqual([`${APP}/api/auth/session?a=1`]);
  });

  it('refuses, loudly, a body a parser already read instead of handing the BFF an empty one', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { bff, seen } = stub();
    const handler = nodeHandler(bff);
    const base = await listen((req, res) => {
      // What express.json() mounted before the BFF does.
      req.resume();
      req.once('end', () => handler(req, res));
    });
    const response = await raw(base, '/api/auth/token', { method: 'POST', chunks: ['{"minValidity":60}'] });
    expect(response.status).toBe(500);
    expect(seen).toHaveLength(0);
    expect(String(log.mock.calls[0]?.[1])).toMatch(/before body parsers such as express\.json\(\)/);
  });
});

describe('nodeHandler() with the real BFF', () => {
  const bff = createBff({
    issuer: 'http://127.0.0.1:9',
    clientId: 'latchkey-demo',
    clientSecret: 'not-used-no-provider-call-is-made',
    appOrigin: APP,
    cookieSecret: SECRET,
    allowInsecureHttp: true,
    bodyTimeoutMs: 300,
    onEvent: () => {},
  });
  const post = { 'content-type': 'application/json', 'x-latchkey': '1', 'sec-fetch-site': 'same-origin' };

  it('lets the BFF answer 413 for a streamed body over 4 KB (the adapter buffers nothing ahead of it)', async () => {
    const base = await listen(nodeHandler(bff));
    const response = await raw(base, '/api/auth/token', { method: 'POST', headers: post, chunks: Array.from({ length: 10 }, () => ' '.repeat(1000)) });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'payload_too_large' });
  });

  it('closes the connection after the BFF gave up on a slow body, so the next request on a kept-alive agent works', async () => {
    const base = await listen(nodeHandler(bff));
    const slow = await raw(base, '/api/auth/token', { method: 'POST', headers: post, chunks: ['{', ' ', ' ', ' ', '}'], gapMs: 150 });
    expect(slow.status).toBe(408);
    expect(slow.headers.connection).toBe('close');
    // Node's global agent keeps connections alive; without "Connection: close" it would reuse the dead one.
    const next = await raw(base, '/api/auth/token', { method: 'POST', headers: post, chunks: ['{}'] });
    expect(next.status).toBe(401);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import express from 'express';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bff } from './createBff.js';
import type { BffConfig } from './config.js';
import { clientIp, nodeHandler } from './node.js';
import { Jar, startHarness, throughProvider, type Harness } from './test/harness.js';

/**
 * The BFF served by real servers — Hono on @hono/node-server, Express 5, plain node:http —
 * each on its own port and origin, signing in through the real dev provider, as the recipes
 * in docs/adapters.md write them.
 */
interface Adapter {
  name: string;
  /** The BFF options this way of serving needs (how it learns the client's IP). */
  options: Partial<BffConfig>;
  /** Serves `bff` on a free loopback port. */
  start(bff: Served): Promise<Server>;
}

/** What the servers use of a BFF. */
type Served = Pick<Bff, 'handle' | 'config'>;

const listen = (server: Server) => new Promise<Server>((done) => server.listen(0, '127.0.0.1', () => done(server)));

/** Hono hands the BFF its own Web Request; the socket address travels beside it, as node.ts does for Node. */
const honoAddresses = new WeakMap<Request, string>();

const ADAPTERS: Adapter[] = [
  {
    name: 'Hono (@hono/node-server)',
    options: { clientIp: (request) => honoAddresses.get(request) },
    start(bff) {
      const app = new Hono();
      app.all('/api/auth/*', (c) => {
        const address = getConnInfo(c).remote.address;
        if (address) honoAddresses.set(c.req.raw, address);
        return bff.handle(c.req.raw);
      });
      return new Promise((done) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => done(server as Server));
      });
    },
  },
  {
    name: "Express 5 (app.all('/api/auth/*splat'))",
    options: { clientIp },
    start(bff) {
      const app = express();
      app.all('/api/auth/*splat', nodeHandler(bff));
      return listen(createServer(app));
    },
  },
  {
    name: "Express 5 (app.use('/api/auth'), then the app's own routes and body parser)",
    options: { clientIp },
    start(bff) {
      const app = express();
      app.use('/api/auth', nodeHandler(bff));
      app.use(express.json());
      app.post('/api/echo', (req, res) => void res.json(req.body));
      return listen(createServer(app));
    },
  },
  {
    name: 'node:http (createServer(nodeHandler(bff)))',
    options: { clientIp },
    start: (bff) => listen(createServer(nodeHandler(bff))),
  },
];

let h: Harness;
const servers: Server[] = [];
const ports: number[] = [];
/** Each server's BFF, made once the provider knows the servers' origins. */
const bffs: Bff[] = [];
beforeAll(async () => {
  // The servers listen first (port 0: nothing can take the port meanwhile), on a BFF bound late.
  for (const [i, adapter] of ADAPTERS.entries()) {
    const late: Served = {
      handle: (request) => bffs[i]!.handle(request),
      get config() {
        return bffs[i]!.config;
      },
    };
    const server = await adapter.start(late);
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  h = await startHarness({ accessTokenTtl: 60, appOrigins: ports.map((p) => `http://localhost:${p}`) });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  await h?.close();
});

describe.each(ADAPTERS.map((adapter, i) => ({ ...adapter, i })))('$name', ({ options, i }) => {
  let app: string;
  beforeAll(() => {
    app = `http://localhost:${ports[i]}`;
    bffs[i] = h.instance({ appOrigin: app, rateLimits: { anonymousPerIp: { limit: 3, windowSeconds: 60 } }, ...options }).bff;
  });

  /** A POST as the SPA sends it from the app's origin. */
  const post = (path: string, body: BodyInit | undefined, headers: Record<string, string> = {}) =>
    fetch(`${app}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-latchkey': '1', origin: app, ...headers },
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit);

  /** login → the provider's form → callback, all over HTTP; answers the callback's response and the session cookie. */
  async function signIn(user = 'alice') {
    const login = await fetch(`${app}/api/auth/login?returnTo=/notes`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const tx = login.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!.split(';')[0]!;
    const url = await throughProvider(login.headers.get('location')!, user, new Jar(), app);
    const callback = await fetch(url, { redirect: 'manual', headers: { cookie: tx } });
    const session = callback.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey='));
    return { callback, tx, cookie: session?.split(';')[0] };
  }

  it('answers GET /api/auth/session with 200 {authenticated:false} as JSON', async () => {
    const response = await fetch(`${app}/api/auth/session`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(await response.json()).toEqual({ authenticated: false });
  });

  it('signs in (login → provider → callback), delivering both Set-Cookie lines of the callback, then serves a token', async () => {
    const { callback, tx, cookie } = await signIn('alice');
    // Its success answer leads on to returnTo: a 302, or a page that moves on by itself; either way the body and headers arrive.
    expect(callback.status).toBeLessThan(400);
    expect(callback.headers.get('location') ?? (await callback.text())).toContain(`${app}/notes`);
    const lines = callback.headers.getSetCookie();
    // The spent sign-in transaction is cleared and the session cookie set: two lines, not one joined.
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.startsWith(`${tx.split('=')[0]}=;`))).toMatch(/Max-Age=0/);
    expect(lines.find((l) => l.startsWith('__Host-latchkey='))).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);

    const session = await fetch(`${app}/api/auth/session`, { headers: { cookie: cookie! } });
    expect(await session.json()).toMatchObject({ authenticated: true, user: { sub: 'alice' } });
    const token = await post('/api/auth/token', undefined, { cookie: cookie! });
    expect(token.status).toBe(200);
    const body = await token.json();
    expect(body).toMatchObject({ tokenType: 'Bearer', user: { sub: 'alice' } });
    expect(decodeJwt(body.accessToken)).toMatchObject({ sub: 'alice', scope: 'notes:read' });
  });

  it('refuses a POST without the x-latchkey header with 403 JSON', async () => {
    const response = await fetch(`${app}/api/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json', origin: app }, body: '{}' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'csrf_rejected' });
  });

  it('delivers a JSON request body intact to POST /token', async () => {
    const { cookie } = await signIn('bob');
    // The BFF quotes a bad value back: only a body that arrived whole can be quoted.
    const bad = await post('/api/auth/token', JSON.stringify({ minValidity: 'when-it-suits-ümlaut' }), { cookie: cookie! });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error_description).toContain('"when-it-suits-ümlaut"');
    const good = await post('/api/auth/token', JSON.stringify({ minValidity: 10, idle: 0 }), { cookie: cookie! });
    expect(good.status).toBe(200);
    expect((await good.json()).user.sub).toBe('bob');
  });

  it('leaves body limits to the BFF: a streamed body over 4 KB is its 413 JSON', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await post('/api/auth/token', body);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('answers an unknown route under /api/auth with 404 JSON', async () => {
    const response = await fetch(`${app}/api/auth/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });

  it('counts per-IP limits by the socket address, whatever X-Forwarded-For claims', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 4; n++) statuses.push((await post('/api/auth/token', '{}', { 'x-forwarded-for': `198.51.100.${n}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe("Express with nodeHandler mounted by app.use('/api/auth') before the app's own routes", () => {
  it("passes the app's own requests on, body parser included", async () => {
    const app = `http://localhost:${ports[2]}`;
    const response = await fetch(`${app}/api/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });
    expect(await response.json()).toEqual({ hello: 'world' });
  });
});

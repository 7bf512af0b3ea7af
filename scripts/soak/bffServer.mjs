// @ts-check
/**
 * One BFF instance for the soak, in its own Node process: a plain node:http server that turns
 * each request into a Web `Request`, answers it with `createBff().handle()` on the shared Redis,
 * and adds `GET /__soak/heap` (outside the BFF's base path) for memory figures.
 *
 * Started by soak.mjs with `--expose-gc --experimental-import-meta-resolve`; the second flag lets
 * it resolve `@latchkey/bff` and `redis` exactly as apps/demo does, so the built dist/ is used.
 * Events go to stdout as JSON lines; the orchestrator counts and logs them.
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`bffServer.mjs needs ${name} (it is started by scripts/soak/soak.mjs)`);
  return value;
};
const appOrigin = env('SOAK_APP_ORIGIN');
const consumer = pathToFileURL(`${env('SOAK_ROOT')}/apps/demo/package.json`).href;
// @ts-ignore -- the parent argument needs --experimental-import-meta-resolve on Node 20.
const from = (specifier) => import(import.meta.resolve(specifier, consumer));

const { createBff, jsonLinesLogger, DEFAULT_RATE_LIMITS } = await from('@latchkey/bff');
const { redisStore } = await from('@latchkey/bff/redis');
const { createClient } = await from('redis');

const redis = createClient({ url: env('SOAK_REDIS_URL') });
// node-redis reports connection trouble here; the store's own calls surface it per request.
redis.on('error', (error) => console.error(`[bff ${process.env.SOAK_NAME}] redis: ${error.message}`));

const bff = createBff({
  issuer: env('SOAK_ISSUER'),
  clientId: env('SOAK_CLIENT_ID'),
  clientSecret: env('SOAK_CLIENT_SECRET'),
  appOrigin,
  cookieSecret: env('SOAK_COOKIE_SECRET'),
  allowInsecureHttp: true,
  scope: 'openid profile email offline_access notes:read',
  store: redisStore({ client: redis.connect() }),
  // Generous: every limit the BFF has, a thousand times its default (250 tabs share one IP here).
  rateLimits: Object.fromEntries(
    Object.entries(DEFAULT_RATE_LIMITS ?? {}).map(([name, rule]) => [name, rule && typeof rule.limit === 'number' ? { ...rule, limit: rule.limit * 1000 } : rule]),
  ),
  onEvent: jsonLinesLogger((line) => process.stdout.write(`${line}\n`)),
});

const MAX_BODY = 64 * 1024;

/** @param {import('node:http').IncomingMessage} req */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** @param {import('node:http').IncomingMessage} req */
async function toRequest(req) {
  const headers = new Headers();
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    for (const value of values ?? []) headers.append(name, value);
  }
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
  // As behind a proxy: the BFF sees the app's origin, never this server's Host.
  return new Request(new URL(req.url ?? '/', appOrigin), { method, headers, body });
}

let inFlight = 0;
let draining = false;
const server = createServer(async (req, res) => {
  inFlight += 1;
  // While draining, every answer closes its connection, so keep-alive clients move on.
  if (draining) res.setHeader('connection', 'close');
  try {
    if (req.url === '/__soak/heap') {
      globalThis.gc?.();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...process.memoryUsage(), gc: typeof globalThis.gc === 'function', inFlight }));
      return;
    }
    const response = await bff.handle(await toRequest(req));
    /** @type {Record<string, string | string[]>} */
    const headers = {};
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') headers[name] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) headers['set-cookie'] = cookies;
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    // handle() answers every error itself; reaching here is an adapter failure worth a 502.
    console.error(`[bff ${process.env.SOAK_NAME}] adapter error`, error);
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('soak adapter error');
  } finally {
    inFlight -= 1;
  }
});
server.keepAliveTimeout = 5_000;

server.listen(Number(env('SOAK_PORT')), '127.0.0.1', () => {
  process.send?.({ type: 'ready', pid: process.pid });
});

/**
 * A rolling restart: stop taking connections, let requests under way finish, then leave.
 * Busy keep-alive connections never go idle on their own, so idle ones are closed as they appear.
 */
function drain() {
  draining = true;
  server.close(() => {
    void redis.quit().catch(() => {}).finally(() => process.exit(0));
  });
  setInterval(() => server.closeIdleConnections(), 50).unref();
}
process.once('SIGTERM', drain);
// The orchestrator is gone (crashed or killed): do not outlive it.
process.on('disconnect', () => process.exit(0));

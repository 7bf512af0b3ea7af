import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Bff } from './createBff.js';
import { BASE_HEADERS } from './http.js';

/**
 * A `node:http` request listener that is also Express middleware: with `next`, requests outside
 * `basePath` are passed on; without it, every request is answered by the BFF.
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/**
 * The socket address of each `Request` {@link nodeHandler} built. Kept beside the request, not in
 * a header: nothing a client sends can reach this map, and an entry goes when its request does.
 */
const socketAddresses = new WeakMap<Request, string>();

/**
 * The client's address as the TCP socket saw it, for `createBff({ clientIp })`: known only for
 * requests that came through {@link nodeHandler}, so no header can forge it. Behind a proxy it
 * is the proxy's address; use `trustProxy` there instead.
 * @example
 * const bff = createBff({ ...options, clientIp });
 * createServer(nodeHandler(bff)).listen(3000);
 */
export function clientIp(request: Request): string | undefined {
  return socketAddresses.get(request);
}

/**
 * Serves the BFF from `node:http`, Express or anything else that hands out Node's request and
 * response. The request URL is the configured `appOrigin` plus the request's path (Express's
 * `originalUrl`, so a mount path stays), never the client's `Host` or `X-Forwarded-*`. Limits,
 * CSRF and errors are the BFF's own; a failure here is a logged 500, never an unhandled rejection.
 * @example
 * createServer(nodeHandler(bff)).listen(3000);
 * app.all('/api/auth/*splat', nodeHandler(bff)); // Express 5
 */
export function nodeHandler(bff: Pick<Bff, 'handle' | 'config'>): NodeHandler {
  return (req, res, next) => {
    respond(bff, req, res, next).catch((error: unknown) => fail(res, error));
  };
}

async function respond(bff: Pick<Bff, 'handle' | 'config'>, req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
  // Read per request, never at creation: the configuration resolves at first use.
  let config: Pick<Bff['config'], 'appOrigin' | 'basePath'>;
  try {
    config = bff.config;
  } catch {
    // A bad configuration: the BFF answers that itself (500 configuration_error, the cause logged once).
    return write(res, await bff.handle(new Request('http://configuration.invalid/')), req.complete);
  }
  const { appOrigin, basePath } = config;
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  // Concatenated, not resolved: a path such as "//evil.example/" must stay a path on appOrigin.
  const url = new URL(`${appOrigin}${path.startsWith('/') ? path : `/${path}`}`);
  if (next && !url.pathname.startsWith(`${basePath}/`)) return next();

  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  if (hasBody && req.readableEnded) {
    // Otherwise the BFF would read an empty body and quietly ignore what the client sent.
    throw new Error('the request body was read before the BFF saw it; mount nodeHandler before body parsers such as express.json()');
  }
  let request: Request;
  try {
    request = toRequest(req, url, method, hasBody);
  } catch {
    // A method fetch forbids (TRACE, CONNECT) or a header it cannot carry: the client's fault, not ours.
    return send(res, 400, { error: 'invalid_request', error_description: 'The request could not be read.' });
  }
  const address = req.socket.remoteAddress;
  if (address) socketAddresses.set(request, address);

  await write(res, await bff.handle(request), req.complete);
}

/** Writes a Web `Response` to Node's response: status, every header, each cookie on its own line, the body. */
async function write(res: ServerResponse, response: Response, requestComplete: boolean): Promise<void> {
  // The BFF's answers are small JSON or empty; read whole, they get a Content-Length.
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  // One line per cookie: joined into one header, browsers would read them as a single cookie.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  // The BFF stopped reading a body that was too large or too slow: that connection cannot carry another request.
  if (!requestComplete) res.setHeader('connection', 'close');
  res.end(body);
}

function toRequest(req: IncomingMessage, url: URL, method: string, hasBody: boolean): Request {
  const headers = new Headers();
  // Node has already joined repeated headers (cookies with "; "); HTTP/2 pseudo-headers are not headers.
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return new Request(url, {
    method,
    headers,
    // Streamed as it arrives: the BFF bounds its size and how long it may take.
    ...(hasBody && { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' }),
  } as RequestInit);
}

function send(res: ServerResponse, status: number, body: { error: string; error_description: string }) {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, error: unknown) {
  console.error('[latchkey] the Node adapter failed', error);
  try {
    if (res.headersSent) return void res.destroy();
    // Nothing of the answer that failed (its cookies least of all) goes out with the 500.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    send(res, 500, { error: 'server_error', error_description: 'The sign-in service failed unexpectedly. Try again.' });
  } catch {
    res.destroy();
  }
}

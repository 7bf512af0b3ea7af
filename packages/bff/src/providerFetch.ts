import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Connections to the provider are kept open between calls, as fetch keeps them. */
const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/** Statuses whose answer has no body (a `Response` refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * The BFF's default `fetch` for provider calls: the subset oauth4webapi uses (a URL string, a
 * method, headers as a record, a string or `URLSearchParams` body, `redirect: 'manual'`, a
 * signal), on `node:http` and `node:https` with keep-alive and the system's certificate checks.
 *
 * Why not the global `fetch`: inside a framework it is often wrapped (Next.js feeds its data
 * cache from it), and on Node 20 each call builds a WHATWG Request, AbortSignal and streams
 * whose cost showed as milliseconds per refresh inside `next start`. Redirects are not followed
 * (oauth4webapi asks for `manual` and treats a 3xx as an error). Anything else falls back to
 * the runtime's own `fetch`.
 */
export const providerFetch: typeof fetch = (input, init = {}) => {
  const headers = init.headers;
  const body = init.body;
  const simple =
    typeof input === 'string' &&
    (headers === undefined || (typeof headers === 'object' && !(headers instanceof Headers) && !Array.isArray(headers))) &&
    (body === undefined || body === null || typeof body === 'string' || body instanceof URLSearchParams);
  const url = simple ? new URL(input) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return platformFetch()(input, init);

  return new Promise<Response>((resolve, reject) => {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return reject(signal.reason);
    const payload = body === undefined || body === null ? undefined : Buffer.from(String(body));
    const outgoing: Record<string, string> = { ...(headers as Record<string, string> | undefined) };
    if (payload) {
      outgoing['content-length'] = String(payload.length);
      if (body instanceof URLSearchParams && !Object.keys(outgoing).some((name) => name.toLowerCase() === 'content-type')) {
        outgoing['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
      }
    }
    const secure = url.protocol === 'https:';
    const options = { method: init.method ?? 'GET', headers: outgoing };
    const request = secure ? httpsRequest(url, { ...options, agent: agents['https:'] }) : httpRequest(url, { ...options, agent: agents['http:'] });
    const onAbort = () => request.destroy(signal?.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted.', 'AbortError'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    request.on('error', (error) => {
      done();
      // As fetch reports it: a network failure is a TypeError with the cause attached; an abort is the signal's reason.
      reject(signal?.aborted ? signal.reason : Object.assign(new TypeError('fetch failed'), { cause: error }));
    });
    request.on('response', (answer: IncomingMessage) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', (error) => request.emit('error', error));
      answer.on('end', () => {
        done();
        const status = answer.statusCode ?? 502;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(answer.headers)) {
          if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
          else if (value !== undefined) responseHeaders.set(name, value);
        }
        resolve(new Response(NO_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: answer.statusMessage ?? '', headers: responseHeaders }));
      });
    });
    request.end(payload);
  });
};

/** The runtime's own `fetch`, read per call, not Next.js's caching wrapper of it (which keeps the original on `_nextOriginalFetch`). */
export function platformFetch(): typeof fetch {
  const current = globalThis.fetch as typeof fetch & { _nextOriginalFetch?: typeof fetch };
  return current._nextOriginalFetch ?? current;
}

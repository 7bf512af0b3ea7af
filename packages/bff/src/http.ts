import { BffError } from './errors.js';

/**
 * Headers on every answer under the BFF's base path: never cached, never sniffed, never
 * compressed on the way. `no-transform` keeps a framework's compression (Next.js gzips any answer
 * over 1 kB for a client that accepts it, as every browser does) off these answers: they are a
 * kilobyte or two, gzip's set-up alone cost about 0.3 ms per `/token` answer, and an answer that
 * carries a credential is better not compressed at all (compression side channels, as in BREACH).
 */
export const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store, no-transform',
  'x-content-type-options': 'nosniff',
});

/** The largest request body the BFF reads. */
export const MAX_BODY_BYTES = 4096;

/** A `no-store` JSON answer. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/**
 * Reads a small JSON object body; an empty body is `{}`. A declared or actual size over
 * {@link MAX_BODY_BYTES} is 413 before reading on; a body that has not arrived within
 * `timeoutMs` is 408 and the stream is cancelled, so a client that never finishes holds nothing.
 */
export async function readJsonBody(request: Request, timeoutMs: number): Promise<Record<string, unknown>> {
  const declared = request.headers.get('content-length');
  if (declared !== null && !/^\d+$/.test(declared.trim())) throw new BffError('invalid_request', 400, 'Content-Length is not a number.');
  if (Number(declared ?? '0') > MAX_BODY_BYTES) throw tooLarge();
  const text = await readLimited(request, MAX_BODY_BYTES, timeoutMs);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BffError('invalid_request', 400, 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BffError('invalid_request', 400, 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

async function readLimited(request: Request, limit: number, timeoutMs: number): Promise<string> {
  if (!request.body) return '';
  return new TextDecoder().decode(await readBodyBytes(request.body, limit, timeoutMs, tooLarge));
}

/**
 * Reads a request body whole, within `limit` bytes counted as chunks arrive (an endless body is
 * cut off at the limit, never buffered on: `tooLarge()` is thrown), and within `timeoutMs` (408
 * `request_timeout`; the stream is cancelled either way). A body that breaks off is 400.
 */
export async function readBodyBytes(body: ReadableStream<Uint8Array>, limit: number, timeoutMs: number, tooLarge: () => BffError): Promise<Uint8Array<ArrayBuffer>> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BffError('request_timeout', 408, `The request body did not arrive within ${timeoutMs} ms.`)), timeoutMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    void reader.cancel().catch(() => {});
    if (error instanceof BffError) throw error;
    throw new BffError('invalid_request', 400, 'The request body could not be read.', { cause: error });
  } finally {
    clearTimeout(timer);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge() {
  return new BffError('payload_too_large', 413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
}

import { CSRF_HEADER } from '@latchkey/core';
import { BffError } from './errors.js';

/**
 * The gate every POST passes before its cookie is even read: the `x-latchkey: 1` header (a
 * cross-site form cannot set it), a JSON content type (simple content types are how CSRF
 * slips past CORS preflight), and same-origin Fetch Metadata, or, without it, an `Origin`
 * equal to the configured app origin. `anyContentType` drops the JSON rule only (the API
 * proxy, which carries any body; see routes/apiProxy.ts for why the header is enough there).
 */
export function checkCsrf(request: Request, appOrigin: string, options: { anyContentType?: boolean } = {}): BffError | undefined {
  const reject = (reason: string) => new BffError('csrf_rejected', 403, `Request refused: ${reason}.`);
  if (request.headers.get(CSRF_HEADER) !== '1') return reject(`the "${CSRF_HEADER}: 1" header is missing`);
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (!options.anyContentType && type !== 'application/json') {
    return reject(`the content type must be application/json, got ${JSON.stringify(type || '(none)')}`);
  }
  const site = request.headers.get('sec-fetch-site');
  if (site !== null) {
    if (site !== 'same-origin') return reject(`Sec-Fetch-Site is "${site}", not same-origin`);
    return undefined;
  }
  const origin = request.headers.get('origin');
  if (origin !== appOrigin) return reject(`Origin ${JSON.stringify(origin)} is not the app origin`);
  return undefined;
}

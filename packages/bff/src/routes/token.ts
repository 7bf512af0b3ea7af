import { DPOP_HTU_HEADER } from '@latchkey/core';
import { readDpopProof, type DpopProof } from '../dpop.js';
import { BffError } from '../errors.js';
import { json, readJsonBody } from '../http.js';
import { signedOut, tokenFailure } from './answers.js';
import type { Route } from './context.js';

export const MAX_MIN_VALIDITY = 86_400;

/** `POST /token`: an access token with at least `minValidity` seconds left, refreshing (and rotating) when needed. */
export const token: Route = {
  method: 'POST',
  async run(ctx, request, url) {
    const { config, tokens } = ctx;
    const body = url.search === '' ? await readJsonBody(request, config.bodyTimeoutMs) : queryParameters(request, url);
    const minValidity = body.minValidity ?? 30;
    if (typeof minValidity !== 'number' || !Number.isFinite(minValidity) || minValidity < 0 || minValidity > MAX_MIN_VALIDITY) {
      throw new BffError('invalid_request', 400, `minValidity must be a number of seconds from 0 to ${MAX_MIN_VALIDITY}, got ${JSON.stringify(body.minValidity)}.`);
    }
    const idle = body.idle;
    if (idle !== undefined && (typeof idle !== 'number' || !Number.isFinite(idle) || idle < 0)) {
      throw new BffError('invalid_request', 400, `idle must be a non-negative number of seconds, got ${JSON.stringify(idle)}.`);
    }
    const optional = body.optional ?? false;
    if (optional !== true && optional !== false) throw new BffError('invalid_request', 400, `optional must be true (or 1 in the query), got ${JSON.stringify(optional)}.`);
    const { session, present } = ctx.readSession(request);
    if (!session) {
      // A page finding out whether anyone is signed in: no cookie at all is no error.
      if (optional && !present) {
        await ctx.limit('anonymousPerIp', config.clientIp(request));
        return new Response(null, { status: 204 });
      }
      return signedOut(ctx, request, present);
    }
    // Over the limit, the session stays: a 429 never clears the cookie.
    const limited = ctx.limit('tokenPerFamily', session.fid);
    if (limited) await limited;
    let proof: DpopProof | undefined;
    let htu: string | undefined;
    if (config.dpop) {
      htu = await ctx.oidc.tokenEndpoint();
      proof = readDpopProof(request, htu, config.now());
    }
    try {
      const outcome = await tokens.getToken(session, minValidity, idle as number | undefined, { proof });
      const response = json(200, outcome.body);
      if (htu) response.headers.set(DPOP_HTU_HEADER, htu);
      if (outcome.cookie) response.headers.append('set-cookie', ctx.sessionCookie(outcome.cookie, outcome.session));
      return response;
    } catch (error) {
      return tokenFailure(ctx, error);
    }
  },
};

const QUERY_NUMBER = /^\d{1,9}(\.\d{1,6})?$/;

/**
 * `minValidity` and `idle` from the query string. The Latchkey client sends them there, with no
 * body: reading even an empty body through a framework's stream machinery was most of what a
 * cached answer cost under Next. Without a query the JSON body is read instead (other clients);
 * with one, a request that declares a body is refused (400) rather than half read.
 */
function queryParameters(request: Request, url: URL): Record<string, unknown> {
  const length = request.headers.get('content-length');
  if ((length !== null && length.trim() !== '0') || request.headers.has('transfer-encoding')) {
    throw new BffError('invalid_request', 400, 'Give minValidity and idle either in the query or in a JSON body, not both.');
  }
  const query: Record<string, unknown> = {};
  for (const [name, value] of url.searchParams) {
    if (name !== 'minValidity' && name !== 'idle' && name !== 'optional') {
      throw new BffError('invalid_request', 400, `Unknown query parameter ${JSON.stringify(name)}; /token takes minValidity, idle and optional.`);
    }
    if (Object.hasOwn(query, name)) throw new BffError('invalid_request', 400, `${name} is given twice.`);
    query[name] = name === 'optional' ? value === '1' || value : QUERY_NUMBER.test(value) ? Number(value) : value;
  }
  return query;
}

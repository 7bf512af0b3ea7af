import { readLoginRequest } from '../authorizationParams.js';
import { serializeCookie, clearCookie, readCookies } from '../cookies.js';
import { BffError } from '../errors.js';
import { safeReturnTo } from '../returnTo.js';
import type { TransactionData } from '../session.js';
import type { Route } from './context.js';

/** How long a sign-in may take between `/login` and `/callback`. */
export const TRANSACTION_SECONDS = 600;
/** Sign-ins in progress kept per browser; more are cleared (each is one cookie). */
const MAX_TRANSACTIONS = 4;

/** The cookie of the sign-in transaction with this `state`: one per sign-in, so tabs do not break each other's. */
export function transactionCookieName(prefix: string, state: string): string {
  return `${prefix}-${state}`;
}

/**
 * `GET /login?returnTo=/path`: starts the code flow with PKCE. Other query parameters are
 * authorization parameters for this sign-in (`prompt`, `login_hint`…, extra `scope`s): each
 * must be allowed by the configuration, given once and well-formed, else 400 `invalid_request`.
 *
 * A person who navigates here while signed in ends that session first, upstream too: a
 * provider that keeps one grant per browser (oidc-provider does) would otherwise hand the new
 * session the old grant, and revoking the old token at the callback would end both. Only a
 * real navigation does this — not a prefetch, an image or a script — so a link rendered or
 * prefetched by the app can never sign anyone out.
 */
export const login: Route = {
  method: 'GET',
  async run(ctx, request, url) {
    const { config, sealer, oidc, tokens } = ctx;
    await ctx.limit('loginPerIp', config.clientIp(request));
    const raw = url.searchParams.getAll('returnTo');
    if (raw.length > 1) throw new BffError('invalid_return_to', 400, 'returnTo was given more than once.');
    const returnTo = safeReturnTo(raw[0] ?? null, config.appOrigin, config.basePath);
    if (returnTo === undefined) {
      throw new BffError('invalid_return_to', 400, `returnTo must be a path on this site such as "/notes", got ${JSON.stringify(raw[0])}.`);
    }
    const start = await oidc.buildAuthorizationUrl(readLoginRequest(url.searchParams, config));
    const headers = new Headers({ location: start.url.href });

    const { session } = ctx.readSession(request);
    if (session && isUserNavigation(request)) {
      await tokens.revokeFamily(session.fid, 'new_sign_in', [session]);
      headers.append('set-cookie', ctx.clearSessionCookie());
    }
    const pending = readCookies(request.headers.get('cookie'), `${config.transactionCookieName}-`);
    if (pending.length >= MAX_TRANSACTIONS) for (const name of pending) headers.append('set-cookie', clearCookie(name, 'Lax'));

    const tx: TransactionData = { state: start.state, nonce: start.nonce, verifier: start.verifier, returnTo, ...(start.maxAge !== undefined && { maxAge: start.maxAge }) };
    // Lax, not Strict: the provider's redirect back is a cross-site navigation and must carry it.
    headers.append(
      'set-cookie',
      serializeCookie(transactionCookieName(config.transactionCookieName, start.state), sealer.seal(tx, TRANSACTION_SECONDS), {
        maxAge: TRANSACTION_SECONDS,
        sameSite: 'Lax',
      }),
    );
    return new Response(null, { status: 302, headers });
  },
};

/**
 * A top-level navigation a person made from this app (or typed in): Fetch Metadata says a
 * same-origin or direct document navigation and nothing speculative. A sibling site that
 * receives the Strict cookie too cannot use it to sign anyone out.
 */
export function isUserNavigation(request: Request): boolean {
  const h = request.headers;
  const site = h.get('sec-fetch-site');
  return (
    (site === 'same-origin' || site === 'none') &&
    h.get('sec-fetch-mode') === 'navigate' &&
    h.get('sec-fetch-dest') === 'document' &&
    h.get('sec-purpose') === null &&
    h.get('purpose') === null &&
    h.get('next-router-prefetch') === null
  );
}

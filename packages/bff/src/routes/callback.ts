import * as oauth from 'oauth4webapi';
import { clearCookie, readCookie } from '../cookies.js';
import { BffError } from '../errors.js';
import { returnToUrl } from '../returnTo.js';
import { isTransactionData, type SessionData } from '../session.js';
import { buildSessionUser } from '../sessionUser.js';
import { landingResponse } from '../landing.js';
import type { Route } from './context.js';
import { transactionCookieName } from './login.js';

const STATE = /^[A-Za-z0-9_-]{16,128}$/;
const SINGLE = ['code', 'state', 'iss', 'error', 'error_description'] as const;

/**
 * `GET /callback`: finds the sign-in transaction by `state`, redeems the code, validates the
 * ID token and starts a new session family. A callback for a state this browser did not start
 * leaves every sign-in in progress alone.
 */
export const callback: Route = {
  method: 'GET',
  async run(ctx, request, url) {
    const { config, sealer, oidc, tokens } = ctx;
    const headers = new Headers({ 'referrer-policy': 'no-referrer' });
    // Every failed sign-in is reported once, whatever ends it: the metrics and the audit trail count these.
    let reported = false;
    const failed = (outcome: 'failure' | 'provider_error', error: string) => {
      reported = true;
      config.onEvent({ type: 'sign_in_failed', outcome, error: error.slice(0, 64) });
    };
    const fail = (error: BffError, clearName?: string) => {
      failed('failure', error.code);
      const response = error.toResponse({ headers });
      if (clearName) response.headers.append('set-cookie', clearCookie(clearName, 'Lax'));
      return response;
    };
    try {
      for (const name of SINGLE) {
        if (url.searchParams.getAll(name).length > 1) return fail(new BffError('invalid_request', 400, `The sign-in response has "${name}" more than once.`));
      }
      const state = url.searchParams.get('state') ?? '';
      if (!STATE.test(state)) {
        return fail(new BffError('missing_transaction', 400, 'The sign-in response carries no valid state, so it belongs to no sign-in of this browser. Start again.'));
      }
      const txName = transactionCookieName(config.transactionCookieName, state);
      const tx = sealer.unseal(readCookie(request.headers.get('cookie'), txName), isTransactionData);
      if (!tx || tx.state !== state) {
        return fail(new BffError('missing_transaction', 400, 'No sign-in with this state is in progress in this browser (it expired or was already used). Start again.'));
      }
      if (!url.searchParams.get('error') && !url.searchParams.get('code')) {
        return fail(new BffError('invalid_request', 400, 'The sign-in response carries neither a code nor an error. Start again.'), txName);
      }
      // From here on this transaction is spent, whatever happens.
      let result;
      try {
        result = await oidc.exchangeCode(url, tx);
      } catch (error) {
        if (error instanceof oauth.AuthorizationResponseError) {
          failed('provider_error', error.error);
          const target = returnToUrl(tx.returnTo, config.appOrigin);
          target.searchParams.set('auth_error', error.error);
          headers.set('location', target.href);
          headers.append('set-cookie', clearCookie(txName, 'Lax'));
          return new Response(null, { status: 302, headers });
        }
        if (error instanceof BffError && error.status !== undefined && error.status < 500) return fail(error, txName);
        failed('provider_error', error instanceof BffError ? error.code : 'server_error');
        throw error;
      }
      if (!result.refreshToken) {
        return fail(
          new BffError('invalid_grant', 400, 'The identity provider issued no refresh token; allow the refresh_token grant and the offline_access scope for this client.'),
          txName,
        );
      }
      let session: SessionData;
      try {
        const user = await buildSessionUser(config, { ...result.claims, sub: String(result.claims?.sub) }, { accessToken: result.accessToken, scope: result.scope });
        session = { fid: oauth.generateRandomState(), v: 1, rt: result.refreshToken, user, ca: Math.floor(config.now() / 1000) };
        checkCookieSize(ctx.sessionCookie(tokens.sealSession(session), session));
      } catch (error) {
        // Before anything is started or ended: a misconfigured user leaves any existing session alone.
        if (error instanceof BffError) return fail(error, txName);
        throw error;
      }
      // A session that appeared meanwhile (another tab signed in) ends here, but only locally:
      // it probably shares the provider's grant with this one, and revoking it would end both.
      const previous = ctx.readSession(request);
      if (previous.session) await tokens.revokeFamily(previous.session.fid, 'new_sign_in', [previous.session], false);

      const sealed = await tokens.startFamily(session, result);
      config.onEvent({ type: 'session_created', familyId: session.fid, sub: session.user.sub });
      headers.append('set-cookie', clearCookie(txName, 'Lax'));
      headers.append('set-cookie', ctx.sessionCookie(sealed, session));
      // A page that moves on by itself, not a 302: see landingResponse().
      return landingResponse(returnToUrl(tx.returnTo, config.appOrigin), headers);
    } catch (error) {
      // Anything thrown past the checks above (the store failing at the start of the family, a bug).
      if (!reported) failed('failure', error instanceof BffError ? error.code : 'server_error');
      throw error;
    }
  },
};

/** What browsers keep of one cookie, name, value and attributes together (RFC 6265 §6.1 asks for at least this much). */
const MAX_SET_COOKIE_BYTES = 4096;

/**
 * A session cookie too large for browsers is dropped without a word, and the person is signed
 * in nowhere: refuse it at sign-in, loudly, naming what to shrink.
 */
function checkCookieSize(setCookie: string): void {
  const bytes = new TextEncoder().encode(setCookie).length;
  if (bytes <= MAX_SET_COOKIE_BYTES) return;
  const detail = `the session cookie would be ${bytes} bytes, over the ${MAX_SET_COOKIE_BYTES} browsers keep; keep fewer claims in the user ("userClaims" or "mapUser")`;
  console.error(`[latchkey] configuration error: ${detail}.`);
  throw new BffError('configuration_error', 500, `Sign-in is misconfigured on the server (${detail}). This needs an operator; retrying will not help.`);
}

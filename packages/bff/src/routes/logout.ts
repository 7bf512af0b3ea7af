import { json, readJsonBody } from '../http.js';
import type { Route } from './context.js';

/**
 * `POST /logout`: revokes the family (upstream too, even when the store is down), clears the cookie, and answers the
 * provider's logout URL with `id_token_hint`, so the provider ends its own session and the
 * next sign-in asks for credentials again.
 */
export const logout: Route = {
  method: 'POST',
  async run(ctx, request) {
    const { config, tokens, oidc } = ctx;
    await readJsonBody(request, config.bodyTimeoutMs);
    const { session } = ctx.readSession(request);
    let idToken: string | undefined;
    if (session) {
      idToken = await tokens.idToken(session.fid).catch(() => undefined);
      try {
        if (await tokens.revokeFamily(session.fid, 'logout', [session])) config.onEvent({ type: 'logged_out', familyId: session.fid, sub: session.user.sub });
      } catch (error) {
        // The store failed; the refresh token was still revoked upstream and the cookie goes below.
        // Signing out must never fail in the browser while the session lives on.
        console.error('[latchkey] sign-out could not reach the session store; the refresh token was revoked upstream', error);
      }
    }
    const endSessionUrl = await oidc.endSessionUrl(idToken);
    const response = json(200, endSessionUrl ? { endSessionUrl } : {});
    response.headers.append('set-cookie', ctx.clearSessionCookie());
    return response;
  },
};

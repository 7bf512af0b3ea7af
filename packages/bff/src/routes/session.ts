import type { SessionResponseBody } from '@latchkey/core';
import { json } from '../http.js';
import type { Route } from './context.js';

/**
 * `GET /session`: who is signed in, without any token. Read-only for a family the store knows;
 * one it does not know (a restarted memory store) is first confirmed with the provider.
 */
export const session: Route = {
  method: 'GET',
  async run(ctx, request) {
    const { session: presented, present } = ctx.readSession(request);
    if (!presented) {
      if (present) await ctx.limit('anonymousPerIp', ctx.config.clientIp(request));
      return json(200, { authenticated: false } satisfies SessionResponseBody);
    }
    const confirmed = await ctx.tokens.confirm(presented);
    if (!confirmed) return json(200, { authenticated: false } satisfies SessionResponseBody);
    const user = confirmed === 'signed_in' ? presented.user : confirmed.session.user;
    const response = json(200, { authenticated: true, user } satisfies SessionResponseBody);
    if (confirmed !== 'signed_in' && confirmed.cookie) response.headers.append('set-cookie', ctx.sessionCookie(confirmed.cookie, confirmed.session));
    return response;
  },
};

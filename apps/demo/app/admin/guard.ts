import { getBff, isAdmin } from '../../lib/auth';
import { demoConfig } from '../../lib/config';

type SessionUser = NonNullable<Awaited<ReturnType<ReturnType<typeof getBff>['findSession']>>>;

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function refuse(status: number, error: string, description: string): Response {
  return Response.json({ error, error_description: description }, { status, headers: NO_STORE });
}

/**
 * The check every /admin API route makes first, on the server: an admin's session (the ID
 * token's `roles` holds `admin`), else 403 — signed out included; 503 when the session cannot
 * be read right now. A POST must also pass the same CSRF gate as the BFF's own POSTs: the
 * `x-latchkey: 1` header, a JSON body, and a same-origin `Sec-Fetch-Site` (or, without it, an
 * `Origin` equal to the app's).
 */
export async function requireAdmin(request: Request): Promise<{ admin: SessionUser; refused?: undefined } | { admin?: undefined; refused: Response }> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const site = request.headers.get('sec-fetch-site');
    const sameOrigin = site !== null ? site === 'same-origin' : request.headers.get('origin') === demoConfig.appOrigin;
    if (request.headers.get('x-latchkey') !== '1' || type !== 'application/json' || !sameOrigin) {
      return { refused: refuse(403, 'csrf_rejected', 'Admin actions need the x-latchkey: 1 header, a JSON body and a same-origin request.') };
    }
  }
  // The request's own cookie, as the BFF's routes read it: null when nobody is signed in, a rejection on store trouble.
  const user = await getBff()
    .findSession(request.headers.get('cookie'))
    .catch(() => undefined);
  if (user === undefined) return { refused: refuse(503, 'store_unavailable', 'The session cannot be checked right now. Try again shortly.') };
  if (!user || !isAdmin(user)) return { refused: refuse(403, 'forbidden', 'This needs an administrator (the admin role in your ID token).') };
  return { admin: user };
}

/** A JSON answer that no cache keeps. */
export function answer(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: NO_STORE });
}

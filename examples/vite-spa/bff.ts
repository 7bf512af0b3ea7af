import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createBff } from '@latchkey/bff';
import { nodeHandler } from '@latchkey/bff/node';
import { createVerifier } from '@latchkey/resource';

/**
 * The BFF and a small notes API in one plain node:http server, apart from the SPA. Vite (dev
 * or preview) proxies `/api` here; the browser never sees this server's address.
 * Defaults match the dev provider (apps/idp): `pnpm --filter @latchkey/idp start`.
 */
const env = process.env;
const port = Number(env.BFF_PORT || 8787);
const issuer = env.OIDC_ISSUER || 'http://127.0.0.1:4000';
// The origin the browser is on: Vite's, not this server's. Redirects and the CSRF check use it.
const appOrigin = env.APP_ORIGIN || 'http://localhost:5173';

if (env.NODE_ENV === 'production' && !env.LATCHKEY_COOKIE_SECRET) {
  throw new Error('LATCHKEY_COOKIE_SECRET is not set. Make one with: openssl rand -base64 32');
}

const bff = createBff({
  issuer,
  clientId: env.OIDC_CLIENT_ID || 'latchkey-demo',
  clientSecret: env.OIDC_CLIENT_SECRET || 'latchkey-demo-secret-for-local-development-only',
  appOrigin,
  cookieSecret: env.LATCHKEY_COOKIE_SECRET || 'latchkey-vite-example-secret-for-local-dev-only-0123456789',
  scope: 'openid profile email offline_access notes:read',
  // A provider on this machine may speak http:; anything else must be https:.
  allowInsecureHttp: ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(issuer).hostname),
  // Every request comes through Vite's proxy, which appends the browser's address (xfwd).
  trustProxy: 1,
});

const verifier = createVerifier({ issuer, audience: env.OIDC_AUDIENCE || 'urn:latchkey:demo-api', requiredScopes: ['notes:read'] });

const NOTES: Record<string, string[]> = {
  alice: ['Buy milk', 'Follow the white rabbit', 'Tea at six'],
  bob: ['Fix the roof', 'Order bricks'],
};

/** `GET /api/notes`: the caller's own notes, for a valid bearer token only. */
async function notes(req: IncomingMessage, res: ServerResponse) {
  const authorization = req.headers.authorization;
  const result = await verifier.verify(new Request(`${appOrigin}/api/notes`, { headers: authorization ? { authorization } : {} }));
  const response = result.ok
    ? Response.json({ owner: result.claims.sub, notes: (NOTES[result.claims.sub] ?? []).map((text, id) => ({ id, text })) })
    : result.response;
  res.writeHead(response.status, { ...Object.fromEntries(response.headers), 'cache-control': 'no-store' });
  res.end(await response.text());
}

const auth = nodeHandler(bff);
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/api/notes') {
    notes(req, res).catch((error: unknown) => {
      console.error('[bff] /api/notes failed', error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"server_error"}');
    });
    return;
  }
  // Everything under /api/auth goes to the BFF; anything else is not ours.
  auth(req, res, () => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not_found"}');
  });
}).listen(port, '127.0.0.1', () => console.log(`[bff] on http://127.0.0.1:${port} for the app at ${appOrigin}`));

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { authenticate } from './accounts.js';
import { idpConfiguration, type IdpOptions } from './config.js';

/** Counts of what the provider did, served at `GET /__dev/stats`. */
export interface IdpStats {
  grants: { authorization_code: number; refresh_token: number };
  /** Grants revoked, whether by refresh-token reuse, revocation or logout. */
  revoked: number;
  /** Refresh tokens presented a second time (each one revoked its grant). */
  reuseDetected: number;
}

export interface StartIdpOptions extends Partial<Omit<IdpOptions, 'issuer'>> {
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** Host to bind and to name in the issuer. */
  host?: string;
}

export interface RunningIdp {
  issuer: string;
  port: number;
  provider: Provider;
  stats(): IdpStats;
  close(): Promise<void>;
}

/** Starts the dev OpenID Provider and resolves once it listens. */
export async function startIdp(options: StartIdpOptions = {}): Promise<RunningIdp> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host}:${port}`;
  const provider = new Provider(
    issuer,
    idpConfiguration({
      issuer,
      accessTokenTtl: options.accessTokenTtl ?? 300,
      refreshTokenTtl: options.refreshTokenTtl ?? 14 * 24 * 3600,
      appOrigins: options.appOrigins ?? ['http://localhost:3000', 'http://localhost:3001'],
      dpopNonce: options.dpopNonce ?? false,
    }),
  );
  const stats: IdpStats = { grants: { authorization_code: 0, refresh_token: 0 }, revoked: 0, reuseDetected: 0 };
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params?.grant_type;
    if (type === 'authorization_code' || type === 'refresh_token') stats.grants[type] += 1;
  });
  provider.on('grant.revoked', () => {
    stats.revoked += 1;
  });
  provider.on('grant.error', (_ctx, error: Error & { error_description?: string }) => {
    if (error.error_description === 'refresh token already used') stats.reuseDetected += 1;
  });
  // Quiet by default: expected protocol errors (a reused token, a bad code) are the point of tests.
  provider.on('server_error', (_ctx, error) => console.error('[idp] server_error', error));

  const oidc = provider.callback();
  server.on('request', (req, res) => {
    route(provider, stats, req, res, oidc).catch((error: unknown) => {
      console.error('[idp]', error);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
    });
  });

  return {
    issuer,
    port,
    provider,
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function route(
  provider: Provider,
  stats: IdpStats,
  req: IncomingMessage,
  res: ServerResponse,
  oidc: (req: IncomingMessage, res: ServerResponse) => unknown,
) {
  const url = new URL(req.url ?? '/', 'http://idp.invalid');
  if (url.pathname === '/__dev/stats' && req.method === 'GET') {
    return send(res, 200, 'application/json', JSON.stringify(stats));
  }
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
  if (!match) return oidc(req, res);

  const details = await provider.interactionDetails(req, res).catch(() => undefined);
  if (!details || details.uid !== match[1]) {
    return send(res, 400, 'text/html', page('Sign-in expired', '<p>This sign-in attempt expired. Go back to the app and sign in again.</p>'));
  }
  if (details.prompt.name !== 'login') {
    // First-party client: consent is implied (the grant is made in loadExistingGrant).
    return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST' && match[2]) {
    const form = new URLSearchParams(await readBody(req));
    const accountId = authenticate(form.get('username'), form.get('password'));
    if (accountId) {
      return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    }
    return send(res, 401, 'text/html', loginPage(details.uid, 'Wrong username or password.'));
  }
  return send(res, 200, 'text/html', loginPage(details.uid));
}

function loginPage(uid: string, error?: string) {
  return page(
    'Sign in',
    `${error ? `<p role="alert" style="color:#b00020">${error}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login" autocomplete="off">
      <label>Username <input name="username" autofocus required></label>
      <label>Password <input name="password" type="password" required></label>
      <button type="submit">Sign in</button>
    </form>
    <p><small>Dev users: alice / alice, bob / bob</small></p>`,
  );
}

function page(title: string, body: string) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · Latchkey dev IdP</title>
<style>body{font:16px system-ui;max-width:22rem;margin:4rem auto}label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem}button{padding:.5rem 1.2rem}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit = 16_384): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > limit) break;
  }
  return body;
}

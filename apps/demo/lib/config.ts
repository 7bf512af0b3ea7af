import { DEMO_API_AUDIENCE_DEFAULT } from './constants';

/**
 * The demo's settings: every value comes from the environment when set, and otherwise from
 * embedded development defaults that match apps/idp, so the demo runs with zero configuration.
 */
const port = process.env.PORT || '3000';
const appOrigin = process.env.APP_ORIGIN || `http://localhost:${port}`;
const issuer = process.env.OIDC_ISSUER || 'http://127.0.0.1:4000';

const grace = process.env.LATCHKEY_REFRESH_GRACE_SECONDS;

export const demoConfig = {
  appOrigin,
  issuer,
  clientId: process.env.OIDC_CLIENT_ID || 'latchkey-demo',
  clientSecret: process.env.OIDC_CLIENT_SECRET || 'latchkey-demo-secret-for-local-development-only',
  // Dev default only: set LATCHKEY_COOKIE_SECRET (32+ random characters) anywhere real.
  cookieSecret: process.env.LATCHKEY_COOKIE_SECRET || 'latchkey-demo-cookie-secret-for-local-dev-only-0123456789',
  scope: process.env.OIDC_SCOPE || 'openid profile email offline_access notes:read',
  audience: process.env.OIDC_AUDIENCE || DEMO_API_AUDIENCE_DEFAULT,
  jwksUri: process.env.OIDC_JWKS_URI || `${issuer.replace(/\/$/, '')}/jwks`,
  graceSeconds: grace ? Number(grace) : undefined,
  // Set to share sessions' locks, caches and denylist between several demo instances.
  redisUrl: process.env.REDIS_URL || undefined,
  allowInsecureHttp: new URL(issuer).protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(issuer).hostname),
};

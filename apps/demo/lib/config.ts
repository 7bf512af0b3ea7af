import { DEMO_API_AUDIENCE_DEFAULT } from './constants';

/**
 * The demo's settings: every value comes from the environment when set, and otherwise from
 * embedded development defaults that match apps/idp, so the demo runs with zero configuration.
 * The cookie secret is the exception: in production it must be set (see {@link requireCookieSecret}).
 */
const port = process.env.PORT || '3000';
const appOrigin = process.env.APP_ORIGIN || `http://localhost:${port}`;
const issuer = process.env.OIDC_ISSUER || 'http://127.0.0.1:4000';

const grace = process.env.LATCHKEY_REFRESH_GRACE_SECONDS;

/** Seals cookies under `next dev` only; public, so never good enough for `next start`. */
const DEV_COOKIE_SECRET = 'latchkey-demo-cookie-secret-for-local-dev-only-0123456789';

/** The one line the demo refuses to run with when production has no cookie secret. */
export const MISSING_COOKIE_SECRET = 'LATCHKEY_COOKIE_SECRET is not set. Make one with: openssl rand -base64 32';

/**
 * The secret that seals the session cookie: `LATCHKEY_COOKIE_SECRET`, or the embedded dev
 * value outside production. Under `NODE_ENV=production` without it, throws
 * {@link MISSING_COOKIE_SECRET}, since a public default would let anyone forge sessions.
 * Call it when the BFF is created, not at import: `next build` also runs with
 * `NODE_ENV=production` and imports modules on machines that hold no secrets.
 * @example
 * const bff = createBff({ ...settings, cookieSecret: requireCookieSecret() });
 */
export function requireCookieSecret(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const secret = env.LATCHKEY_COOKIE_SECRET;
  if (secret) return secret;
  // `next build` evaluates route modules to collect their configuration; nothing is sealed
  // then, so a module that builds its BFF at import must not fail the build (Next's own
  // instrumentation hook skips this phase the same way).
  if (env.NEXT_PHASE === 'phase-production-build') return DEV_COOKIE_SECRET;
  if (env.NODE_ENV === 'production') throw new Error(MISSING_COOKIE_SECRET);
  return DEV_COOKIE_SECRET;
}

/**
 * `LATCHKEY_RATE_LIMITS`: unset for the BFF's defaults, `off` for none (load tests), or JSON of
 * the limits to change, e.g. `{"tokenPerFamily":{"limit":600,"windowSeconds":60}}`.
 */
export function rateLimitsFromEnv(value = process.env.LATCHKEY_RATE_LIMITS): false | Record<string, unknown> | undefined {
  if (!value) return undefined;
  if (value.trim() === 'off') return false;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`LATCHKEY_RATE_LIMITS must be "off" or a JSON object of limits, got ${JSON.stringify(value)}.`);
}

export const demoConfig = {
  appOrigin,
  issuer,
  clientId: process.env.OIDC_CLIENT_ID || 'latchkey-demo',
  clientSecret: process.env.OIDC_CLIENT_SECRET || 'latchkey-demo-secret-for-local-development-only',
  /** {@link requireCookieSecret}, read when asked for: it throws in production when unset. */
  get cookieSecret(): string {
    return requireCookieSecret();
  },
  scope: process.env.OIDC_SCOPE || 'openid profile email offline_access notes:read',
  audience: process.env.OIDC_AUDIENCE || DEMO_API_AUDIENCE_DEFAULT,
  // Unset: the verifier finds the JWKS through the provider's discovery document.
  jwksUri: process.env.OIDC_JWKS_URI || undefined,
  graceSeconds: grace ? Number(grace) : undefined,
  // How many proxies in front of the demo append to X-Forwarded-For (0: the header is ignored).
  trustProxy: Number(process.env.LATCHKEY_TRUST_PROXY || 0),
  // Set to share sessions' locks, caches and denylist between several demo instances.
  redisUrl: process.env.REDIS_URL || undefined,
  allowInsecureHttp: new URL(issuer).protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(issuer).hostname),
};

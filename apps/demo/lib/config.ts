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

/** How the demo's browser code reaches its API: see {@link modeFromEnv}. */
export type DemoMode = 'token' | 'proxy' | 'both';

/**
 * `LATCHKEY_MODE`: `token` (the default) hands the page a short-lived access token for the
 * notes API; `proxy` (the BFF pattern of RFC 10017) keeps every token on the server: the page
 * calls `/api/auth/proxy/notes/...`, the BFF attaches the token, and `POST /api/auth/token`
 * answers 404; `both`: the page works as in token mode and the proxy answers too (`pnpm bench`
 * compares a call through it with the same call made with the token). Anything else is refused,
 * naming the variable and the value.
 */
export function modeFromEnv(value = process.env.LATCHKEY_MODE): DemoMode {
  if (value === undefined || value === '' || value === 'token') return 'token';
  if (value === 'proxy' || value === 'both') return value;
  throw new Error(`LATCHKEY_MODE must be "token", "proxy" or "both", got ${JSON.stringify(value)}.`);
}

/**
 * `LATCHKEY_DPOP=1`: token mode with DPoP (RFC 9449). The BFF asks the page for a proof with
 * each `/token` call and the provider binds every access token to the page's key; the notes API
 * then takes a token only with a proof of that key (a Bearer token is refused). Token mode only:
 * in proxy mode no token reaches the page to bind.
 */
export function dpopFromEnv(value = process.env.LATCHKEY_DPOP, mode: DemoMode = modeFromEnv()): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value !== '1') throw new Error(`LATCHKEY_DPOP must be "1" (on) or "0" (off), got ${JSON.stringify(value)}.`);
  if (mode !== 'token') throw new Error(`LATCHKEY_DPOP=1 binds the tokens the page holds, so it needs LATCHKEY_MODE=token, got ${JSON.stringify(mode)}.`);
  return true;
}

/**
 * `LATCHKEY_DEMO_TEST_HOOKS=1` lets a request ask the notes API to refuse its token
 * (lib/resource.ts), for the browser tests. Off unless set to exactly `1`: a hook that
 * refuses tokens on request has no place in a deployed app.
 */
export function testHooksFromEnv(value = process.env.LATCHKEY_DEMO_TEST_HOOKS): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new Error(`LATCHKEY_DEMO_TEST_HOOKS must be "1" (on) or "0" (off), got ${JSON.stringify(value)}.`);
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
  // Where the BFF calls the notes API in proxy mode: this server itself, on loopback (so it
  // never leaves the machine, whatever APP_ORIGIN a proxy in front of it shows the browser).
  notesApiUrl: `http://localhost:${port}/api/notes/`,
  allowInsecureHttp: new URL(issuer).protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(issuer).hostname),
};

import type { SessionUser, SessionUserBase } from '@latchkey/core';
import type { MeterProvider } from '@opentelemetry/api';
import { LOOPBACK, resolveApis, type ApiConfig, type BffMode, type ResolvedApi } from './apis.js';
import { resolveAuthorizationOptions } from './authorizationParams.js';
import { ConfigurationError } from './errors.js';
import { jsonLinesLogger, type BffEvent } from './events.js';
import { bffMetrics, type BffMetrics } from './metrics.js';
import { providerFetch } from './providerFetch.js';
import { SESSION_COOKIE } from './proxy.js';
import { resolveUserOptions, type MapUser } from './sessionUser.js';
import { memoryStore, type BffStore } from './store.js';
import type { AuditOptions } from './operations.js';

/** A cookie-sealing secret, or a map of them so keys can rotate: `{ 2: newest, 1: older }`. */
export type CookieSecret = string | Record<number, string>;

/**
 * Options of {@link createBff}. The five that differ per deployment fall back to environment
 * variables, read at first use (never at import): `issuer` ← `OIDC_ISSUER`, `clientId` ←
 * `OIDC_CLIENT_ID`, `clientSecret` ← `OIDC_CLIENT_SECRET`, `cookieSecret` ←
 * `LATCHKEY_COOKIE_SECRET`, `appOrigin` ← `APP_ORIGIN` (see {@link BffConfig.appOrigin}).
 */
export interface BffConfig<User extends SessionUserBase = SessionUser> extends AuditOptions {
  /** The OpenID Provider's issuer identifier, e.g. `https://tenant.eu.auth0.com/` (default `OIDC_ISSUER`). */
  issuer?: string;
  /** The BFF's client id at the provider (default `OIDC_CLIENT_ID`). */
  clientId?: string;
  /** The BFF's client secret (default `OIDC_CLIENT_SECRET`). */
  clientSecret?: string;
  /**
   * The app's origin (scheme, host, port): the only origin allowed to POST, and the base of
   * redirects. Default `APP_ORIGIN`; without it, `http://localhost:$PORT` (port 3000) when
   * NODE_ENV is development or test (`next dev`), and on Vercel the deployment's own URL.
   * Never taken from a request's headers.
   */
  appOrigin?: string;
  /** Secret(s) sealing the session cookie, each at least 32 characters (default `LATCHKEY_COOKIE_SECRET`). */
  cookieSecret?: CookieSecret;
  /** Where the BFF's routes live (default `/api/auth`). */
  basePath?: string;
  /** Registered redirect URI (default `<appOrigin><basePath>/callback`). */
  redirectUri?: string;
  /** Where the provider sends the browser after logout (default `<appOrigin>/`). */
  postLogoutRedirectUri?: string;
  /** Scopes to request (default `openid profile email offline_access`). */
  scope?: string;
  /** RFC 8707 resource indicator for the API the access token is for. */
  resource?: string;
  /**
   * Parameters sent with every authorization request, e.g. Auth0's `{ audience }`. The ones the
   * BFF sets itself (`client_id`, `redirect_uri`, `response_type`, `state`, `nonce`,
   * `code_challenge`, `code_challenge_method`, `scope`, `resource`…) are refused.
   */
  authorizationParams?: Record<string, string>;
  /**
   * Parameters a sign-in link may add (`GET /login?prompt=login`), each once and checked
   * (default `['prompt', 'login_hint', 'acr_values', 'ui_locales', 'max_age']`; `[]`: none).
   * Any other is 400 `invalid_request`.
   */
  allowedLoginParams?: string[];
  /** Scopes a sign-in link may add to `scope` (`GET /login?scope=notes:write`); default none. */
  allowedScopes?: string[];
  /**
   * ID-token claims the session's user keeps, any JSON value (default `sub`, `name`, `email`,
   * `preferred_username`, strings only). `sub` is always kept. At most 2 KB as JSON: the user
   * rides in the session cookie.
   */
  userClaims?: string[];
  /**
   * Builds the session's user from the ID token's claims (and the sign-in's access token)
   * instead of `userClaims`: a plain JSON object of at most 2 KB; `sub` is added when left out
   * and must not differ. Anything else fails the sign-in with a logged 500 `configuration_error`.
   * @example
   * mapUser: (claims) => ({ sub: claims.sub, name: String(claims.name ?? ''), roles: claims.roles ?? [] })
   */
  mapUser?: MapUser<User>;
  /** Absolute session lifetime in seconds from sign-in (default 7 days). See {@link sessionPresets}. */
  absoluteLifetimeSeconds?: number;
  /**
   * Signs out after this many seconds without user activity, as the client reports it
   * (default 1 day; 0 turns it off). Timer refreshes of a forgotten tab do not count.
   */
  idleTimeoutSeconds?: number;
  /**
   * How many live sessions (families) one user may have at once (default 50). Signing in past
   * it signs the oldest out, so "sign out everywhere" always has a bounded list to walk.
   */
  maxSessionsPerUser?: number;
  /** Limits on `/token` and `/login` (sensible defaults; `false` turns them all off). */
  rateLimits?: Partial<RateLimits> | false;
  /**
   * How many proxies in front of the BFF append to `X-Forwarded-For` (default 0: the header is
   * ignored, since without a proxy the client writes it). With N, the client IP is the N-th
   * entry from the right. Vercel, and one nginx or load balancer: 1; a CDN then a load balancer: 2.
   */
  trustProxy?: number;
  /**
   * The client's IP for per-IP limits, for servers that know the socket's address
   * (takes precedence over `trustProxy`). Without either, per-IP limits do not apply.
   */
  clientIp?: (request: Request) => string | undefined;
  /** How long a cookie one rotation behind is healed instead of treated as reuse (default 30 s). */
  graceSeconds?: number;
  /** Timeout for every call to the provider, in ms (default 5000). */
  upstreamTimeoutMs?: number;
  /** Deadline of every store call, in ms (default 2000): past it the BFF answers 503 `store_unavailable`. */
  storeTimeoutMs?: number;
  /** How long a request body may take to arrive, in ms (default 5000): past it, 408 `request_timeout`. */
  bodyTimeoutMs?: number;
  /** Where caches, rotation records and the denylist live (default {@link memoryStore}). */
  store?: BffStore;
  /**
   * APIs the browser calls through the BFF (`<basePath>/proxy/<name>/<path>`), which attaches
   * the session's access token itself: the browser never holds one. See "Proxy mode" in the README.
   * @example
   * apis: { notes: { url: 'https://api.example.com/v1/', methods: ['GET', 'POST'], scopes: ['notes:read'] } }
   */
  apis?: Record<string, ApiConfig>;
  /**
   * Which routes give access (default `token` without `apis`, `proxy` with them): `token`
   * (`POST /token` hands the browser a short-lived access token), `proxy` (only the API proxy:
   * `/token` answers 404, no route hands out a token) or `both`, which costs what proxy mode saves.
   */
  mode?: BffMode;
  /**
   * DPoP-bound access tokens (RFC 9449) in token mode (default false). `POST /token` then
   * requires a DPoP proof for the provider's token endpoint (the Latchkey client makes one with a
   * key that never leaves the browser), forwards it with the refresh grant, and serves a cached
   * access token only to a proof of the key it is bound to. The provider must support DPoP.
   * Server code (`getAccessToken()`) and the API proxy get unbound tokens, each refreshing when
   * the cached token is bound to another key.
   */
  dpop?: boolean;
  /**
   * Allows an `http:` issuer on another machine. Costs: tokens cross the network unencrypted.
   * For development only. A provider on this machine (`localhost`, `127.0.0.1`, `::1`) needs no flag.
   */
  allowInsecureHttp?: boolean;
  /**
   * Receives security and lifecycle events (default: {@link jsonLinesLogger} to the console).
   * A hook that throws is logged once and otherwise ignored: it never fails a request or stops
   * the metrics.
   */
  onEvent?: (event: BffEvent) => void;
  /**
   * Where the BFF's OpenTelemetry instruments come from (default: the global meter provider of
   * `@opentelemetry/api`, looked up at first use, so an SDK registered after import still counts;
   * without any SDK, metrics cost nothing). See "Metrics" in the README.
   */
  meterProvider?: MeterProvider;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** `fetch` used for provider calls (default: a lean one on `node:http(s)`, never a framework's caching wrapper; tests inject one). */
  fetch?: typeof fetch;
}

/** A fixed-window limit: at most `limit` requests per `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/**
 * Authenticated work is limited per session family, never per IP (a large office shares one
 * address); per-IP limits cover only work anyone can cause without a session.
 */
export interface RateLimits {
  /** `/token` calls per session family (default 60 per minute: far above what tabs need). */
  tokenPerFamily: RateLimit | false;
  /** Requests per client IP that carry no usable session: no cookie or one that cannot be opened (default 120 per minute). */
  anonymousPerIp: RateLimit | false;
  /** Sign-in starts per client IP (default 30 per minute). */
  loginPerIp: RateLimit | false;
}

export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  tokenPerFamily: { limit: 60, windowSeconds: 60 },
  anonymousPerIp: { limit: 120, windowSeconds: 60 },
  loginPerIp: { limit: 30, windowSeconds: 60 },
});

/**
 * Lifetimes for common policies, to spread into `createBff()`.
 * @example
 * createBff({ ...options, ...sessionPresets.pciDss });
 */
export const sessionPresets = Object.freeze({
  /** PCI DSS 4.0 §8.2.8: re-authenticate after 15 minutes idle; a working day at most. */
  pciDss: { idleTimeoutSeconds: 15 * 60, absoluteLifetimeSeconds: 12 * 3600 },
  /** OWASP ASVS for higher-risk apps: 30 minutes idle, 12 hours at most. */
  sensitive: { idleTimeoutSeconds: 30 * 60, absoluteLifetimeSeconds: 12 * 3600 },
  /** Consumer apps: a week idle, 30 days at most. */
  consumer: { idleTimeoutSeconds: 7 * 24 * 3600, absoluteLifetimeSeconds: 30 * 24 * 3600 },
});

export interface ResolvedConfig {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  appOrigin: string;
  passwords: Record<number, string>;
  basePath: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  scope: string;
  resource: string | undefined;
  /** The session user's claims (`undefined`: the default display claims). */
  userClaims: readonly string[] | undefined;
  mapUser: MapUser<SessionUserBase> | undefined;
  authorizationParams: Readonly<Record<string, string>>;
  allowedLoginParams: readonly string[];
  allowedScopes: readonly string[];
  absoluteLifetimeSeconds: number;
  idleTimeoutSeconds: number;
  maxSessionsPerUser: number;
  rateLimits: RateLimits;
  clientIp: (request: Request) => string | undefined;
  trustProxy: number;
  graceSeconds: number;
  upstreamTimeoutMs: number;
  storeTimeoutMs: number;
  bodyTimeoutMs: number;
  store: BffStore;
  /** The proxied APIs by name (no prototype). */
  apis: Readonly<Record<string, ResolvedApi>>;
  mode: BffMode;
  dpop: boolean;
  allowInsecureHttp: boolean;
  /** The app's `onEvent` and the metrics recorder, composed. */
  onEvent: (event: BffEvent) => void;
  metrics: BffMetrics;
  now: () => number;
  fetch: typeof fetch;
  cookieName: string;
  transactionCookieName: string;
}

/** What `bff.config` shows: the resolved settings without a secret, a store or a function. */
export type PublicConfig = Omit<ResolvedConfig, 'clientSecret' | 'passwords' | 'store' | 'onEvent' | 'metrics' | 'now' | 'fetch' | 'clientIp' | 'issuer' | 'mapUser'> & { issuer: string };

/** The resolved settings without the client secret, the cookie passwords or anything callable. */
export function publicConfig(config: ResolvedConfig): Readonly<PublicConfig> {
  const { clientSecret: _s, passwords: _p, store: _st, onEvent: _e, metrics: _mt, now: _n, fetch: _f, clientIp: _c, mapUser: _m, issuer, ...rest } = config;
  return Object.freeze({ ...rest, issuer: issuer.href, rateLimits: Object.freeze({ ...rest.rateLimits }) });
}

const KNOWN_WEAK = [/^(change[-_ ]?me|secret|password|default)/i, /^(.)\1+$/];

/** Environment variables the five per-deployment options fall back to. */
const ENV_NAMES = {
  issuer: 'OIDC_ISSUER',
  clientId: 'OIDC_CLIENT_ID',
  clientSecret: 'OIDC_CLIENT_SECRET',
  cookieSecret: 'LATCHKEY_COOKIE_SECRET',
  appOrigin: 'APP_ORIGIN',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates the configuration, with messages that name the option at fault (and the
 * environment variable it falls back to). Called at first use, never at import.
 */
export function resolveConfig(given: BffConfig<SessionUserBase> = {}, env: Env = process.env): ResolvedConfig {
  if (typeof given !== 'object' || given === null) throw new ConfigurationError('pass an options object to createBff().');
  const config: BffConfig<SessionUserBase> = { ...given };
  for (const [name, variable] of Object.entries(ENV_NAMES) as [keyof typeof ENV_NAMES, string][]) {
    if (config[name] === undefined && env[variable]) config[name] = env[variable];
  }
  config.appOrigin ??= defaultAppOrigin(env);
  const required = (name: keyof typeof ENV_NAMES) => {
    const value = config[name];
    if (typeof value !== 'string' || value.trim() === '') {
      const hint = name === 'appOrigin' ? ' In production give the app\'s origin, e.g. APP_ORIGIN=https://app.example.com.' : '';
      throw new ConfigurationError(`"${name}" is required: pass it to createBff() or set ${ENV_NAMES[name]}; got ${JSON.stringify(value)}.${hint}`);
    }
    return value.trim();
  };
  const issuer = parseUrl('issuer', required('issuer'));
  const clientId = required('clientId');
  const clientSecret = required('clientSecret');
  const appOriginRaw = required('appOrigin');
  const appOriginUrl = parseUrl('appOrigin', appOriginRaw);
  if (appOriginUrl.origin !== appOriginRaw.replace(/\/$/, '')) {
    throw new ConfigurationError(`"appOrigin" must be an origin only (scheme://host[:port]), got "${config.appOrigin}".`);
  }
  const allowInsecureHttp = config.allowInsecureHttp === true;
  if (issuer.protocol !== 'https:' && !allowInsecureHttp && !(issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname))) {
    throw new ConfigurationError(
      `"issuer" must use https:, got "${issuer.href}". http: is accepted for a provider on this machine (localhost, 127.0.0.1, ::1); for another host set allowInsecureHttp: true (development only).`,
    );
  }
  const basePath = (config.basePath ?? '/api/auth').replace(/\/+$/, '');
  if (!basePath.startsWith('/')) throw new ConfigurationError(`"basePath" must start with "/", got "${config.basePath}".`);
  const appOrigin = appOriginUrl.origin;
  const redirectUri = parseUrl('redirectUri', config.redirectUri ?? `${appOrigin}${basePath}/callback`).href;
  const postLogoutRedirectUri = parseUrl('postLogoutRedirectUri', config.postLogoutRedirectUri ?? `${appOrigin}/`).href;
  const trustProxy = config.trustProxy ?? 0;
  if (!Number.isInteger(trustProxy) || trustProxy < 0 || trustProxy > 10) {
    throw new ConfigurationError(`"trustProxy" must be the number of proxies in front of the BFF (a whole number from 0 to 10), got ${JSON.stringify(config.trustProxy)}.`);
  }
  const store = config.store ?? memoryStore();
  const metrics = bffMetrics({ meterProvider: config.meterProvider, store });

  return {
    issuer,
    clientId,
    clientSecret,
    appOrigin,
    passwords: resolvePasswords(config.cookieSecret),
    basePath,
    redirectUri,
    postLogoutRedirectUri,
    scope: config.scope ?? 'openid profile email offline_access',
    resource: config.resource,
    ...resolveUserOptions(config),
    ...resolveAuthorizationOptions(config),
    absoluteLifetimeSeconds: positive('absoluteLifetimeSeconds', config.absoluteLifetimeSeconds, 7 * 24 * 3600),
    idleTimeoutSeconds: positive('idleTimeoutSeconds', config.idleTimeoutSeconds, 24 * 3600, true),
    maxSessionsPerUser: wholeNumber('maxSessionsPerUser', config.maxSessionsPerUser, 50),
    rateLimits: resolveRateLimits(config.rateLimits),
    clientIp: config.clientIp ?? forwardedFor(trustProxy),
    trustProxy,
    graceSeconds: positive('graceSeconds', config.graceSeconds, 30, true),
    upstreamTimeoutMs: positive('upstreamTimeoutMs', config.upstreamTimeoutMs, 5000),
    storeTimeoutMs: positive('storeTimeoutMs', config.storeTimeoutMs, 2000),
    bodyTimeoutMs: positive('bodyTimeoutMs', config.bodyTimeoutMs, 5000),
    store,
    ...resolveApis(config.apis, config.mode),
    dpop: flag('dpop', config.dpop),
    // Past the check above, an http: issuer is allowed (on this machine, or by the flag).
    allowInsecureHttp: issuer.protocol === 'http:',
    onEvent: withMetrics(config.onEvent ?? jsonLinesLogger(), metrics),
    metrics,
    now: config.now ?? (() => Date.now()),
    fetch: config.fetch ?? providerFetch,
    cookieName: SESSION_COOKIE,
    transactionCookieName: '__Host-latchkey-tx',
  };
}

/**
 * The app's event hook and the metrics recorder as one `onEvent`: the recorder first, then the
 * hook, whose throw is logged (once) and swallowed. Events are emitted mid-refresh, so a hook
 * that threw into the BFF could cost a browser its rotated cookie.
 */
function withMetrics(onEvent: (event: BffEvent) => void, metrics: BffMetrics): (event: BffEvent) => void {
  let reported = false;
  return (event) => {
    metrics.record(event);
    try {
      onEvent(event);
    } catch (error) {
      if (!reported) console.error('[latchkey] the onEvent hook threw; the BFF carries on (further throws are not logged)', error);
      reported = true;
    }
  };
}


/**
 * The app's origin where the platform says it: `next dev` (NODE_ENV development or test) serves
 * `http://localhost:$PORT`; Vercel names each deployment's URL. Elsewhere in production:
 * nothing, and the option is required.
 */
function defaultAppOrigin(env: Env): string | undefined {
  const vercel = env.VERCEL_ENV === 'production' ? env.VERCEL_PROJECT_PRODUCTION_URL : env.VERCEL_URL;
  if (vercel) return `https://${vercel}`;
  // Only where a dev server says so: an unset NODE_ENV (`node server.js`, a container) is not taken for one.
  if (env.NODE_ENV === 'development' || env.NODE_ENV === 'test') return `http://localhost:${env.PORT || 3000}`;
  return undefined;
}

function parseUrl(name: string, value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigurationError(`"${name}" must be an absolute URL, got "${value}".`);
  }
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigurationError(`"${name}" must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function flag(name: string, value: boolean | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ConfigurationError(`"${name}" must be true or false, got ${JSON.stringify(value)}.`);
  return value;
}

function wholeNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new ConfigurationError(`"${name}" must be a whole number of at least 1, got ${JSON.stringify(value)}.`);
  return value;
}

function resolvePasswords(secret: CookieSecret | undefined): Record<number, string> {
  if (secret === undefined || secret === null || secret === '') {
    throw new ConfigurationError(
      '"cookieSecret" is missing: pass it to createBff() or set LATCHKEY_COOKIE_SECRET to a random string of at least 32 characters, e.g. the output of `openssl rand -base64 32`.',
    );
  }
  const map: Record<number, string> = typeof secret === 'string' ? { 1: secret } : secret;
  const ids = Object.keys(map);
  if (ids.length === 0) throw new ConfigurationError('"cookieSecret" map is empty; give at least one { id: secret }.');
  for (const id of ids) {
    const value = map[Number(id)];
    if (!/^\d+$/.test(id)) throw new ConfigurationError(`"cookieSecret" map keys must be whole numbers, got "${id}".`);
    if (typeof value !== 'string' || value.length < 32) {
      throw new ConfigurationError(
        `"cookieSecret"${typeof secret === 'string' ? '' : `[${id}]`} must be at least 32 characters, got ${typeof value === 'string' ? value.length : typeof value}.`,
      );
    }
    if (KNOWN_WEAK.some((re) => re.test(value))) {
      throw new ConfigurationError(`"cookieSecret"${typeof secret === 'string' ? '' : `[${id}]`} looks like a placeholder; use a random value.`);
    }
  }
  return map;
}

/**
 * The client IP from `X-Forwarded-For`, trusting only what `hops` proxies of our own appended:
 * the `hops`-th entry from the right. With no trusted proxy, nothing: the client wrote the header.
 */
export function forwardedFor(hops: number): (request: Request) => string | undefined {
  if (hops === 0) return () => undefined;
  return (request) => {
    const entries = (request.headers.get('x-forwarded-for') ?? '').split(',').map((e) => e.trim());
    // Fewer entries than proxies: a proxy is missing, so the left-most is not trustworthy either.
    const entry = entries.length >= hops ? entries[entries.length - hops] : undefined;
    return entry && /^[0-9a-fA-F:.]{2,45}$/.test(entry) ? entry : undefined;
  };
}

function resolveRateLimits(given: Partial<RateLimits> | false | undefined): RateLimits {
  if (given === false) return { tokenPerFamily: false, anonymousPerIp: false, loginPerIp: false };
  for (const name of Object.keys(given ?? {})) {
    if (!Object.hasOwn(DEFAULT_RATE_LIMITS, name)) {
      throw new ConfigurationError(`"rateLimits.${name}" is not a limit; the limits are ${Object.keys(DEFAULT_RATE_LIMITS).join(', ')}.`);
    }
  }
  const limits = { ...DEFAULT_RATE_LIMITS, ...given };
  for (const [name, limit] of Object.entries(limits) as [keyof RateLimits, RateLimit | false][]) {
    if (limit === false) continue;
    if (
      typeof limit !== 'object' ||
      !Number.isInteger(limit.limit) ||
      limit.limit < 1 ||
      !Number.isInteger(limit.windowSeconds) ||
      limit.windowSeconds < 1
    ) {
      throw new ConfigurationError(`"rateLimits.${name}" must be false or { limit, windowSeconds } with whole numbers of at least 1, got ${JSON.stringify(limit)}.`);
    }
  }
  return limits;
}

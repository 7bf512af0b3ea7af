import { ConfigurationError } from './errors.js';
import { jsonLinesLogger, type BffEvent } from './events.js';
import { memoryStore, type BffStore } from './store.js';

/** A cookie-sealing secret, or a map of them so keys can rotate: `{ 2: newest, 1: older }`. */
export type CookieSecret = string | Record<number, string>;

/** Options of {@link createBff}. */
export interface BffConfig {
  /** The OpenID Provider's issuer identifier, e.g. `https://tenant.eu.auth0.com/`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The app's origin (scheme, host, port): the only origin allowed to POST, and the base of redirects. */
  appOrigin: string;
  /** Secret(s) sealing the session cookie, each at least 32 characters. */
  cookieSecret: CookieSecret;
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
  /** Absolute session lifetime in seconds from sign-in (default 7 days). See {@link sessionPresets}. */
  absoluteLifetimeSeconds?: number;
  /**
   * Signs out after this many seconds without user activity, as the client reports it
   * (default 1 day; 0 turns it off). Timer refreshes of a forgotten tab do not count.
   */
  idleTimeoutSeconds?: number;
  /** Limits on `/token` and `/login` (sensible defaults; `false` turns them all off). */
  rateLimits?: Partial<RateLimits> | false;
  /**
   * The client's IP for rate limits (default: the right-most `X-Forwarded-For` entry, the one
   * your own proxy added; none when absent, and then only the per-family limit applies).
   */
  clientIp?: (request: Request) => string | undefined;
  /** How long a cookie one rotation behind is healed instead of treated as reuse (default 30 s). */
  graceSeconds?: number;
  /** Timeout for every call to the provider, in ms (default 5000). */
  upstreamTimeoutMs?: number;
  /** Where caches, rotation records and the denylist live (default {@link memoryStore}). */
  store?: BffStore;
  /** Allows an `http:` issuer. Costs: tokens cross the network unencrypted. For local development only. */
  allowInsecureHttp?: boolean;
  /** Receives security and lifecycle events (default: {@link jsonLinesLogger} to the console). */
  onEvent?: (event: BffEvent) => void;
  /** Clock in ms (tests inject one). */
  now?: () => number;
  /** `fetch` used for provider calls (tests inject one). */
  fetch?: typeof fetch;
}

/** A fixed-window limit: at most `limit` requests per `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface RateLimits {
  /** `/token` calls per session family (default 60 per minute: far above what tabs need). */
  tokenPerFamily: RateLimit | false;
  /** `/token` calls per client IP (default 600 per minute: many users behind one NAT). */
  tokenPerIp: RateLimit | false;
  /** Sign-in starts per client IP (default 30 per minute). */
  loginPerIp: RateLimit | false;
}

export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  tokenPerFamily: { limit: 60, windowSeconds: 60 },
  tokenPerIp: { limit: 600, windowSeconds: 60 },
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
  absoluteLifetimeSeconds: number;
  idleTimeoutSeconds: number;
  rateLimits: RateLimits;
  clientIp: (request: Request) => string | undefined;
  graceSeconds: number;
  upstreamTimeoutMs: number;
  store: BffStore;
  allowInsecureHttp: boolean;
  onEvent: (event: BffEvent) => void;
  now: () => number;
  fetch: typeof fetch;
  cookieName: string;
  transactionCookieName: string;
}

const KNOWN_WEAK = [/^(change[-_ ]?me|secret|password|default)/i, /^(.)\1+$/];

/** Validates the configuration once, at start-up, with messages that name the option at fault. */
export function resolveConfig(config: BffConfig): ResolvedConfig {
  if (!config || typeof config !== 'object') throw new ConfigurationError('pass an options object to createBff().');
  const required = (name: keyof BffConfig) => {
    const value = config[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigurationError(`"${name}" is required and must be a non-empty string, got ${JSON.stringify(value)}.`);
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
  if (issuer.protocol !== 'https:' && !allowInsecureHttp) {
    throw new ConfigurationError(
      `"issuer" must use https:, got "${issuer.href}". For a local provider set allowInsecureHttp: true (development only).`,
    );
  }
  const basePath = (config.basePath ?? '/api/auth').replace(/\/+$/, '');
  if (!basePath.startsWith('/')) throw new ConfigurationError(`"basePath" must start with "/", got "${config.basePath}".`);
  const appOrigin = appOriginUrl.origin;
  const redirectUri = parseUrl('redirectUri', config.redirectUri ?? `${appOrigin}${basePath}/callback`).href;
  const postLogoutRedirectUri = parseUrl('postLogoutRedirectUri', config.postLogoutRedirectUri ?? `${appOrigin}/`).href;

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
    absoluteLifetimeSeconds: positive('absoluteLifetimeSeconds', config.absoluteLifetimeSeconds, 7 * 24 * 3600),
    idleTimeoutSeconds: positive('idleTimeoutSeconds', config.idleTimeoutSeconds, 24 * 3600, true),
    rateLimits: resolveRateLimits(config.rateLimits),
    clientIp: config.clientIp ?? forwardedFor,
    graceSeconds: positive('graceSeconds', config.graceSeconds, 30, true),
    upstreamTimeoutMs: positive('upstreamTimeoutMs', config.upstreamTimeoutMs, 5000),
    store: config.store ?? memoryStore(),
    allowInsecureHttp,
    onEvent: config.onEvent ?? jsonLinesLogger(),
    now: config.now ?? (() => Date.now()),
    fetch: config.fetch ?? ((...args) => fetch(...args)),
    cookieName: '__Host-latchkey',
    transactionCookieName: '__Host-latchkey-tx',
  };
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

function resolvePasswords(secret: CookieSecret | undefined): Record<number, string> {
  if (secret === undefined || secret === null || secret === '') {
    throw new ConfigurationError(
      '"cookieSecret" is missing. Set it to a random string of at least 32 characters, e.g. the output of `openssl rand -base64 32`.',
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

/** The right-most `X-Forwarded-For` entry: added by the proxy in front of this server, so a client cannot forge it. */
function forwardedFor(request: Request): string | undefined {
  const header = request.headers.get('x-forwarded-for');
  const last = header?.split(',').at(-1)?.trim();
  return last ? last.slice(0, 64) : undefined;
}

function resolveRateLimits(given: Partial<RateLimits> | false | undefined): RateLimits {
  if (given === false) return { tokenPerFamily: false, tokenPerIp: false, loginPerIp: false };
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

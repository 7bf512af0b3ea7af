import { SCOPE_TOKEN } from './authorizationParams.js';
import { ConfigurationError } from './errors.js';

/** One API the BFF forwards calls to in proxy mode, attaching the session's access token itself. */
export interface ApiConfig {
  /**
   * The API's base URL: `https:`, or `http:` on this machine only (`localhost`, `127.0.0.1`,
   * `[::1]`), with no credentials, query or fragment. `/proxy/<name>/a/b` goes to `<url>/a/b`,
   * never above this path.
   */
  url: string;
  /** The methods the browser may use (default `['GET']`), upper-case; others answer 405. */
  methods?: string[];
  /** Scopes the session's access token must carry for this API; without them, 403 `insufficient_scope` and nothing is sent. */
  scopes?: string[];
  /**
   * The audience the access token must name (`aud`, when the token is a JWT) to be sent to this
   * API, so a token meant for one API is never handed to another; otherwise 403 `insufficient_scope`.
   */
  audience?: string;
  /**
   * Request headers sent on to the API besides the default allow-list (`accept`,
   * `accept-language`, `content-type`, `if-match`, `if-none-match`), lower-case. Never
   * `cookie`, `authorization`, `host`, `x-forwarded-*` or a hop-by-hop header.
   */
  headers?: string[];
  /** Deadline for the API's response headers, in ms (default 30 000); past it, 504 `upstream_timeout`. The body then streams without one. */
  timeoutMs?: number;
  /** The largest request body, in bytes (default 1 MiB); larger is 413 `payload_too_large` and the API sees nothing. */
  maxBodyBytes?: number;
}

/** An API as the BFF resolved it. Nothing in it is a secret: it is part of `bff.config`. */
export interface ResolvedApi {
  name: string;
  /** The base URL, its path ending in `/`. */
  url: string;
  methods: readonly string[];
  scopes: readonly string[];
  audience: string | undefined;
  headers: readonly string[];
  timeoutMs: number;
  maxBodyBytes: number;
}

/**
 * Which routes hand out access: `token` (`POST /token` gives the browser a short-lived token),
 * `proxy` (the browser never holds a token: `/proxy/<api>/...` calls the API with it, and
 * `/token` answers 404) or `both`.
 */
export type BffMode = 'token' | 'proxy' | 'both';

/** Methods an API may allow. TRACE and CONNECT are not among them (fetch refuses them too). */
const PROXY_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Request headers every API receives when the browser sends them. */
const DEFAULT_FORWARDED_HEADERS: readonly string[] = Object.freeze(['accept', 'accept-language', 'content-type', 'if-match', 'if-none-match']);

/**
 * Headers an API's `headers` may never list: the BFF's own credentials and cookies, what tells
 * the API who the client is (the BFF does not vouch for it), and hop-by-hop headers (RFC 9110 §7.6.1).
 */
const NEVER_FORWARDED = /^(cookie|authorization|host|content-length|forwarded|x-forwarded-.*|x-real-ip|connection|keep-alive|te|trailer|transfer-encoding|upgrade|proxy-.*|x-latchkey.*|sec-.*|origin|referer|dpop)$/;

const API_NAME = /^[a-z0-9][a-z0-9_-]*$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** This machine's host names: the only ones an issuer or an API may be reached on over plain http. */
export const LOOPBACK: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Checks `apis` and `mode`, with messages that quote the value at fault. Without APIs the mode
 * is `token`; with APIs it defaults to `proxy`, so configuring an API means the browser holds
 * no token unless `mode: 'both'` says it may (secure by default, explicit to loosen).
 */
export function resolveApis(apis: Record<string, ApiConfig> | undefined, mode: BffMode | undefined): { apis: Readonly<Record<string, ResolvedApi>>; mode: BffMode } {
  if (apis !== undefined && (typeof apis !== 'object' || apis === null || Array.isArray(apis))) {
    throw new ConfigurationError(`"apis" must be an object of { name: { url, ... } }, got ${JSON.stringify(apis)}.`);
  }
  // No prototype: a request for /proxy/constructor finds nothing.
  const resolved: Record<string, ResolvedApi> = Object.create(null);
  for (const [name, api] of Object.entries(apis ?? {})) resolved[name] = resolveApi(name, api);
  const count = Object.keys(resolved).length;
  if (mode !== undefined && mode !== 'token' && mode !== 'proxy' && mode !== 'both') {
    throw new ConfigurationError(`"mode" must be "token", "proxy" or "both", got ${JSON.stringify(mode)}.`);
  }
  const chosen = mode ?? (count > 0 ? 'proxy' : 'token');
  if (chosen !== 'token' && count === 0) throw new ConfigurationError(`"mode" is "${chosen}" but no "apis" are configured; add at least one API to proxy.`);
  if (chosen === 'token' && count > 0) {
    throw new ConfigurationError(`"mode" is "token" but "apis" lists ${Object.keys(resolved).map((n) => `"${n}"`).join(', ')}, which would never be reachable; use mode "proxy" or "both", or remove them.`);
  }
  return { apis: Object.freeze(resolved), mode: chosen };
}

function resolveApi(name: string, api: ApiConfig): ResolvedApi {
  const at = `"apis.${name}"`;
  if (!API_NAME.test(name)) throw new ConfigurationError(`API names must match ${API_NAME} (letters, digits, "-" and "_"), got ${JSON.stringify(name)}.`);
  if (typeof api !== 'object' || api === null) throw new ConfigurationError(`${at} must be an object with a "url", got ${JSON.stringify(api)}.`);
  const url = resolveUrl(at, api.url);
  if (api.methods !== undefined && (!Array.isArray(api.methods) || api.methods.length === 0)) {
    throw new ConfigurationError(`${at}.methods must list at least one method, got ${JSON.stringify(api.methods)}.`);
  }
  const methods = (api.methods ?? ['GET']).map((method) => {
    if (typeof method !== 'string' || !PROXY_METHODS.includes(method)) {
      throw new ConfigurationError(`${at}.methods: each must be one of ${PROXY_METHODS.join(', ')} (upper-case), got ${JSON.stringify(method)}.`);
    }
    return method;
  });
  const scopes = strings(`${at}.scopes`, api.scopes, (scope) => SCOPE_TOKEN.test(scope));
  if (api.audience !== undefined && (typeof api.audience !== 'string' || api.audience.trim() === '')) {
    throw new ConfigurationError(`${at}.audience must be a non-empty string, got ${JSON.stringify(api.audience)}.`);
  }
  const headers = strings(`${at}.headers`, api.headers, (header) => HEADER_NAME.test(header) && header === header.toLowerCase());
  const refused = headers.find((header) => NEVER_FORWARDED.test(header));
  if (refused) throw new ConfigurationError(`${at}.headers may not list ${JSON.stringify(refused)}: the BFF never forwards it.`);
  return Object.freeze({
    name,
    url,
    methods: Object.freeze([...new Set(methods)]),
    scopes: Object.freeze(scopes),
    audience: api.audience,
    headers: Object.freeze([...new Set([...DEFAULT_FORWARDED_HEADERS, ...headers])]),
    timeoutMs: positiveInteger(`${at}.timeoutMs`, api.timeoutMs, DEFAULT_TIMEOUT_MS),
    maxBodyBytes: positiveInteger(`${at}.maxBodyBytes`, api.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
  });
}

/** The base URL, its path ending in "/" so that a path is appended below it, never beside it. */
function resolveUrl(at: string, value: unknown): string {
  if (typeof value !== 'string') throw new ConfigurationError(`${at}.url must be an absolute URL string, got ${JSON.stringify(value)}.`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${at}.url must be an absolute URL, got ${JSON.stringify(value)}.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new ConfigurationError(`${at}.url must use https: (http: only on this machine: localhost, 127.0.0.1, [::1]), got ${JSON.stringify(value)}.`);
  }
  if (url.username || url.password) throw new ConfigurationError(`${at}.url must not carry credentials, got ${JSON.stringify(value)}.`);
  if (url.search || url.hash || /[?#]/.test(value)) throw new ConfigurationError(`${at}.url must have no query or fragment, got ${JSON.stringify(value)}.`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

function strings(at: string, value: unknown, valid: (item: string) => boolean): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigurationError(`${at} must be a list of strings, got ${JSON.stringify(value)}.`);
  for (const item of value) if (typeof item !== 'string' || !valid(item)) throw new ConfigurationError(`${at}: ${JSON.stringify(item)} is not allowed.`);
  return [...value] as string[];
}

function positiveInteger(at: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ConfigurationError(`${at} must be a whole number of at least 1, got ${JSON.stringify(value)}.`);
  return value;
}

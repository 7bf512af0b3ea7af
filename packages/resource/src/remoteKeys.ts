import { LatchkeyError } from '@latchkey/core';
import { createRemoteJWKSet, customFetch, errors as joseErrors, type JWTVerifyGetKey } from 'jose';

/** The `fetch` a key source calls; injected so tests and other runtimes choose the network. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * The provider's keys could not be had (no answer in time, refused connection, a 5xx, a
 * body that is not JSON, a discovery document for another issuer): an outage, never the
 * token's fault. `message` names the URL and what went wrong, for logs.
 */
export class KeysUnavailableError extends LatchkeyError {
  /** A short reason that can be shown to callers without naming internal URLs. */
  readonly reason: string;

  constructor(reason: string, detail: string, options: ErrorOptions = {}) {
    super('upstream_unavailable', detail, { status: 503, ...(options.cause !== undefined && { cause: options.cause }) });
    this.reason = reason;
  }
}

export interface RemoteKeysOptions {
  /** The configured issuer; its discovery document must name exactly this issuer. */
  issuer: string;
  /** JWKS URL; when set, discovery is skipped. */
  jwksUri?: string;
  /** Deadline of each discovery and JWKS request, in milliseconds. */
  timeoutMs: number;
  fetch: FetchLike;
}

/**
 * A jose key source for the provider's signing keys: finds the JWKS through discovery (once;
 * a failed discovery is tried again on the next call), fetches it with a deadline, caches it
 * and refetches on an unknown `kid` (jose). Every failure to get keys throws
 * {@link KeysUnavailableError}.
 */
export function remoteKeys(options: RemoteKeysOptions): JWTVerifyGetKey {
  const { timeoutMs, fetch } = options;
  const jwksFetch = async (url: string, init: { headers: Headers; signal: AbortSignal; redirect: 'manual' }) =>
    Response.json(await fetchJson(url, 'JWKS', { fetch, timeoutMs, signal: init.signal, headers: init.headers }));
  const keySet = (url: URL) => createRemoteJWKSet(url, { timeoutDuration: timeoutMs, [customFetch]: jwksFetch });

  let keys = options.jwksUri === undefined ? undefined : keySet(new URL(options.jwksUri));
  let discovering: Promise<JWTVerifyGetKey> | undefined;
  const discover = () =>
    (discovering ??= discoverJwksUri(options.issuer, { fetch, timeoutMs })
      .then((url) => (keys = keySet(url)))
      .finally(() => (discovering = undefined)));

  return async (header, token) => {
    const source = keys ?? (await discover());
    try {
      return await source(header, token);
    } catch (error) {
      // jose read the JSON but it is no key set: the provider's fault, like a 5xx.
      if (error instanceof joseErrors.JWKSInvalid) throw new KeysUnavailableError('its JWKS is not a key set', 'The JWKS is not a JSON Web Key Set.', { cause: error });
      throw error;
    }
  };
}

/**
 * Reads the provider's discovery document and answers its `jwks_uri`, after checking that
 * the document names exactly the configured issuer (a mix-up defence).
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 */
export async function discoverJwksUri(issuer: string, options: { fetch: FetchLike; timeoutMs: number }): Promise<URL> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const metadata = await fetchJson(url, 'discovery document', { ...options, signal: AbortSignal.timeout(options.timeoutMs) });
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new KeysUnavailableError('its discovery document is not a JSON object', `The discovery document at ${url} is not a JSON object.`);
  }
  const { issuer: named, jwks_uri: jwksUri } = metadata as Record<string, unknown>;
  // A trailing slash apart, the same identifier (the BFF reads it the same way): anything else is a mix-up.
  if (typeof named !== 'string' || named.replace(/\/$/, '') !== issuer.replace(/\/$/, '')) {
    throw new KeysUnavailableError(
      'its discovery document names another issuer',
      `The discovery document at ${url} names the issuer ${JSON.stringify(named)}, not the configured ${JSON.stringify(issuer)}.`,
    );
  }
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    throw new KeysUnavailableError('its discovery document has no jwks_uri', `The discovery document at ${url} has no usable "jwks_uri" (got ${JSON.stringify(jwksUri)}).`);
  }
  return new URL(jwksUri);
}

/** GETs a JSON document under a deadline; any way it can fail becomes a {@link KeysUnavailableError}. */
async function fetchJson(
  url: string,
  what: string,
  options: { fetch: FetchLike; timeoutMs: number; signal: AbortSignal; headers?: Headers },
): Promise<unknown> {
  const { signal, timeoutMs } = options;
  const failed = (cause: unknown) =>
    signal.aborted
      ? new KeysUnavailableError(`its ${what} did not answer within ${timeoutMs} ms`, `The ${what} at ${url} did not answer within ${timeoutMs} ms.`, { cause })
      : new KeysUnavailableError(`its ${what} could not be reached`, `The ${what} at ${url} could not be reached.`, { cause });
  let response: Response;
  try {
    response = await options.fetch(url, { headers: options.headers ?? { accept: 'application/json' }, signal, redirect: 'manual' });
  } catch (cause) {
    throw failed(cause);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new KeysUnavailableError(`its ${what} answered HTTP ${response.status}`, `The ${what} at ${url} answered HTTP ${response.status}, not 200.`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (cause) {
    throw failed(cause);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new KeysUnavailableError(`its ${what} is not JSON`, `The ${what} at ${url} is not JSON.`, { cause });
  }
}

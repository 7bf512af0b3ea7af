import * as oauth from 'oauth4webapi';
import { mergeScopes, type LoginRequest } from './authorizationParams.js';
import { BffError, UpstreamError } from './errors.js';
import type { ResolvedConfig } from './config.js';

/** Tokens from the provider's token endpoint, reduced to what the BFF uses. */
export interface ProviderTokens {
  accessToken: string;
  /** Seconds, as the provider said (defaults to 300 when it did not). */
  expiresIn: number;
  /** A new refresh token, when the provider rotated it. */
  refreshToken: string | undefined;
  scope: string;
  /** `bearer` or `dpop` (lower-cased): `dpop` when the provider bound the access token to a proof's key. */
  tokenType: string;
  idToken: string | undefined;
  claims: Record<string, unknown> | undefined;
}

/** What `/login` must remember for `/callback`. */
export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
  /** The `max_age` sent, if any: the ID token's `auth_time` is checked against it. */
  maxAge: number | undefined;
}

/**
 * The BFF's OAuth 2 / OIDC client, one named function per protocol step, all on oauth4webapi.
 * Provider metadata is discovered once and cached; a failed discovery is retried on the next call.
 */
export class OidcClient {
  readonly #config: ResolvedConfig;
  readonly #client: oauth.Client;
  readonly #auth: oauth.ClientAuth;
  #metadata: Promise<oauth.AuthorizationServer> | undefined;
  readonly #logged = new Set<string>();

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#client = { client_id: config.clientId };
    this.#auth = oauth.ClientSecretBasic(config.clientSecret);
  }

  /**
   * Options of one provider call: its deadline (a timer cleared when the call settles, so no
   * request is kept alive until garbage collection), the injected fetch, and http: for development.
   */
  #call<T>(timeoutMs: number, run: (options: {
    signal: AbortSignal;
    [oauth.customFetch]: typeof fetch;
    [oauth.allowInsecureRequests]: boolean;
  }) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('The provider did not answer in time', 'TimeoutError')), timeoutMs);
    return run({
      signal: controller.signal,
      [oauth.customFetch]: this.#config.fetch,
      [oauth.allowInsecureRequests]: this.#config.allowInsecureHttp,
    }).finally(() => clearTimeout(timer));
  }

  /**
   * Reads the provider's metadata.
   * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
   */
  discover(): Promise<oauth.AuthorizationServer> {
    this.#metadata ??= (async () => {
      const issuer = this.#config.issuer;
      return this.#call(this.#config.upstreamTimeoutMs, async (options) =>
        oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oidc' })),
      );
    })().catch((error: unknown) => {
      this.#metadata = undefined;
      throw this.#providerError(error, 'discovery');
    });
    return this.#metadata;
  }

  /**
   * Builds the authorization request of the code flow with PKCE S256, `state` and `nonce`, at
   * the endpoint discovery names: the configured `authorizationParams`, then this sign-in's
   * checked parameters and extra scopes (see `readLoginRequest`), then what the BFF owns.
   * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
   * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
   */
  async buildAuthorizationUrl(request: LoginRequest = { params: {}, scopes: [] }): Promise<AuthorizationStart> {
    const as = await this.discover();
    if (!as.authorization_endpoint) throw this.#misconfigured('discovery', 'no_authorization_endpoint', 'The provider publishes no authorization_endpoint.');
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    const params: Record<string, string> = {
      // The configuration's parameters last: a sign-in link never overrides them.
      ...request.params,
      ...this.#config.authorizationParams,
      client_id: this.#config.clientId,
      redirect_uri: this.#config.redirectUri,
      response_type: 'code',
      scope: mergeScopes(this.#config.scope, request.scopes),
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (this.#config.resource) params.resource = this.#config.resource;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url, state, nonce, verifier, maxAge: params.max_age === undefined ? undefined : Number(params.max_age) };
  }

  /**
   * Checks the callback's parameters (state, `iss`, provider errors) and redeems the code,
   * validating the ID token (issuer, audience, expiry, nonce).
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
   * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
   */
  async exchangeCode(callbackUrl: URL, expected: { state: string; nonce: string; verifier: string; maxAge?: number | undefined }): Promise<ProviderTokens> {
    const as = await this.discover();
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(as, this.#client, callbackUrl, expected.state);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) throw error;
      throw new BffError('invalid_state', 400, 'The sign-in response does not match the sign-in request (state or issuer differs). Start again.', {
        cause: error,
      });
    }
    try {
      const response = await this.#call(this.#config.upstreamTimeoutMs, (options) =>
        oauth.authorizationCodeGrantRequest(as, this.#client, this.#auth, params, this.#config.redirectUri, expected.verifier, {
          ...options,
          ...this.#resourceParam(),
        }),
      );
      const result = await oauth.processAuthorizationCodeResponse(as, this.#client, response, {
        expectedNonce: expected.nonce,
        requireIdToken: true,
        // OIDC Core 3.1.2.1: when max_age was sent, auth_time is required and must be recent enough.
        ...(expected.maxAge !== undefined && { maxAge: expected.maxAge }),
      });
      return toProviderTokens(result, oauth.getValidatedIdTokenClaims(result) as Record<string, unknown> | undefined);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant') {
        throw new BffError('invalid_grant', 400, 'The sign-in code was already used or has expired. Start again.', { cause: error });
      }
      if (error instanceof oauth.OperationProcessingError && error.code === oauth.JWT_CLAIM_COMPARISON) {
        throw new BffError('invalid_id_token', 400, `The provider's ID token failed validation: ${error.message}`, { cause: error });
      }
      if (error instanceof oauth.OperationProcessingError && error.code === oauth.JWT_TIMESTAMP_CHECK && (error.cause as { claim?: unknown } | undefined)?.claim === 'auth_time') {
        throw new BffError('invalid_id_token', 400, 'The provider signed you in longer ago than this sign-in allows (max_age). Start again.', { cause: error });
      }
      throw this.#providerError(error, 'code exchange');
    }
  }

  /**
   * Redeems the refresh token. Throws `invalid_grant` (a `BffError` 401 `session_expired`)
   * when the provider no longer honours it, an {@link UpstreamError} for everything temporary.
   * `timeoutMs` (default `upstreamTimeoutMs`) bounds the call; the caller may allow longer
   * and stop waiting earlier, since a provider that got the request may still redeem it.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
   */
  async refreshTokens(refreshToken: string, timeoutMs?: number, dpopProof?: string): Promise<ProviderTokens> {
    const as = await this.discover();
    try {
      const result = await this.#call(timeoutMs ?? this.#config.upstreamTimeoutMs, async (options) => {
        const response = await oauth.refreshTokenGrantRequest(as, this.#client, this.#auth, refreshToken, {
          ...options,
          ...this.#resourceParam(),
          // The browser's proof, as it signed it: the provider binds the new access token to its key.
          ...(dpopProof !== undefined && { headers: { dpop: dpopProof } }),
        });
        return oauth.processRefreshTokenResponse(as, this.#client, response);
      });
      return toProviderTokens(result, undefined);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant') {
        throw new BffError('session_expired', 401, 'Your session has ended at the identity provider. Sign in again.', { cause: error });
      }
      // The provider refused the browser's proof before redeeming anything: the browser signs another.
      if (dpopProof !== undefined && error instanceof oauth.ResponseBodyError && (error.error === 'use_dpop_nonce' || error.error === 'invalid_dpop_proof')) {
        const nonce = error.response.headers.get('dpop-nonce');
        throw new BffError(
          error.error,
          400,
          error.error === 'use_dpop_nonce'
            ? 'The identity provider asks for a DPoP proof with its nonce (in the DPoP-Nonce header). Sign a new proof with it.'
            : `The identity provider refused the DPoP proof${error.error_description ? `: ${error.error_description}` : ''}.`,
          { cause: error, ...(nonce && { headers: { 'dpop-nonce': nonce } }) },
        );
      }
      throw this.#providerError(error, 'refresh');
    }
  }

  /** The provider's token endpoint: the `htu` a DPoP proof for a refresh must name. */
  async tokenEndpoint(): Promise<string> {
    const as = await this.discover();
    if (!as.token_endpoint) throw this.#misconfigured('discovery', 'no_token_endpoint', 'its metadata names no token_endpoint');
    return as.token_endpoint;
  }

  /**
   * Revokes a refresh token, and with it the provider's grant.
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
   */
  async revokeRefreshToken(refreshToken: string): Promise<void> {
    const as = await this.discover();
    if (!as.revocation_endpoint) return;
    try {
      await this.#call(this.#config.upstreamTimeoutMs, async (options) => {
        const response = await oauth.revocationRequest(as, this.#client, this.#auth, refreshToken, {
          ...options,
          additionalParameters: { token_type_hint: 'refresh_token' },
        });
        await oauth.processRevocationResponse(response);
      });
    } catch (error) {
      throw this.#providerError(error, 'revocation');
    }
  }

  /**
   * The provider's RP-initiated logout URL, if it has one.
   * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
   */
  async endSessionUrl(idToken?: string): Promise<string | undefined> {
    const as = await this.discover().catch(() => undefined);
    if (!as?.end_session_endpoint) return undefined;
    const url = new URL(as.end_session_endpoint);
    // The hint lets the provider end its own session without asking, so the next sign-in shows its form again.
    if (idToken) url.searchParams.set('id_token_hint', idToken);
    url.searchParams.set('client_id', this.#config.clientId);
    url.searchParams.set('post_logout_redirect_uri', this.#config.postLogoutRedirectUri);
    return url.href;
  }

  /** A provider failure as the BFF answers it: 503 when temporary, a logged 500 `configuration_error` otherwise. */
  #providerError(error: unknown, step: string): BffError {
    if (error instanceof BffError) return error;
    const { temporary, code } = classifyProviderFailure(error);
    if (temporary) {
      const retryAfter = error instanceof oauth.ResponseBodyError ? Number(error.response.headers.get('retry-after')) || undefined : undefined;
      const what = code === 'timeout' ? 'did not answer' : code === 'network' ? 'could not be reached for' : `failed (${code}) at`;
      return new UpstreamError(`The identity provider ${what} the ${step}. Try again shortly.`, {
        cause: error,
        ...(retryAfter !== undefined && { retryAfter }),
      });
    }
    return this.#misconfigured(step, code, (error as Error | undefined)?.message ?? String(error), error);
  }

  /** A fault only an operator can fix: logged once per kind with the provider's own code, answered 500. */
  #misconfigured(step: string, code: string, detail: string, cause?: unknown): BffError {
    const key = `${step}:${code}`;
    if (!this.#logged.has(key)) {
      this.#logged.add(key);
      console.error(`[latchkey] configuration error: the identity provider refused the ${step} with "${code}": ${detail}. Check issuer, clientId, clientSecret and the client's grants at the provider.`);
      this.#config.onEvent({ type: 'configuration_error', step, providerCode: code });
    }
    return new BffError('configuration_error', 500, `Sign-in is misconfigured on the server (the identity provider answered "${code}" to the ${step}). This needs an operator; retrying will not help.`, { cause });
  }

  #resourceParam() {
    return this.#config.resource ? { additionalParameters: { resource: this.#config.resource } } : {};
  }
}

function toProviderTokens(result: oauth.TokenEndpointResponse, claims: Record<string, unknown> | undefined): ProviderTokens {
  return {
    accessToken: result.access_token,
    expiresIn: typeof result.expires_in === 'number' && result.expires_in > 0 ? result.expires_in : 300,
    refreshToken: result.refresh_token,
    scope: typeof result.scope === 'string' ? result.scope : '',
    tokenType: result.token_type,
    idToken: result.id_token,
    claims,
  };
}

/** OAuth error codes that say the client is set up wrongly, not that the provider is down. */
const CONFIGURATION_CODES = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_request', 'invalid_target', 'unsupported_response_type']);

/**
 * Sorts a provider failure: network trouble, timeouts, 5xx, 429 and `temporarily_unavailable`
 * are temporary (503, try again); every other refusal or unusable answer is a configuration
 * fault (500): retrying cannot help, an operator must act.
 */
export function classifyProviderFailure(error: unknown): { temporary: boolean; code: string } {
  if (error instanceof oauth.ResponseBodyError) {
    const temporary = error.status === 429 || error.status >= 500 || error.error === 'temporarily_unavailable' || error.error === 'server_error';
    return { temporary: temporary && !CONFIGURATION_CODES.has(error.error), code: error.error };
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const code = error.cause.map((challenge) => challenge.parameters.error).find((e) => typeof e === 'string');
    return { temporary: error.status === 429 || error.status >= 500, code: code ?? `http_${error.status}` };
  }
  const name = (error as Error | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { temporary: true, code: 'timeout' };
  if (error instanceof TypeError && !(error as { code?: string }).code?.startsWith('ERR_INVALID')) return { temporary: true, code: 'network' };
  if (error instanceof oauth.OperationProcessingError) {
    const response = error.cause instanceof Response ? error.cause : undefined;
    if (response && (response.status === 429 || response.status >= 500)) return { temporary: true, code: `http_${response.status}` };
    return { temporary: false, code: response ? `http_${response.status}` : (error.code ?? 'invalid_response') };
  }
  return { temporary: false, code: 'unusable_answer' };
}

import * as oauth from 'oauth4webapi';
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
  idToken: string | undefined;
  claims: Record<string, unknown> | undefined;
}

/** What `/login` must remember for `/callback`. */
export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
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

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#client = { client_id: config.clientId };
    this.#auth = oauth.ClientSecretBasic(config.clientSecret);
  }

  #options(timeoutMs = this.#config.upstreamTimeoutMs) {
    return {
      signal: AbortSignal.timeout(timeoutMs),
      [oauth.customFetch]: this.#config.fetch,
      [oauth.allowInsecureRequests]: this.#config.allowInsecureHttp,
    };
  }

  /**
   * Reads the provider's metadata.
   * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
   */
  discover(): Promise<oauth.AuthorizationServer> {
    this.#metadata ??= (async () => {
      const issuer = this.#config.issuer;
      const response = await oauth.discoveryRequest(issuer, { ...this.#options(), algorithm: 'oidc' });
      return oauth.processDiscoveryResponse(issuer, response);
    })().catch((error: unknown) => {
      this.#metadata = undefined;
      throw toUpstreamError(error, 'discovery');
    });
    return this.#metadata;
  }

  /**
   * Builds the authorization request of the code flow with PKCE S256, `state` and `nonce`.
   * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
   */
  async buildAuthorizationUrl(): Promise<AuthorizationStart> {
    const as = await this.discover();
    if (!as.authorization_endpoint) throw new UpstreamError('The provider publishes no authorization_endpoint.');
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    const params: Record<string, string> = {
      client_id: this.#config.clientId,
      redirect_uri: this.#config.redirectUri,
      response_type: 'code',
      scope: this.#config.scope,
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (this.#config.resource) params.resource = this.#config.resource;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url, state, nonce, verifier };
  }

  /**
   * Checks the callback's parameters (state, `iss`, provider errors) and redeems the code,
   * validating the ID token (issuer, audience, expiry, nonce).
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
   * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
   */
  async exchangeCode(callbackUrl: URL, expected: { state: string; nonce: string; verifier: string }): Promise<ProviderTokens> {
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
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        this.#client,
        this.#auth,
        params,
        this.#config.redirectUri,
        expected.verifier,
        { ...this.#options(), ...this.#resourceParam() },
      );
      const result = await oauth.processAuthorizationCodeResponse(as, this.#client, response, {
        expectedNonce: expected.nonce,
        requireIdToken: true,
      });
      return toProviderTokens(result, oauth.getValidatedIdTokenClaims(result) as Record<string, unknown> | undefined);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant') {
        throw new BffError('invalid_grant', 400, 'The sign-in code was already used or has expired. Start again.', { cause: error });
      }
      if (error instanceof oauth.OperationProcessingError && error.code === oauth.JWT_CLAIM_COMPARISON) {
        throw new BffError('invalid_id_token', 400, `The provider's ID token failed validation: ${error.message}`, { cause: error });
      }
      throw toUpstreamError(error, 'code exchange');
    }
  }

  /**
   * Redeems the refresh token. Throws `invalid_grant` (a `BffError` 401 `session_expired`)
   * when the provider no longer honours it, an {@link UpstreamError} for everything temporary.
   * `timeoutMs` (default `upstreamTimeoutMs`) bounds the call; the caller may allow longer
   * and stop waiting earlier, since a provider that got the request may still redeem it.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
   */
  async refreshTokens(refreshToken: string, timeoutMs?: number): Promise<ProviderTokens> {
    const as = await this.discover();
    try {
      const response = await oauth.refreshTokenGrantRequest(as, this.#client, this.#auth, refreshToken, {
        ...this.#options(timeoutMs),
        ...this.#resourceParam(),
      });
      const result = await oauth.processRefreshTokenResponse(as, this.#client, response);
      return toProviderTokens(result, undefined);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant') {
        throw new BffError('session_expired', 401, 'Your session has ended at the identity provider. Sign in again.', { cause: error });
      }
      throw toUpstreamError(error, 'refresh');
    }
  }

  /**
   * Revokes a refresh token, and with it the provider's grant.
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
   */
  async revokeRefreshToken(refreshToken: string): Promise<void> {
    const as = await this.discover();
    if (!as.revocation_endpoint) return;
    try {
      const response = await oauth.revocationRequest(as, this.#client, this.#auth, refreshToken, {
        ...this.#options(),
        additionalParameters: { token_type_hint: 'refresh_token' },
      });
      await oauth.processRevocationResponse(response);
    } catch (error) {
      throw toUpstreamError(error, 'revocation');
    }
  }

  /**
   * The provider's RP-initiated logout URL, if it has one.
   * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
   */
  async endSessionUrl(): Promise<string | undefined> {
    const as = await this.discover().catch(() => undefined);
    if (!as?.end_session_endpoint) return undefined;
    const url = new URL(as.end_session_endpoint);
    url.searchParams.set('client_id', this.#config.clientId);
    url.searchParams.set('post_logout_redirect_uri', this.#config.postLogoutRedirectUri);
    return url.href;
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
    idToken: result.id_token,
    claims,
  };
}

/** Everything that is not the user's fault or a verdict on the grant: network, timeout, 5xx, 429, odd answers. */
function toUpstreamError(error: unknown, step: string): BffError {
  if (error instanceof BffError) return error;
  if (error instanceof oauth.ResponseBodyError) {
    const retryAfter = Number(error.response.headers.get('retry-after')) || undefined;
    return new UpstreamError(`The identity provider refused the ${step} (${error.status} ${error.error}). Try again shortly.`, {
      cause: error,
      ...(retryAfter !== undefined && { retryAfter }),
    });
  }
  const name = (error as Error | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new UpstreamError(`The identity provider did not answer the ${step} in time. Try again shortly.`, { cause: error });
  }
  if (error instanceof TypeError) {
    return new UpstreamError(`The identity provider could not be reached for the ${step}. Try again shortly.`, { cause: error });
  }
  return new UpstreamError(`The identity provider gave an unusable answer to the ${step}. Try again shortly.`, { cause: error });
}

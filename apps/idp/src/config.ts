import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { findAccount } from './accounts.js';

/** The audience (resource indicator) of the demo API; access tokens for it are JWTs. */
export const DEMO_API_AUDIENCE = 'urn:latchkey:demo-api';
/** The scopes the demo API understands. */
export const DEMO_API_SCOPES = 'notes:read';
/** The first-party client the demo BFF signs in with. */
export const DEMO_CLIENT_ID = 'latchkey-demo';
/** Its dev-only secret: the demo's embedded default, public on purpose. */
export const DEMO_CLIENT_SECRET = 'latchkey-demo-secret-for-local-development-only';

export interface IdpOptions {
  /** Where the provider is reached, e.g. `http://127.0.0.1:4000`. */
  issuer: string;
  /** Access-token lifetime in seconds. */
  accessTokenTtl: number;
  /** Refresh-token lifetime in seconds. */
  refreshTokenTtl: number;
  /** Origins of apps whose BFF may sign in (`<origin>/api/auth/callback`). */
  appOrigins: string[];
  /**
   * Require a server-provided nonce in every DPoP proof (RFC 9449 §8): a proof without one, or
   * with a stale one, is answered 400 `use_dpop_nonce` with a fresh `DPoP-Nonce`. Off by default.
   */
  dpopNonce?: boolean;
}

const OIDC_SCOPES = 'openid profile email offline_access';

/**
 * Builds oidc-provider's configuration: single-use rotating refresh tokens, PKCE required,
 * JWT access tokens for the demo API, DPoP-bound access tokens when a grant carries a proof,
 * revocation and RP-initiated logout, no consent screen for the first-party demo client.
 */
export function idpConfiguration(options: IdpOptions): Configuration {
  // A new key on every start, and no fixed kid: oidc-provider names a key without one by its
  // RFC 7638 thumbprint, so each key has its own kid and a verifier holding an old start's
  // keys sees an unknown kid and refetches, instead of a familiar kid whose key no longer fits.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };

  return {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_secret: DEMO_CLIENT_SECRET,
        client_name: 'Latchkey demo',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: options.appOrigins.map((o) => `${o}/api/auth/callback`),
        post_logout_redirect_uris: options.appOrigins.map((o) => `${o}/`),
      },
    ],
    jwks: { keys: [jwk as never] },
    findAccount,
    claims: {
      openid: ['sub'],
      // roles: the demo's /admin is for users whose ID token says admin.
      profile: ['name', 'preferred_username', 'roles'],
      email: ['email', 'email_verified'],
    },
    // Put profile claims in the ID token: the BFF reads the user from it, never from userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Every refresh token is single-use; presenting a used one revokes the whole grant.
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    loadExistingGrant,
    ttl: {
      AccessToken: options.accessTokenTtl,
      RefreshToken: options.refreshTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: options.refreshTokenTtl,
    },
    cookies: { keys: ['latchkey-dev-idp-cookie-key-not-secret'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      // DPoP (RFC 9449): a token request carrying a `DPoP` proof gets an access token bound to the
      // proof's key (`token_type: DPoP`, `cnf.jkt` in the JWT); one without a proof gets a Bearer
      // token as before. The demo client is confidential, so its refresh token is never bound
      // (RFC 9449 §5): the BFF may refresh with any browser's proof, or with none.
      dPoP: {
        enabled: true,
        // Derived nonces need a secret; a new one per start, like the signing key, so a restart
        // makes every client fetch a fresh nonce, as a real deployment's rotation would.
        ...(options.dpopNonce && { nonceSecret: randomBytes(32), requireNonce: () => true }),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          // Sign out at once: the app already asked, a second confirmation adds nothing here.
          // logout=yes ends the whole provider session, not just this client's part of it.
          const full = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = `<!doctype html><html><head><title>Signing out</title></head><body>${full}<script>document.forms[0].submit()</script></body></html>`;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => DEMO_API_AUDIENCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== DEMO_API_AUDIENCE) throw new Error(`unknown resource ${resource}`);
          return {
            scope: DEMO_API_SCOPES,
            audience: DEMO_API_AUDIENCE,
            accessTokenTTL: options.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
}

/**
 * The demo client is first-party: its grant is created on the spot, so no consent screen
 * stands between the login form and the app.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { provider, client, session } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const existingId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  const existing = existingId ? await provider.Grant.find(existingId) : undefined;
  if (existing) return existing;
  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope(OIDC_SCOPES);
  grant.addResourceScope(DEMO_API_AUDIENCE, DEMO_API_SCOPES);
  await grant.save();
  return grant;
}

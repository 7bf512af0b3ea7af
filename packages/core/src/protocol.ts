/**
 * What every session user has: the provider's subject identifier. The constraint of the `User`
 * type parameters (`createBff<User>()`, `useAuth<User>()`), so an app's own interface fits
 * without an index signature.
 */
export interface SessionUserBase {
  sub: string;
}

/**
 * Claims about the signed-in user that the BFF shares with the browser: by default `sub`,
 * `name`, `email` and `preferred_username` from the ID token; the BFF's `userClaims` or
 * `mapUser` options choose others, which read here as `unknown` until typed through a `User`
 * type parameter.
 */
export interface SessionUser extends SessionUserBase {
  name?: string;
  email?: string;
  preferred_username?: string;
  [claim: string]: unknown;
}

/** Parameters of `POST /token`: in the query (what the Latchkey client sends, with no body) or a JSON body. */
export interface TokenRequestBody {
  /** Seconds the returned access token must stay valid at least. */
  minValidity?: number;
  /** Seconds since a person last used the app in any tab (drives the idle timeout; timers are not use). */
  idle?: number;
  /**
   * The session is optional: with no session cookie at all, answer 204 (no body) instead of
   * 401 `login_required`. A page uses it to find out whether anyone is signed in. `1` in the query.
   */
  optional?: boolean;
}

/** Answer of `POST /token`. */
export interface TokenResponseBody<User extends SessionUserBase = SessionUser> {
  accessToken: string;
  /** `DPoP` when the token is bound to the client's DPoP key (send it as `Authorization: DPoP`, with a proof). */
  tokenType: 'Bearer' | 'DPoP';
  /** Seconds the token stays valid, counted from the response. */
  expiresIn: number;
  /** Server clock's expiry in epoch seconds, for display only: clients count from `expiresIn`. */
  expiresAt: number;
  scope: string;
  user: User;
}

/** Answer of `GET /session`. */
export interface SessionResponseBody<User extends SessionUserBase = SessionUser> {
  authenticated: boolean;
  user?: User;
}

/** Answer of `POST /logout`. */
export interface LogoutResponseBody {
  /** The provider's RP-initiated logout URL, when it has one; navigate there to end the provider's session too. */
  endSessionUrl?: string;
}

/** Codes that end a session in the browser: the user must sign in again. */
export const TERMINAL_CODES = ['login_required', 'session_expired', 'session_revoked'] as const;
export type TerminalCode = (typeof TERMINAL_CODES)[number];

/** Why a client is signed out. */
export type SignedOutReason = TerminalCode | 'logged_out';

/** The header every state-changing call to the BFF must carry. */
export const CSRF_HEADER = 'x-latchkey';

/** Seconds since the user's last input in any tab, sent with each call to the BFF (its idle timeout). */
export const IDLE_HEADER = 'x-latchkey-idle';

/** Where the BFF names the provider's token endpoint, which a DPoP proof for `/token` must be signed for. */
export const DPOP_HTU_HEADER = 'x-latchkey-dpop-htu';

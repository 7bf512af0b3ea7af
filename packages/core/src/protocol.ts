/** Claims about the signed-in user that the BFF shares with the browser. */
export interface SessionUser {
  sub: string;
  name?: string;
  email?: string;
  preferred_username?: string;
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
export interface TokenResponseBody {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds the token stays valid, counted from the response. */
  expiresIn: number;
  /** Server clock's expiry in epoch seconds, for display only: clients count from `expiresIn`. */
  expiresAt: number;
  scope: string;
  user: SessionUser;
}

/** Answer of `GET /session`. */
export interface SessionResponseBody {
  authenticated: boolean;
  user?: SessionUser;
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

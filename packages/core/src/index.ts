export {
  LatchkeyError,
  LatchkeyHttpError,
  errorResponse,
  isErrorBody,
  type ErrorBody,
  type LatchkeyErrorCode,
  type LatchkeyErrorOptions,
  type LatchkeyHttpErrorOptions,
} from './errors.js';
export {
  CSRF_HEADER,
  DPOP_HTU_HEADER,
  IDLE_HEADER,
  TERMINAL_CODES,
  type LogoutResponseBody,
  type SessionResponseBody,
  type SessionUser,
  type SessionUserBase,
  type SignedOutReason,
  type TerminalCode,
  type TokenRequestBody,
  type TokenResponseBody,
} from './protocol.js';
export {
  DEFAULT_REFRESH_POLICY,
  isRefreshDue,
  refreshDueAt,
  refreshLeadSeconds,
  remainingSeconds,
  tokenTiming,
  type RefreshPolicy,
  type TokenTiming,
} from './policy.js';
export { bearerChallenge, challengeParams, formatBearerChallenge, parseWwwAuthenticate, type Challenge } from './wwwAuthenticate.js';
export { classifyResponse, isTerminalCode, parseRetryAfter, responseError, type Classification, type ResponseKind } from './classify.js';
export { hasScope, type ScopeSource } from './scopes.js';

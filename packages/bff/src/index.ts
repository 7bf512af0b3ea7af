export { createBff, type Bff, type ServerAccessToken } from './createBff.js';
export { DEFAULT_RATE_LIMITS, sessionPresets, type BffConfig, type CookieSecret, type RateLimit, type RateLimits } from './config.js';
export { memoryStore, sharedMemoryStore, type BffStore } from './store.js';
export { jsonLinesLogger, type BffEvent, type RevocationReason } from './events.js';
export { BffError, ConfigurationError, UpstreamError } from './errors.js';
export { safeReturnTo } from './returnTo.js';
export { DEFAULT_USER_CLAIMS, type IdTokenClaims, type MapUser, type MapUserContext } from './sessionUser.js';
export { DEFAULT_LOGIN_PARAMS } from './authorizationParams.js';
export { landingTarget } from './landing.js';

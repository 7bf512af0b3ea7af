export { createBff, type Bff } from './createBff.js';
export type { BffConfig, CookieSecret } from './config.js';
export { memoryStore, type BffStore } from './store.js';
export type { BffEvent } from './events.js';
export { BffError, ConfigurationError, UpstreamError } from './errors.js';
export { safeReturnTo } from './returnTo.js';

export { useHasScope } from './useHasScope.js';
export { useAccessToken } from './useAccessToken.js';
export { ensureFresh, on, type AuthEvents } from '@latchkey/client/extras';
export { hasScope, type ScopeSource } from '@latchkey/core';

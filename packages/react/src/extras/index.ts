export { useHasScope } from './useHasScope.js';
export { hasScope, type ScopeSource } from '@latchkey/core';

export { createVerifier, VerifyError, type AccessTokenClaims, type Verifier, type VerifierOptions, type VerifyResult } from './createVerifier.js';
export type { FetchLike } from './remoteKeys.js';
export { hasScope, type ScopeSource } from '@latchkey/core';

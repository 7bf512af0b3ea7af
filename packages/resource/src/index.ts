export {
  createVerifier,
  VerifyError,
  type AccessTokenClaims,
  type Verifier,
  type VerifierOptions,
  type VerifyErrorCode,
  type VerifyResult,
} from './createVerifier.js';
export type { DPoPOptions } from './dpopConfig.js';
export type { ReplayStore } from './replayCache.js';
export type { FetchLike } from './remoteKeys.js';
export { hasScope, type ScopeSource } from '@latchkey/core';

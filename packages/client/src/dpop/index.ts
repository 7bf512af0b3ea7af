export { authHeaders, dpop, type DpopOptions } from './dpopBinding.js';
export { createDpopKey, DpopProver, isDpopNonceError, nonceOf, type DpopKey, type DpopProofRequest, type DpopProverOptions, type DpopPublicJwk } from '../dpop.js';

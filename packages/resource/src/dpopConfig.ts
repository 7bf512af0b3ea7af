import { LatchkeyError } from '@latchkey/core';
import { memoryReplayCache, type ReplayCache, type ReplayStore, type ReplayVerdict } from './replayCache.js';

/** The `dpop` option of `createVerifier`: accept DPoP-bound access tokens (RFC 9449). */
export interface DPoPOptions {
  /**
   * Refuse bearer tokens altogether: every request must use `Authorization: DPoP` with a proof.
   * Without it both schemes are accepted, but a DPoP-bound token (`cnf.jkt`) never as a bearer token.
   */
  required?: boolean;
  /**
   * How long a proof is accepted after its `iat`, in seconds (default 60). A client signs a
   * proof just before each request, so a minute covers slow networks and a client clock up to
   * a minute slow; a longer window lets a captured proof be tried for longer and makes the replay
   * cache hold more proofs (rate × window). A clock ahead of this server by more than
   * `clockToleranceSeconds` is refused.
   */
  maxAgeSeconds?: number;
  /**
   * Proofs the in-memory replay cache holds (default 100 000). Each is kept for the iat window
   * plus the clock tolerance (65 s by default), so it holds rate × 65 s: the default covers
   * about 1 500 proofs a second per instance, in about 30 MB when full. Past that it refuses
   * proofs as old as the ones it had to drop, so a replay never passes. Each instance has its
   * own cache: behind a load balancer pass a shared {@link DPoPOptions.seen} store instead.
   */
  replayCacheSize?: number;
  /**
   * A shared replay store instead of the in-memory cache: answers whether `proofId` (the key's
   * thumbprint and the proof's `jti`) was seen before, and records it until `expiresAt` (ms),
   * in one atomic step. When it throws, the answer is 503, not a verdict on the token.
   * @example
   * seen: async (proofId, expiresAt) =>
   *   (await redis.set(`dpop:${proofId}`, '1', { condition: 'NX', expiration: { type: 'PXAT', value: expiresAt } })) === null
   */
  seen?: ReplayStore;
  /**
   * The URL clients sign as `htu`, when it differs from `request.url` (default): behind a proxy
   * that terminates TLS or rewrites the host or path, say what the public URL is. Do not build
   * it from `X-Forwarded-*` headers unless your proxy overwrites them.
   * @example
   * htu: (request) => `https://api.example.com${new URL(request.url).pathname}`
   */
  htu?: (request: Request) => string;
}

/** {@link DPoPOptions} checked, with defaults filled in. */
export interface DPoPConfig {
  required: boolean;
  maxAgeSeconds: number;
  htu: (request: Request) => string;
  /** Records a proof, answering whether it is new. */
  replay: (proofId: string, expiresAt: number) => Promise<ReplayVerdict>;
}

const DEFAULT_MAX_AGE_SECONDS = 60;
const DEFAULT_REPLAY_CACHE_SIZE = 100_000;

/** Checks the `dpop` option, throwing a `configuration_error` that names what is wrong. */
export function dpopConfig(options: DPoPOptions, now: () => number): DPoPConfig {
  const fail = (message: string) => new LatchkeyError('configuration_error', `createVerifier: ${message}`);
  if (typeof options !== 'object' || options === null) throw fail('"dpop" must be an object of options (use {} for the defaults).');
  const maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds <= 0) throw fail(`"dpop.maxAgeSeconds" must be a whole number of seconds above 0, got ${maxAgeSeconds}.`);
  if (options.seen !== undefined && typeof options.seen !== 'function') throw fail('"dpop.seen" must be a function.');
  if (options.seen !== undefined && options.replayCacheSize !== undefined) throw fail('pass "dpop.seen" or "dpop.replayCacheSize", not both: a shared store has no in-memory cache.');
  const size = options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE;
  if (!Number.isInteger(size) || size <= 0) throw fail(`"dpop.replayCacheSize" must be a whole number above 0, got ${size}.`);
  if (options.htu !== undefined && typeof options.htu !== 'function') throw fail('"dpop.htu" must be a function of the request.');

  const { seen } = options;
  // Made at the first DPoP request: lru-cache allocates its index arrays for `size` up front.
  let cache: ReplayCache | undefined;
  const replay = seen
    ? async (proofId: string, expiresAt: number): Promise<ReplayVerdict> => ((await seen(proofId, expiresAt)) ? 'replayed' : 'new')
    : async (proofId: string, expiresAt: number): Promise<ReplayVerdict> => (cache ??= memoryReplayCache({ size, now })).check(proofId, expiresAt);
  return { required: options.required === true, maxAgeSeconds, htu: options.htu ?? ((request) => request.url), replay };
}

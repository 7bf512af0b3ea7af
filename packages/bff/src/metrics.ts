import { createNoopMeter, metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type MeterProvider } from '@opentelemetry/api';
import { BffError } from './errors.js';
import type { BffEvent } from './events.js';
import type { BffStore } from './store.js';

/** The instrumentation scope of every instrument. */
export const METER_NAME = '@latchkey/bff';
/** This package's version, the scope's version (a test keeps it equal to package.json's). */
export const METER_VERSION = '0.1.0';

/**
 * The store set of live families behind `latchkey.sessions.active`: one member per family,
 * each expiring when the family can no longer be used, so a family that ends unseen leaves by itself.
 */
export const ACTIVE_SESSIONS_KEY = 'latchkey:active';

/** How one token request ended: every `getToken()` counts once. */
export type TokenResult = 'cached' | 'refreshed' | 'waited' | 'healed' | 'rejected';
/** How one refresh grant this instance sent to the provider ended. */
export type RefreshOutcome = 'success' | 'invalid_grant' | 'reuse_revoked' | 'upstream_error' | 'timeout' | 'store_error' | 'configuration_error';
/** Why a session ended, as `latchkey.sessions.ended` tells it. */
export type SessionEndReason = 'logout' | 'idle' | 'absolute' | 'revoked' | 'reuse' | 'invalid_grant';

/**
 * What the BFF records. Attributes are a handful of fixed values, never an id, a user or a
 * token, so a metric backend never holds one and series stay few.
 */
export interface BffMetrics {
  /** `latchkey.token.requests`: one per token request, by how it ended. */
  tokenRequest(result: TokenResult): void;
  /** `latchkey.refresh.duration`: one refresh grant, from the call to the provider until it was recorded (or failed). */
  refresh(outcome: RefreshOutcome, seconds: number): void;
  /** `latchkey.lock.wait.duration`: how long a request waited for another request's refresh of its family. */
  lockWait(seconds: number): void;
  /** `latchkey.cookie.size`: bytes of a session cookie value as sealed. */
  cookieSize(bytes: number): void;
  /** Sessions started and ended, sign-ins, reuse and rate limits, as the events tell them. */
  record(event: BffEvent): void;
}

export interface BffMetricsOptions {
  /** Where instruments come from (default: the global meter provider, looked up at first use). */
  meterProvider?: MeterProvider | undefined;
  /** The store whose {@link ACTIVE_SESSIONS_KEY} set `latchkey.sessions.active` reads. */
  store: BffStore;
  /** The active-session count is read from the store at most this often (default 5 s); in between the last value is reported. */
  activeReadIntervalMs?: number;
  /** Deadline of that read (default 1 s): past it, or when it fails, the last value read is reported. */
  activeReadTimeoutMs?: number;
}

/** The duration buckets OpenTelemetry's HTTP conventions advise, in seconds. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Up to the 4096 bytes browsers keep of one cookie; the README's target is under 1500. */
const COOKIE_BUCKETS = [256, 512, 768, 1024, 1280, 1536, 2048, 2560, 3072, 3584, 4096];
/** While no SDK is registered, how often the global meter provider is looked at again. */
const LOOK_AGAIN_MS = 1_000;

/** One frozen attributes object per value, built once: the cached path allocates none. */
function attributeSet<V extends string>(name: string, values: readonly V[]): Readonly<Record<V, Attributes>> {
  const sets = {} as Record<V, Attributes>;
  for (const value of values) sets[value] = Object.freeze({ [name]: value });
  return Object.freeze(sets);
}

const RESULT = attributeSet<TokenResult>('latchkey.result', ['cached', 'refreshed', 'waited', 'healed', 'rejected']);
const REFRESH_OUTCOME = attributeSet<RefreshOutcome>('latchkey.outcome', ['success', 'invalid_grant', 'reuse_revoked', 'upstream_error', 'timeout', 'store_error', 'configuration_error']);
const END_REASON = attributeSet<SessionEndReason>('latchkey.reason', ['logout', 'idle', 'absolute', 'revoked', 'reuse', 'invalid_grant']);
const ROUTE = attributeSet('latchkey.route', ['token', 'login', 'anonymous']);
const LOGIN_OUTCOME = attributeSet('latchkey.outcome', ['success', 'failure', 'provider_error']);
const ROUTE_OF_LIMIT = { token_family: ROUTE.token, login_ip: ROUTE.login, anonymous_ip: ROUTE.anonymous } as const;

interface Instruments {
  tokenRequests: Counter;
  refreshDuration: Histogram;
  lockWait: Histogram;
  sessionsStarted: Counter;
  sessionsEnded: Counter;
  reuseDetected: Counter;
  rateLimited: Counter;
  logins: Counter;
  cookieSize: Histogram;
}

/**
 * The BFF's OpenTelemetry instruments (see the README's "Metrics"). The meter is looked up at
 * first use, not at import, so an SDK registered after the BFF was imported still receives
 * everything; while the global provider is still the API's no-op, it is looked at again at
 * most once a second. Without an SDK every call is a no-op of the API.
 */
export function bffMetrics(options: BffMetricsOptions): BffMetrics {
  const noopMeter = createNoopMeter();
  const activeSessions = activeSessionsReader(options);
  let real: Instruments | undefined;
  let noop: Instruments | undefined;
  let lookAgainAt = 0;

  const instruments = (): Instruments => {
    if (real) return real;
    const now = performance.now();
    if (noop && now < lookAgainAt) return noop;
    lookAgainAt = now + LOOK_AGAIN_MS;
    let meter: Meter;
    try {
      meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(METER_NAME, METER_VERSION);
      // The global provider is still the API's no-op: an SDK may be registered later.
      if (meter === noopMeter && !options.meterProvider) return (noop ??= createInstruments(meter));
    } catch (error) {
      console.error('[latchkey] the meter provider failed; the BFF records no metrics', error);
      return (real = createInstruments(noopMeter));
    }
    real = createInstruments(meter);
    meter
      .createObservableGauge('latchkey.sessions.active', {
        description: 'Live session families in the store, across every BFF instance sharing it (aggregate instances with max, not sum).',
        unit: '{session}',
        valueType: ValueType.INT,
      })
      .addCallback(async (result) => {
        const count = await activeSessions();
        if (count !== undefined) result.observe(count);
      });
    return real;
  };

  return {
    tokenRequest: (result) => instruments().tokenRequests.add(1, RESULT[result]),
    refresh: (outcome, seconds) => instruments().refreshDuration.record(Math.max(0, seconds), REFRESH_OUTCOME[outcome]),
    lockWait: (seconds) => instruments().lockWait.record(Math.max(0, seconds)),
    cookieSize: (bytes) => instruments().cookieSize.record(bytes),
    record(event) {
      switch (event.type) {
        case 'session_created': {
          const i = instruments();
          i.sessionsStarted.add(1);
          i.logins.add(1, LOGIN_OUTCOME.success);
          return;
        }
        case 'sign_in_failed':
          return instruments().logins.add(1, LOGIN_OUTCOME[event.outcome]);
        case 'logged_out':
          return instruments().sessionsEnded.add(1, END_REASON.logout);
        case 'session_expired':
          return instruments().sessionsEnded.add(1, END_REASON[event.reason]);
        case 'session_revoked':
          // `logout` and `expired` revocations are reported as logged_out and session_expired.
          if (event.reason === 'logout' || event.reason === 'expired') return;
          return instruments().sessionsEnded.add(1, event.reason === 'reuse' || event.reason === 'invalid_grant' ? END_REASON[event.reason] : END_REASON.revoked);
        case 'reuse_detected':
          return instruments().reuseDetected.add(1);
        case 'rate_limited':
          return instruments().rateLimited.add(1, ROUTE_OF_LIMIT[event.limit]);
        default:
          return;
      }
    },
  };
}

function createInstruments(meter: Meter): Instruments {
  const count = (name: string, unit: string, description: string) => meter.createCounter(name, { description, unit, valueType: ValueType.INT });
  return {
    tokenRequests: count('latchkey.token.requests', '{request}', 'Token requests (POST /token and server-side uses), by how each ended.'),
    refreshDuration: meter.createHistogram('latchkey.refresh.duration', {
      description: 'Refresh grants sent to the identity provider: time until the rotation was recorded or the grant failed, by outcome.',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    }),
    lockWait: meter.createHistogram('latchkey.lock.wait.duration', {
      description: "Time a token request waited for another request's refresh of the same session.",
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    }),
    sessionsStarted: count('latchkey.sessions.started', '{session}', 'Sessions started by a sign-in.'),
    sessionsEnded: count('latchkey.sessions.ended', '{session}', 'Sessions the BFF saw end, by reason.'),
    reuseDetected: count('latchkey.reuse.detected', '{detection}', 'Refresh-token reuse detected: an outdated session cookie presented after the grace window; the session is revoked.'),
    rateLimited: count('latchkey.rate_limited', '{request}', 'Requests answered 429 rate_limited, by route.'),
    logins: count('latchkey.logins', '{login}', 'Sign-ins completed at /callback, by outcome.'),
    cookieSize: meter.createHistogram('latchkey.cookie.size', {
      description: 'Size of each session cookie value the BFF seals (sign-in and rotation).',
      unit: 'By',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: COOKIE_BUCKETS },
    }),
  };
}

/**
 * Reads the number of live families for the gauge: at most once per interval, within a
 * deadline, never rejecting. A read that fails or is late leaves the last value in place, so
 * a slow store neither holds up a scrape nor makes the series vanish for a blip.
 */
function activeSessionsReader(options: BffMetricsOptions): () => Promise<number | undefined> {
  const interval = options.activeReadIntervalMs ?? 5_000;
  const timeout = options.activeReadTimeoutMs ?? 1_000;
  let last: number | undefined;
  let readAt = -Infinity;
  let reading: Promise<number | undefined> | undefined;
  const count = () => {
    const { store } = options;
    return store.countSet ? store.countSet(ACTIVE_SESSIONS_KEY) : store.members(ACTIVE_SESSIONS_KEY).then((members) => members.length);
  };
  return () => {
    if (reading) return reading;
    if (performance.now() - readAt < interval) return Promise.resolve(last);
    readAt = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeout);
      (timer as { unref?: () => void }).unref?.();
    });
    let pending: Promise<number>;
    try {
      pending = count();
    } catch (error) {
      pending = Promise.reject(error);
    }
    reading = Promise.race([pending, late])
      .then(
        (value) => (value === undefined ? last : (last = value)),
        () => last,
      )
      .finally(() => {
        clearTimeout(timer);
        reading = undefined;
      });
    return reading;
  };
}

/** A failed refresh grant as `latchkey.refresh.duration` tells it (a timeout is told by the caller, which set the deadline). */
export function refreshOutcomeOf(error: unknown): RefreshOutcome {
  if (!(error instanceof BffError)) return 'upstream_error';
  switch (error.code) {
    case 'session_expired':
      return 'invalid_grant';
    case 'configuration_error':
      return 'configuration_error';
    default: {
      // The provider call's own bound (past the caller's deadline) ran out.
      const name = (error.cause as Error | undefined)?.name;
      return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'upstream_error';
    }
  }
}

// @ts-check
/**
 * What a soak run counts: every /token answer, the fault windows that may explain a 503, lost
 * sessions, rotations seen by the clients — and the goals they are judged against.
 */

/** A terminal answer: the session is over and the user must sign in again. */
export const TERMINAL = new Set(['login_required', 'session_expired', 'session_revoked']);

/**
 * @typedef {{ kind: string, start: number, end?: number }} FaultWindow
 * @typedef {{ sent: number, received: number, instance: string, status?: number, code?: string, error?: string }} Failure
 * @typedef {{ session: number, user: string, reason: string, description: string, at: number, instance: string, status: number }} Loss
 */

const percentile = (sorted, p) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

export class Metrics {
  /** Load started (ms since epoch); times in reports are relative to it. */
  startedAt = Date.now();
  graceMs;
  /** @type {FaultWindow[]} */
  faults = [];
  requests = 0;
  /** @type {Map<string, number>} answers by status (or `no-answer`) */
  byStatus = new Map();
  /** @type {Failure[]} every 5xx and every request without an answer */
  failures = [];
  /** @type {{ at: number, status: number, code?: string, instance: string }[]} 4xx that the protocol never gives this traffic */
  unexpected = [];
  /** @type {Loss[]} */
  losses = [];
  /** @type {number[]} */
  latencies = [];
  /** @type {Map<string, number>} the BFF's events by type (and refresh_failed by reason) */
  events = new Map();
  /** @type {{ name: string, at: number, code: number | null, signal: string | null }[]} */
  unexpectedExits = [];
  /** @type {Map<string, { at: number, instance: string, late: boolean, upstreamMs: number }>} rotations the BFF reported, by `family:version` */
  refreshes = new Map();

  /** @param {number} graceMs how long after a fault a 503 is still explained by it */
  constructor(graceMs) {
    this.graceMs = graceMs;
  }

  /** Marks a fault as active; call the answer when it is over. */
  openFault(kind) {
    const window = { kind, start: Date.now() };
    this.faults.push(window);
    return () => {
      window.end = Date.now();
    };
  }

  activeFaults(now = Date.now()) {
    return this.faults.filter((f) => f.start <= now && (f.end === undefined || now <= f.end)).map((f) => f.kind);
  }

  /** Counts one answer (or the lack of one) to `POST /token`. */
  record({ sent, received, instance, status, code, error }) {
    this.requests += 1;
    const label = status === undefined ? 'no-answer' : String(status);
    this.byStatus.set(label, (this.byStatus.get(label) ?? 0) + 1);
    this.latencies.push(received - sent);
    if (status === undefined || status >= 500) this.failures.push({ sent, received, instance, status, code, error });
    else if (status >= 400 && status !== 429 && !(status === 401 && code && TERMINAL.has(code))) this.unexpected.push({ at: received, status, code, instance });
  }

  /** Counts one event a BFF instance reported. */
  event(event, instance = '?') {
    const type = String(event.type);
    if (type === 'token_refreshed') {
      this.refreshes.set(`${event.familyId}:${event.version}`, { at: Date.parse(String(event.time)) || Date.now(), instance, late: event.late === true, upstreamMs: Number(event.upstreamMs) });
    }
    this.events.set(type, (this.events.get(type) ?? 0) + 1);
    if (type === 'refresh_failed') {
      const detail = `refresh_failed:${event.reason}${event.shared ? ' (shared)' : ''}`;
      this.events.set(detail, (this.events.get(detail) ?? 0) + 1);
    }
    if (type === 'token_refreshed' && event.late) this.events.set('token_refreshed:late', (this.events.get('token_refreshed:late') ?? 0) + 1);
  }

  /**
   * Whether a fault explains a failure: a 503 whose request overlapped any fault window (plus
   * the grace), or a request without an answer that overlapped a restart of its instance.
   * Any other 5xx, and any 503 or missing answer outside those windows, is unexplained.
   * @param {Failure} failure
   */
  explained(failure, now = Date.now()) {
    const overlaps = (/** @type {FaultWindow} */ f) => failure.sent <= (f.end ?? now) + this.graceMs && failure.received >= f.start;
    if (failure.status === 503) return this.faults.some(overlaps);
    if (failure.status === undefined) return this.faults.some((f) => f.kind === 'bff-restart' && overlaps(f));
    return false;
  }

  unexplained(now = Date.now()) {
    return this.failures.filter((f) => !this.explained(f, now));
  }

  /** Seconds since the load started, as `mm:ss`. */
  clock(at = Date.now()) {
    const s = Math.max(0, Math.round((at - this.startedAt) / 1000));
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  latency() {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, over10s: sorted.filter((ms) => ms > 10_000).length };
  }
}

/**
 * The figures of a run and whether each goal is met.
 * @param {{ metrics: Metrics, sessions: { lost?: unknown }[], rotations: number, grants?: number, providerReuse?: number,
 *   revokedSessions: number }} input
 */
export function goals({ metrics, sessions, rotations, grants, providerReuse, revokedSessions }) {
  const lost = sessions.filter((s) => s.lost).length;
  const unexplained = metrics.unexplained();
  const perRotation = grants === undefined || rotations === 0 ? undefined : grants / rotations;
  return [
    { name: 'sessions lost', value: `${lost} of ${sessions.length}`, met: lost === 0, goal: '0' },
    {
      name: 'reuse revocations',
      value: `${providerReuse === undefined ? '?' : providerReuse + revokedSessions} (provider reuseDetected ${providerReuse ?? '?'}, sessions ended with session_revoked ${revokedSessions})`,
      met: providerReuse === 0 && revokedSessions === 0,
      goal: '0',
    },
    {
      name: 'unexplained 5xx',
      value: `${unexplained.length} (503 outside faults ${unexplained.filter((f) => f.status === 503).length}, other 5xx ${unexplained.filter((f) => f.status !== undefined && f.status !== 503).length}, no answer outside restarts ${unexplained.filter((f) => f.status === undefined).length})`,
      met: unexplained.length === 0,
      goal: '0',
    },
    {
      name: 'upstream refreshes per rotation',
      // Three decimals when not exact, so a miss never prints as "1.00".
      value: perRotation === undefined ? `n/a (${grants ?? '?'} refresh grants, ${rotations} rotations seen)` : `${perRotation.toFixed(grants === rotations ? 2 : 3)} (${grants} refresh grants / ${rotations} rotations seen)`,
      // Exact: one refresh grant whose rotation no client ever saw is a spent token nobody holds.
      met: perRotation !== undefined && grants === rotations,
      goal: '1.00',
    },
    { name: 'unexpected answers', value: `${metrics.unexpected.length} (4xx other than 429 and terminal 401)`, met: metrics.unexpected.length === 0, goal: '0' },
  ];
}

import type { AuditRecord } from './audit.js';

/** How a `POST /token` ended, as the dashboard counts it. */
export type TokenResult = 'cached' | 'refreshed' | 'waited' | 'healed' | 'rejected' | 'rate_limited' | 'unavailable' | 'error';

const TOKEN_RESULTS: readonly TokenResult[] = ['cached', 'refreshed', 'waited', 'healed', 'rejected', 'rate_limited', 'unavailable', 'error'];

/** One time slice of {@link OpsSnapshot}. */
export interface OpsBucket {
  /** Start of the slice, epoch seconds. */
  t: number;
  /** `POST /token` answers by result. */
  tokens: Record<TokenResult, number>;
  /** Duration of the `/token` requests that refreshed, in ms. */
  refreshMs: { count: number; avg: number; max: number };
  /** Sessions (families) that called `/token` in the `activeWindowSeconds` before the slice ended. */
  activeSessions: number;
  /** 429 answers, every route. */
  rateLimited: number;
  reuse: number;
  alerts: number;
  signIns: number;
  failedSignIns: number;
}

/** What `bff.admin.stats()` answers: this process's recent activity, oldest slice first. */
export interface OpsSnapshot {
  bucketSeconds: number;
  activeWindowSeconds: number;
  buckets: OpsBucket[];
  /** Counts since this process started. */
  totals: Omit<OpsBucket, 't' | 'refreshMs' | 'activeSessions'>;
}

interface Bucket extends OpsBucket {
  refreshSum: number;
}

/**
 * A small in-process aggregate of the BFF's traffic for the operations dashboard: counts in
 * slices of `bucketSeconds` over the last `buckets` slices, fed by the audit pipeline and by
 * each `/token` answer. It does not depend on OpenTelemetry; with several instances each keeps
 * its own (the shared view is the Redis audit stream, or Prometheus).
 */
export class OpsStats {
  readonly #bucketMs: number;
  readonly #size: number;
  readonly #activeMs: number;
  readonly #slices: Bucket[] = [];
  readonly #lastSeen = new Map<string, number>();
  readonly #totals: OpsSnapshot['totals'] = { tokens: zeroResults(), rateLimited: 0, reuse: 0, alerts: 0, signIns: 0, failedSignIns: 0 };

  constructor(options: { bucketSeconds?: number; buckets?: number; activeWindowSeconds?: number } = {}) {
    this.#bucketMs = (options.bucketSeconds ?? 5) * 1000;
    this.#size = options.buckets ?? 120;
    this.#activeMs = (options.activeWindowSeconds ?? 300) * 1000;
  }

  /** Counts one `/token` answer; `family` (a hash) marks that session active. */
  token(result: TokenResult, durationMs: number, family: string | undefined, now: number): void {
    const slice = this.#roll(now);
    slice.tokens[result] += 1;
    this.#totals.tokens[result] += 1;
    if (result === 'refreshed') {
      slice.refreshSum += durationMs;
      slice.refreshMs.count += 1;
      slice.refreshMs.max = Math.max(slice.refreshMs.max, Math.round(durationMs));
      slice.refreshMs.avg = Math.round(slice.refreshSum / slice.refreshMs.count);
    }
    if (family) {
      // Re-inserted so the Map stays ordered by last use, oldest first (pruning stops early).
      this.#lastSeen.delete(family);
      this.#lastSeen.set(family, now);
    }
  }

  /** Counts what an audit record says: sign-ins, failures, 429s, reuse and alerts. */
  record(record: AuditRecord, now: number): void {
    const field = record.type === 'rate_limit' ? 'rateLimited' : record.type === 'reuse' ? 'reuse' : record.type === 'alert' ? 'alerts' : record.event === 'session_created' ? 'signIns' : record.event === 'sign_in_failed' ? 'failedSignIns' : undefined;
    if (!field) return;
    this.#roll(now)[field] += 1;
    this.#totals[field] += 1;
  }

  snapshot(now: number): OpsSnapshot {
    this.#roll(now);
    const buckets = this.#slices.map(({ refreshSum: _, ...b }) => ({ ...b, tokens: { ...b.tokens }, refreshMs: { ...b.refreshMs } }));
    return { bucketSeconds: this.#bucketMs / 1000, activeWindowSeconds: this.#activeMs / 1000, buckets, totals: { ...this.#totals, tokens: { ...this.#totals.tokens } } };
  }

  /** The slice for `now`, starting every slice since the last one (each with the active count as it is now). */
  #roll(now: number): Bucket {
    const t = Math.floor(now / this.#bucketMs) * this.#bucketMs;
    const last = this.#slices.at(-1);
    if (last && last.t * 1000 >= t) {
      last.activeSessions = this.#active(now);
      return last;
    }
    const active = this.#active(now);
    const from = last ? Math.max(last.t * 1000 + this.#bucketMs, t - (this.#size - 1) * this.#bucketMs) : t;
    for (let start = from; start <= t; start += this.#bucketMs) this.#slices.push(emptyBucket(start / 1000, active));
    if (this.#slices.length > this.#size) this.#slices.splice(0, this.#slices.length - this.#size);
    return this.#slices.at(-1)!;
  }

  #active(now: number): number {
    for (const [family, seen] of this.#lastSeen) {
      if (seen > now - this.#activeMs && this.#lastSeen.size <= MAX_TRACKED) break;
      this.#lastSeen.delete(family);
    }
    return this.#lastSeen.size;
  }
}

/** Families tracked for the active count; past it the least recently seen are dropped. */
const MAX_TRACKED = 200_000;

function zeroResults(): Record<TokenResult, number> {
  return Object.fromEntries(TOKEN_RESULTS.map((r) => [r, 0])) as Record<TokenResult, number>;
}

function emptyBucket(t: number, activeSessions: number): Bucket {
  return { t, tokens: zeroResults(), refreshMs: { count: 0, avg: 0, max: 0 }, refreshSum: 0, activeSessions, rateLimited: 0, reuse: 0, alerts: 0, signIns: 0, failedSignIns: 0 };
}

import type { AuditRecord } from './audit.js';
import { ConfigurationError } from './errors.js';

/** The security signals `onAlert` reports. */
export type AlertKind = 'reuse_detected' | 'failed_sign_ins' | 'repeated_heals';

/** One alert: a signal crossed its threshold. Fired once per window and key, however many events follow. */
export interface Alert {
  kind: AlertKind;
  /** ISO 8601. */
  time: string;
  /** What the count is of: `family:<hash>`, `ip:<address>` or `sub:<user>`. */
  key: string;
  /** Events counted in the window when it fired (the threshold). */
  count: number;
  windowSeconds: number;
  /** The record that crossed the threshold. */
  record: AuditRecord;
}

/** A threshold: fire when `count` events of one key fall in a window of `windowSeconds` that starts with the first. */
export interface AlertThreshold {
  count: number;
  windowSeconds: number;
}

/** When `onAlert` fires. */
export interface AlertThresholds {
  /** Failed sign-ins (a callback that did not start a session) per client IP, and per user where known (default 5 in 5 minutes). */
  failedSignIns: AlertThreshold;
  /** Stale cookies healed in one family (default 5 in 10 minutes): a lagging tab heals now and then; a thief racing the owner heals over and over. */
  heals: AlertThreshold;
  /** Reuse detected: every family once (the window only keeps a family from firing twice; default 1 in an hour). */
  reuse: AlertThreshold;
}

export const DEFAULT_ALERT_THRESHOLDS: Readonly<AlertThresholds> = Object.freeze({
  failedSignIns: { count: 5, windowSeconds: 300 },
  heals: { count: 5, windowSeconds: 600 },
  reuse: { count: 1, windowSeconds: 3600 },
});

/** The open windows of an {@link AlertCounter}, by signal and key. */
export type AlertWindows = Map<string, { endsAt: number; count: number }>;

/** How many keys are counted at once; past it the oldest windows are dropped (an attacker spraying addresses cannot grow memory). */
const MAX_KEYS = 10_000;

/**
 * Counts security signals in fixed windows per key and fires once when a window's count
 * reaches its threshold, not on every event after it. In this process only: with several
 * instances each counts what it handled (Prometheus alert rules see the sum).
 */
export class AlertCounter {
  readonly #thresholds: AlertThresholds;
  readonly #windows: AlertWindows;
  readonly #fire: (alert: Alert) => void;

  /** `windows` may be shared by the copies of one BFF in a process (Next's bundle layers), so they count as one. */
  constructor(thresholds: Partial<AlertThresholds> | undefined, fire: (alert: Alert) => void, windows: AlertWindows = new Map()) {
    this.#thresholds = resolveThresholds(thresholds);
    this.#fire = fire;
    this.#windows = windows;
  }

  /** Counts what `record` signals, firing the alerts whose threshold it reaches. */
  observe(record: AuditRecord, now: number): void {
    if (record.type === 'reuse' && record.family) this.#count('reuse_detected', this.#thresholds.reuse, `family:${record.family}`, record, now);
    if (record.type === 'heal' && record.family) this.#count('repeated_heals', this.#thresholds.heals, `family:${record.family}`, record, now);
    if (record.event === 'sign_in_failed') {
      if (record.ip) this.#count('failed_sign_ins', this.#thresholds.failedSignIns, `ip:${record.ip}`, record, now);
      if (record.sub) this.#count('failed_sign_ins', this.#thresholds.failedSignIns, `sub:${record.sub}`, record, now);
    }
  }

  #count(kind: AlertKind, threshold: AlertThreshold, key: string, record: AuditRecord, now: number): void {
    const id = `${kind} ${key}`;
    let window = this.#windows.get(id);
    if (!window || window.endsAt <= now) {
      this.#windows.delete(id);
      if (this.#windows.size >= MAX_KEYS) this.#prune(now);
      window = { endsAt: now + threshold.windowSeconds * 1000, count: 0 };
      this.#windows.set(id, window);
    }
    window.count += 1;
    // Exactly at the threshold: the events after it in the same window are the same incident.
    if (window.count !== threshold.count) return;
    this.#fire({ kind, time: new Date(now).toISOString(), key, count: window.count, windowSeconds: threshold.windowSeconds, record });
  }

  #prune(now: number): void {
    for (const [id, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(id);
    // Still full of live windows: drop the oldest started (a Map keeps insertion order).
    for (const id of this.#windows.keys()) {
      if (this.#windows.size < MAX_KEYS) break;
      this.#windows.delete(id);
    }
  }
}

function resolveThresholds(given: Partial<AlertThresholds> | undefined): AlertThresholds {
  for (const name of Object.keys(given ?? {})) {
    if (!Object.hasOwn(DEFAULT_ALERT_THRESHOLDS, name)) throw new ConfigurationError(`"alertThresholds.${name}" is not a signal; they are ${Object.keys(DEFAULT_ALERT_THRESHOLDS).join(', ')}.`);
  }
  const thresholds = { ...DEFAULT_ALERT_THRESHOLDS, ...given };
  for (const [name, t] of Object.entries(thresholds)) {
    if (typeof t !== 'object' || t === null || !Number.isInteger(t.count) || t.count < 1 || !(t.windowSeconds > 0)) {
      throw new ConfigurationError(`"alertThresholds.${name}" must be { count, windowSeconds } with a whole count of at least 1 and a positive window, got ${JSON.stringify(t)}.`);
    }
  }
  return thresholds;
}

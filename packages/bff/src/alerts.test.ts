import { describe, expect, it } from 'vitest';
import { AlertCounter, type Alert, type AlertThresholds } from './alerts.js';
import type { AuditRecord } from './audit.js';
import { ConfigurationError } from './errors.js';

const at = (overrides: Partial<AuditRecord>): AuditRecord => ({ time: '', type: 'token', event: 'x', outcome: 'x', ...overrides });
const heal = (family = 'aaaaaaaaaaaaaaaa') => at({ type: 'heal', event: 'stale_cookie_healed', outcome: 'success', family });
const failedSignIn = (ip?: string, sub?: string) => at({ type: 'sign_in', event: 'sign_in_failed', outcome: 'invalid_state', ...(ip && { ip }), ...(sub && { sub }) });
const reuse = (family = 'bbbbbbbbbbbbbbbb') => at({ type: 'reuse', event: 'reuse_detected', outcome: 'revoked', family });

function counter(thresholds?: Partial<AlertThresholds>) {
  const fired: Alert[] = [];
  return { fired, alerts: new AlertCounter(thresholds, (a) => fired.push(a)) };
}

describe('AlertCounter', () => {
  it('fires once when a family heals the threshold number of times in the window, not on every heal after it', () => {
    const { fired, alerts } = counter({ heals: { count: 3, windowSeconds: 60 } });
    for (let i = 0; i < 2; i++) alerts.observe(heal(), 1000 + i);
    expect(fired).toEqual([]);
    for (let i = 0; i < 10; i++) alerts.observe(heal(), 2000 + i);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ kind: 'repeated_heals', key: 'family:aaaaaaaaaaaaaaaa', count: 3, windowSeconds: 60 });
  });

  it('fires again in the next window', () => {
    const { fired, alerts } = counter({ heals: { count: 2, windowSeconds: 60 } });
    alerts.observe(heal(), 0);
    alerts.observe(heal(), 1_000);
    alerts.observe(heal(), 59_000);
    alerts.observe(heal(), 60_000);
    alerts.observe(heal(), 61_000);
    expect(fired.map((a) => a.time)).toEqual([new Date(1_000).toISOString(), new Date(61_000).toISOString()]);
  });

  it('counts heals per family: two lagging families never add up to one alert', () => {
    const { fired, alerts } = counter({ heals: { count: 2, windowSeconds: 60 } });
    alerts.observe(heal('1111111111111111'), 0);
    alerts.observe(heal('2222222222222222'), 0);
    expect(fired).toEqual([]);
  });

  it('fires on failed sign-ins per IP and per user, each once per window (default 5 in 5 minutes)', () => {
    const { fired, alerts } = counter();
    for (let i = 0; i < 4; i++) alerts.observe(failedSignIn('198.51.100.9', 'mallory'), i);
    expect(fired).toEqual([]);
    for (let i = 4; i < 12; i++) alerts.observe(failedSignIn('198.51.100.9', 'mallory'), i);
    expect(fired.map((a) => `${a.kind} ${a.key} ${a.count}`)).toEqual(['failed_sign_ins ip:198.51.100.9 5', 'failed_sign_ins sub:mallory 5']);
    // A failure past the window starts counting again.
    alerts.observe(failedSignIn('198.51.100.9'), 300_000 + 5);
    expect(fired).toHaveLength(2);
  });

  it('does not count failed sign-ins of unknown origin against anyone', () => {
    const { fired, alerts } = counter({ failedSignIns: { count: 1, windowSeconds: 60 } });
    alerts.observe(failedSignIn(), 0);
    expect(fired).toEqual([]);
  });

  it('fires on the first reuse of each family, once', () => {
    const { fired, alerts } = counter();
    alerts.observe(reuse(), 0);
    alerts.observe(reuse(), 10);
    alerts.observe(reuse('cccccccccccccccc'), 20);
    expect(fired.map((a) => `${a.kind} ${a.key}`)).toEqual(['reuse_detected family:bbbbbbbbbbbbbbbb', 'reuse_detected family:cccccccccccccccc']);
    expect(fired[0]!.record).toMatchObject({ type: 'reuse' });
  });

  it('refuses thresholds it cannot use, naming them', () => {
    expect(() => counter({ heals: { count: 0, windowSeconds: 60 } })).toThrow(ConfigurationError);
    expect(() => counter({ heals: { count: 0, windowSeconds: 60 } })).toThrow(/alertThresholds.heals.*count.*0/);
    expect(() => counter({ reuse: { count: 1, windowSeconds: -1 } })).toThrow(/alertThresholds.reuse/);
    expect(() => counter({ logins: { count: 1, windowSeconds: 1 } } as unknown as AlertThresholds)).toThrow(/"alertThresholds.logins" is not a signal/);
  });
});

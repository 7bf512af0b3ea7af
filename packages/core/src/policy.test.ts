import { describe, expect, it } from 'vitest';
import { isRefreshDue, refreshDueAt, refreshLeadSeconds, remainingSeconds, tokenTiming } from './policy.js';

describe('refreshLeadSeconds()', () => {
  it('uses 60 s for a 5-minute token (60 > 20 % of 300)', () => {
    expect(refreshLeadSeconds(300)).toBe(60);
  });
  it('uses 20 % of the lifetime when that is more than 60 s', () => {
    expect(refreshLeadSeconds(3600)).toBe(720);
  });
  it('caps the lead at half the lifetime for very short tokens', () => {
    expect(refreshLeadSeconds(20)).toBe(10);
    expect(refreshLeadSeconds(100)).toBe(50);
  });
  it('answers 0 for a token with no lifetime', () => {
    expect(refreshLeadSeconds(0)).toBe(0);
    expect(refreshLeadSeconds(-5)).toBe(0);
  });
  it('follows a custom policy', () => {
    expect(refreshLeadSeconds(300, { minRemainingSeconds: 10, minRemainingRatio: 0.5, maxRemainingRatio: 0.9 })).toBe(150);
  });
});

describe('tokenTiming() / refreshDueAt() / isRefreshDue()', () => {
  const t = tokenTiming(1_000_000, 300);

  it('counts expiry from local receipt time, whatever the server clock says', () => {
    expect(t.expiresAt).toBe(1_000_000 + 300_000);
  });
  it('is due exactly 60 s before expiry for a 5-minute token, not a millisecond earlier', () => {
    expect(refreshDueAt(t)).toBe(1_000_000 + 240_000);
    expect(isRefreshDue(t, 1_000_000 + 239_999)).toBe(false);
    expect(isRefreshDue(t, 1_000_000 + 240_000)).toBe(true);
  });
  it('treats a wake from a long sleep as time passed', () => {
    expect(isRefreshDue(t, 1_000_000 + 3_600_000)).toBe(true);
    expect(remainingSeconds(t, 1_000_000 + 3_600_000)).toBe(0);
  });
  it('reports remaining seconds', () => {
    expect(remainingSeconds(t, 1_000_000 + 100_000)).toBe(200);
  });
});

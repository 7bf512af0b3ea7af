import { describe, expect, it } from 'vitest';
import { auditLine, auditRecord, familyHasher, FAMILY_HASH, memoryAuditSink, type AuditRecord } from './audit.js';
import type { BffEvent } from './events.js';

const FID = 'RAW-family-id-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA';
const hash = familyHasher({ 1: 'x'.repeat(16) + 'audit-test-secret-0123456789' });
const context = { route: '/token', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11) Chrome/140' };

/** One of every event the BFF emits, each with the raw family id where it has one. */
const EVERY_EVENT: BffEvent[] = [
  { type: 'session_created', familyId: FID, sub: 'alice' },
  { type: 'token_served_from_cache', familyId: FID },
  { type: 'token_refreshed', familyId: FID, version: 3, upstreamMs: 41, rotated: true, late: true },
  { type: 'refresh_failed', familyId: FID, reason: 'upstream_unavailable', shared: true },
  { type: 'stale_cookie_healed', familyId: FID, fromVersion: 2, toVersion: 3, ageMs: 1200 },
  { type: 'reuse_detected', familyId: FID, presentedVersion: 1, currentVersion: 3 },
  { type: 'session_expired', familyId: FID, reason: 'idle' },
  { type: 'session_revoked', familyId: FID, reason: 'revoke_user' },
  { type: 'rate_limited', limit: 'token_family', retryAfter: 12 },
  { type: 'csrf_rejected', path: '/api/auth/token', reason: `Origin "https://evil.example/${'a'.repeat(400)}" is not the app origin` },
  { type: 'logged_out', familyId: FID },
  { type: 'configuration_error', step: 'refresh', providerCode: 'invalid_client' },
  { type: 'store_unavailable', operation: 'get' },
  { type: 'revocation_failed', familyId: FID, reason: 'connect ECONNREFUSED' },
];

describe('auditRecord()', () => {
  it.each(EVERY_EVENT.map((e) => [e.type, e] as const))('%s: a typed record with time, outcome, context, and the family only as its hash', (_, event) => {
    const record = auditRecord(event, context, hash, 'alice', Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(record).toMatchObject({ time: '2026-01-02T03:04:05.000Z', event: event.type, ip: '203.0.113.7', userAgent: context.userAgent, route: '/token', sub: 'alice' });
    expect(typeof record.type).toBe('string');
    expect(record.outcome).toMatch(/^[a-z_]+$/);
    const line = JSON.stringify(record);
    expect(line).not.toContain(FID);
    if ('familyId' in event) expect(record.family).toMatch(FAMILY_HASH);
    else expect(record.family).toBeUndefined();
  });

  it('classifies each event: type and outcome', () => {
    const kinds = EVERY_EVENT.map((e) => {
      const r = auditRecord(e, undefined, hash, undefined, 0);
      return `${e.type} -> ${r.type}/${r.outcome}`;
    });
    expect(kinds).toEqual([
      'session_created -> sign_in/success',
      'token_served_from_cache -> token/cached',
      'token_refreshed -> refresh/success',
      'refresh_failed -> refresh/upstream_unavailable',
      'stale_cookie_healed -> heal/success',
      'reuse_detected -> reuse/revoked',
      'session_expired -> expiry/idle',
      'session_revoked -> revoke/revoke_user',
      'rate_limited -> rate_limit/token_family',
      'csrf_rejected -> csrf/rejected',
      'logged_out -> logout/success',
      'configuration_error -> error/configuration_error',
      'store_unavailable -> error/store_unavailable',
      'revocation_failed -> revoke/upstream_failed',
    ]);
  });

  it('keeps the numbers of an event (versions, latency) in detail', () => {
    expect(auditRecord(EVERY_EVENT[2]!, undefined, hash, undefined, 0).detail).toEqual({ version: 3, upstreamMs: 41, rotated: true, late: true });
    expect(auditRecord(EVERY_EVENT[8]!, undefined, hash, undefined, 0).detail).toEqual({ retryAfter: 12 });
  });

  it('keeps no string of an event it does not know: a token or cookie in a new event never reaches the trail', () => {
    const unknown = { type: 'token_minted', familyId: FID, accessToken: 'eyJhbGciOiJSUzI1NiJ9.secret.sig', cookie: 'Fe26.2**sealed', count: 2, fresh: true } as unknown as BffEvent;
    const record = auditRecord(unknown, context, hash, undefined, 0);
    const line = JSON.stringify(record);
    expect(line).not.toContain('eyJhbGci');
    expect(line).not.toContain('Fe26.2');
    expect(line).not.toContain(FID);
    expect(record).toMatchObject({ type: 'error', event: 'token_minted', outcome: 'unclassified', detail: { count: 2, fresh: true } });
  });

  it('records a failed sign-in with its code, whatever the provider put beside it', () => {
    const failed = { type: 'sign_in_failed', outcome: 'provider_error', error: 'access_denied' } as unknown as BffEvent;
    expect(auditRecord(failed, context, hash, undefined, 0)).toMatchObject({ type: 'sign_in', event: 'sign_in_failed', outcome: 'access_denied', detail: { reason: 'provider_error' } });
  });

  it('shortens what a client wrote (a CSRF reason quoting its Origin) and a long user agent', () => {
    const record = auditRecord(EVERY_EVENT[9]!, { ...context, userAgent: 'U'.repeat(5000) }, hash, undefined, 0);
    expect(String(record.detail?.reason).length).toBeLessThanOrEqual(200);
    expect(record.userAgent!.length).toBe(200);
  });

  it('leaves out what the context does not know (no IP without clientIp or trustProxy)', () => {
    const record = auditRecord(EVERY_EVENT[0]!, { route: '/callback' }, hash, 'alice', 0);
    expect(Object.keys(record)).not.toContain('ip');
    expect(Object.keys(record)).not.toContain('userAgent');
  });
});

describe('familyHasher()', () => {
  it('is stable for one secret, differs between secrets, and is 16 hex digits', () => {
    const other = familyHasher({ 1: 'y'.repeat(16) + 'audit-test-secret-0123456789' });
    expect(hash(FID)).toBe(hash(FID));
    expect(hash(FID)).toMatch(FAMILY_HASH);
    expect(other(FID)).not.toBe(hash(FID));
    expect(hash(`${FID}x`)).not.toBe(hash(FID));
  });

  it('is keyed by the newest secret of a rotation map', () => {
    const newest = 'n'.repeat(16) + 'audit-test-secret-0123456789';
    expect(familyHasher({ 2: newest, 1: 'o'.repeat(40) })(FID)).toBe(familyHasher({ 1: newest })(FID));
  });
});

describe('memoryAuditSink()', () => {
  const record = (n: number): AuditRecord => ({ time: new Date(n).toISOString(), type: 'token', event: 'e', outcome: String(n) });

  it('keeps the last maxRecords, newest first', async () => {
    const sink = memoryAuditSink({ maxRecords: 3, write: false });
    for (let n = 1; n <= 5; n++) sink.write(record(n));
    expect((await sink.recent!(10)).map((r) => r.outcome)).toEqual(['5', '4', '3']);
    expect((await sink.recent!(2)).map((r) => r.outcome)).toEqual(['5', '4']);
  });

  it('writes each record as one JSON line with a level and source', () => {
    const lines: string[] = [];
    const sink = memoryAuditSink({ write: (line) => lines.push(line) });
    sink.write({ ...record(1), type: 'reuse', outcome: 'revoked' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', source: 'latchkey', type: 'reuse', outcome: 'revoked' });
    expect(JSON.parse(auditLine({ ...record(1), type: 'sign_in', outcome: 'success' })).level).toBe('info');
  });
});

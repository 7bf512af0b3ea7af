import { describe, expect, it } from 'vitest';
import { decide, type Decision, type FamilyState, type Policy, type TokenRequest } from './decide.js';
import { confirmLedger, rotateLedger, type FamilyLedger } from './ledger.js';
import type { SessionData } from './session.js';

const NOW = 1_800_000_000_000;
const S = NOW / 1000;
const policy: Policy = { graceSeconds: 30, absoluteLifetimeSeconds: 3600, idleTimeoutSeconds: 900 };

const session = (v: number, extra: Partial<SessionData> = {}): SessionData => ({ fid: 'f', v, rt: `rt${v}`, user: { sub: 'alice' }, ca: S - 600, la: S - 10, ...extra });

/** A ledger whose newest version is `v`, with a 300 s token issued `tokenAge` seconds ago and the given superseded times. */
function ledger(v: number, superseded: Record<number, number | null> = {}, tokenAge = 0): FamilyLedger {
  return {
    session: session(v),
    cookie: `sealed-v${v}`,
    superseded,
    token: { v, accessToken: `at${v}`, exp: NOW + (300 - tokenAge) * 1000, lifetime: 300, scope: '' },
  };
}

/** A ledger whose fresh token is bound to the DPoP key with thumbprint `jkt`. */
function boundLedger(jkt: string): FamilyLedger {
  const l = ledger(1);
  return { ...l, token: { ...l.token!, jkt } };
}

/** A family whose every record says the last activity was 1,000 s ago. */
const idleLedger: FamilyLedger = { ...ledger(1), session: session(1, { la: S - 1000 }) };

const state = (l: FamilyLedger | undefined, extra: Partial<FamilyState> = {}): FamilyState => ({ ledger: l, revoked: undefined, activeAt: 0, sharedFailure: undefined, ...extra });
const request = (v: number, extra: Partial<TokenRequest> = {}): TokenRequest => ({ presented: session(v), minValidity: 30, idle: 0, ...extra });

/** One row per rule, in the order decide() checks them. */
const rows: [string, FamilyState, TokenRequest, Decision][] = [
  ['1. a revoked family is rejected, even with a good cached token', state(ledger(1), { revoked: 'logout' }), request(1), { action: 'reject', code: 'session_revoked', reason: 'revoked' }],
  ['1. a family that ran out (expiry, invalid_grant) stays expired, not revoked', state(ledger(1), { revoked: 'invalid_grant' }), request(1), { action: 'reject', code: 'session_expired', reason: 'ended' }],
  ['2. past the absolute lifetime it is rejected, counted from creation', state(undefined), request(1, { presented: session(1, { ca: S - 3600 }) }), { action: 'reject', code: 'session_expired', reason: 'absolute' }],
  ['2. the ledger’s creation time wins over the cookie’s', state({ ...ledger(1), session: session(1, { ca: S - 3601 }) }), request(1), { action: 'reject', code: 'session_expired', reason: 'absolute' }],
  ['3. idle longer than allowed is rejected', state(idleLedger), request(1, { idle: 901, presented: session(1, { la: S - 1000 }) }), { action: 'reject', code: 'session_expired', reason: 'idle' }],
  ['3. activity recorded in the store keeps it alive', state(idleLedger, { activeAt: S - 100 }), request(1, { idle: undefined, presented: session(1, { la: S - 1000 }) }), { action: 'serve', heal: false }],
  ['3. activity the client reports keeps it alive', state(idleLedger), request(1, { idle: 5, presented: session(1, { la: S - 1000 }) }), { action: 'serve', heal: false }],
  ['3. activity written into the newest cookie keeps it alive', state(ledger(1)), request(1, { idle: 901, presented: session(1, { la: S - 1000 }) }), { action: 'serve', heal: false }],
  ['4. a cookie superseded longer than the grace window ago is reuse', state(ledger(3, { 1: NOW - 31_000, 2: NOW - 5_000 })), request(1), { action: 'reject', code: 'session_revoked', reason: 'reuse', currentVersion: 3 }],
  ['4. a version the ledger no longer lists was superseded long ago: reuse', state(ledger(5, { 4: NOW - 1_000 })), request(2), { action: 'reject', code: 'session_revoked', reason: 'reuse', currentVersion: 5 }],
  ['5. the cached token is served when it has minValidity left', state(ledger(1, {}, 100)), request(1, { minValidity: 200 }), { action: 'serve', heal: false }],
  ['5. a cookie one rotation behind inside the grace window is healed', state(ledger(2, { 1: NOW - 10_000 })), request(1), { action: 'serve', heal: true, staleMs: 10_000 }],
  ['5. a cookie two rotations behind, superseded inside the grace window, is healed to the newest', state(ledger(3, { 1: NOW - 20_000, 2: NOW - 1_000 })), request(1), { action: 'serve', heal: true, staleMs: 20_000 }],
  ['5. a cookie whose successor reached nobody (late rotation) heals whenever it comes back', state(ledger(2, { 1: null })), request(1), { action: 'serve', heal: true, staleMs: 0 }],
  ['5. minValidity is capped at what a fresh token can give: a new token serves any minValidity', state(ledger(1, {}, 5)), request(1, { minValidity: 86_400 }), { action: 'serve', heal: false }],
  ['5. a request that waited for another refresh takes its rotation, however short', state(ledger(2, { 1: NOW - 100 }, 200)), request(1, { minValidity: 250, waitingSince: 1 }), { action: 'serve', heal: true, staleMs: 100 }],
  ['5. a token bound to the caller’s DPoP key is served to it', state(boundLedger('key-a')), request(1, { jkt: 'key-a' }), { action: 'serve', heal: false }],
  ['5. a token bound to another DPoP key is not served: refreshed for the caller’s key', state(boundLedger('key-a')), request(1, { jkt: 'key-b' }), { action: 'refresh', adopt: false, heal: false }],
  ['5. a DPoP-bound token is not served to a caller without a key', state(boundLedger('key-a')), request(1), { action: 'refresh', adopt: false, heal: false }],
  ['5. a Bearer token is not served to a caller that proved a DPoP key', state(ledger(1)), request(1, { jkt: 'key-a' }), { action: 'refresh', adopt: false, heal: false }],
  ['5. a rotation while waiting is not taken when its token is bound to another key', state({ ...boundLedger('key-a'), session: session(2), token: { ...boundLedger('key-a').token!, v: 2 } }), request(1, { jkt: 'key-b', waitingSince: 1, presented: session(2) }), { action: 'refresh', adopt: false, heal: false }],
  ['5. a token an API refused (invalid_token) is not served again, however fresh: refreshed', state(ledger(1, {}, 1)), request(1, { rejected: 'at1' }), { action: 'refresh', adopt: false, heal: false }],
  ['5. a refused token does not stop a newer one being served', state(ledger(2, { 1: NOW - 100 })), request(2, { rejected: 'at1' }), { action: 'serve', heal: false }],
  ['6. a shared provider failure is answered as it is', state(ledger(1, {}, 299), { sharedFailure: { message: 'down', retryAfter: 4 } }), request(1), { action: 'fail', message: 'down', retryAfter: 4 }],
  ['7. while another request holds the lock, wait', state(ledger(1, {}, 299)), request(1, { lockedByOther: true }), { action: 'wait' }],
  ['8. a token without minValidity left is refreshed', state(ledger(1, {}, 100)), request(1, { minValidity: 250 }), { action: 'refresh', adopt: false, heal: false }],
  ['8. an expired token is refreshed', state(ledger(1, {}, 301)), request(1, { minValidity: 0 }), { action: 'refresh', adopt: false, heal: false }],
  ['8. a token aged past the fresh window is refreshed for a large minValidity', state(ledger(1, {}, 31)), request(1, { minValidity: 86_400 }), { action: 'refresh', adopt: false, heal: false }],
  ['8. a stale cookie inside grace needing more validity is healed and refreshed from the newest', state(ledger(2, { 1: NOW - 10_000 }, 100)), request(1, { minValidity: 250 }), { action: 'refresh', adopt: false, heal: true, staleMs: 10_000 }],
  ['8. a family the store does not know is adopted: refreshed with the cookie’s own token', state(undefined), request(4), { action: 'refresh', adopt: true, heal: false }],
  ['8. a cookie newer than the ledger (a lost write) is adopted', state(ledger(2)), request(3), { action: 'refresh', adopt: true, heal: false }],
  ['8. an unknown family is not adopted against a shared failure', state(undefined, { sharedFailure: { message: 'down', retryAfter: 2 } }), request(4), { action: 'fail', message: 'down', retryAfter: 2 }],
  ['8. an unknown family is not adopted while another request holds the lock', state(undefined), request(4, { lockedByOther: true }), { action: 'wait' }],
];

describe('decide()', () => {
  it.each(rows)('%s', (_name, given, req, expected) => {
    expect(decide(given, req, NOW, policy)).toEqual(expected);
  });

  it('turns off the idle rule with idleTimeoutSeconds 0', () => {
    const old = request(1, { idle: 10_000, presented: session(1, { la: S - 1000 }) });
    expect(decide(state(idleLedger), old, NOW, { ...policy, idleTimeoutSeconds: 0 })).toEqual({ action: 'serve', heal: false });
  });

  it('with graceSeconds 0 treats any superseded cookie as reuse, but still heals one whose successor reached nobody', () => {
    const strict = { ...policy, graceSeconds: 0 };
    expect(decide(state(ledger(2, { 1: NOW - 1 })), request(1), NOW, strict)).toMatchObject({ action: 'reject', reason: 'reuse' });
    expect(decide(state(ledger(2, { 1: null })), request(1), NOW, strict)).toMatchObject({ action: 'serve', heal: true });
  });
});

describe('rotateLedger() and confirmLedger()', () => {
  const next = (v: number) => ({ session: session(v), cookie: `sealed-v${v}`, token: ledger(v).token! });

  it('leaves the version it supersedes pending: handing out a cookie proves nothing, it may never arrive', () => {
    expect(rotateLedger(ledger(1), session(1), next(2), 1, NOW, 30_000).superseded).toEqual({ 1: null });
    // Long after (the response was lost, the laptop slept), v1 is still the newest cookie anybody holds.
    const lost = rotateLedger(ledger(1), session(1), next(2), 1, NOW, 30_000);
    expect(decide(state(lost), request(1), NOW + 2_000_000, policy)).toMatchObject({ heal: true });
  });

  it('starts the grace clock of every pending version below the one that comes back', () => {
    const twice = rotateLedger(rotateLedger(ledger(1), session(1), next(2), 1, NOW - 60_000, 30_000), session(2), next(3), 1, NOW - 50_000, 30_000);
    expect(twice.superseded).toEqual({ 1: null, 2: null });
    expect(confirmLedger(twice, 3, NOW)!.superseded).toEqual({ 1: NOW, 2: NOW });
    expect(confirmLedger(twice, 2, NOW)!.superseded).toEqual({ 1: NOW, 2: null });
    expect(confirmLedger(confirmLedger(twice, 3, NOW)!, 3, NOW + 1)).toBeUndefined();
  });

  it('asks the shell to confirm when a newer version comes back while older ones are pending', () => {
    expect(decide(state(ledger(2, { 1: null })), request(2), NOW, policy)).toEqual({ action: 'serve', heal: false, confirm: true });
    expect(decide(state(ledger(2, { 1: NOW - 1_000 })), request(2), NOW, policy)).toEqual({ action: 'serve', heal: false });
  });

  it('confirms the versions below the presented one when it rotates for a request', () => {
    // A request with v2 needs a refresh: v1 is outdated from now, v2 pending until v3 comes back.
    expect(rotateLedger(ledger(2, { 1: null }), session(2), next(3), 2, NOW, 30_000).superseded).toEqual({ 1: NOW, 2: null });
  });

  it('then treats a version outdated longer than the grace window as reuse', () => {
    const confirmed = confirmLedger(rotateLedger(ledger(1), session(1), next(2), 1, NOW, 30_000), 2, NOW)!;
    expect(decide(state(confirmed), request(1), NOW + 31_000, policy)).toMatchObject({ action: 'reject', reason: 'reuse' });
    expect(decide(state(confirmed), request(1), NOW + 29_000, policy)).toMatchObject({ action: 'serve', heal: true, staleMs: 29_000 });
  });

  it('forgets versions outdated longer than the grace window ago, so they count as reuse', () => {
    const old = ledger(2, { 1: NOW - 40_000 });
    const rotated = rotateLedger(old, session(2), next(3), 2, NOW, 30_000);
    expect(rotated.superseded).toEqual({ 2: null });
    expect(decide(state(rotated), request(1), NOW, policy)).toMatchObject({ action: 'reject', reason: 'reuse' });
  });

  it('keeps the ID token when a refresh brings none', () => {
    const withId = { ...ledger(1), idToken: 'id1' };
    expect(rotateLedger(withId, session(1), next(2), 1, NOW, 30_000).idToken).toBe('id1');
    expect(rotateLedger(withId, session(1), { ...next(2), idToken: 'id2' }, 1, NOW, 30_000).idToken).toBe('id2');
  });
});

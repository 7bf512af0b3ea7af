import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardedFor } from './config.js';
import { memoryStore } from './store.js';
import { sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

/** A BFF on the real dev provider whose clock (and store clock) the test moves. */
async function clocked(options: Parameters<typeof startHarness>[1] = {}) {
  const clock = { now: Date.now() };
  const h = await startHarness({}, { now: () => clock.now, store: memoryStore({ now: () => clock.now }), ...options });
  return { h, clock, advance: (seconds: number) => void (clock.now += seconds * 1000) };
}

const cleared = (response: Response) => /__Host-latchkey=;.*Max-Age=0/i.test(response.headers.getSetCookie().join('\n'));

describe('rate limits', () => {
  let t: Awaited<ReturnType<typeof clocked>>;
  beforeAll(async () => {
    t = await clocked({
      trustProxy: 1,
      rateLimits: { tokenPerFamily: { limit: 5, windowSeconds: 10 }, anonymousPerIp: { limit: 8, windowSeconds: 60 }, loginPerIp: { limit: 3, windowSeconds: 60 } },
    });
  });
  afterAll(() => t.h.close());

  it('answers a burst on one session with 429 rate_limited and Retry-After, and the session survives it', async () => {
    const cookie = await t.h.signIn();
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const response = await t.h.token(cookie, {}, { 'x-forwarded-for': `203.0.113.${i}` });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(await limited!.json()).toMatchObject({ error: 'rate_limited', error_description: expect.stringMatching(/session is kept/) });
    const retryAfter = Number(limited!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(cleared(limited!)).toBe(false);
    expect(t.h.events.some((e) => e.type === 'rate_limited' && e.limit === 'token_family')).toBe(true);
    t.advance(retryAfter);
    expect((await t.h.token(cookie, {}, { 'x-forwarded-for': '203.0.113.99' })).status).toBe(200);
  });

  it('limits requests without a usable session per client IP, the entry our one trusted proxy appended', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      // A client can prepend anything; only the entry the proxy appended counts.
      const response = await t.h.token(undefined, {}, { 'x-forwarded-for': `10.0.0.${i}, 198.51.100.7` });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 429, 429]);
    // The address the attacker wrote into the header still has its whole budget.
    expect((await t.h.token(undefined, {}, { 'x-forwarded-for': '198.51.100.8, 10.0.0.1' })).status).toBe(401);
  });

  it('never limits a signed-in session per IP: a whole office behind one address keeps working', async () => {
    const office = '198.51.100.30';
    for (let i = 0; i < 12; i++) {
      const cookie = await t.h.signIn('bob');
      expect((await t.h.token(cookie, {}, { 'x-forwarded-for': office })).status).toBe(200);
    }
  });

  it('limits sign-in starts per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await t.h.bff.handle(new Request('http://localhost:3000/api/auth/login?returnTo=/', { headers: { 'x-forwarded-for': '198.51.100.20' } }));
      statuses.push(response.status);
    }
    expect(statuses).toEqual([302, 302, 302, 429]);
  });
});

describe('client IP', () => {
  const request = (xff?: string) => new Request('http://localhost:3000/api/auth/login', { headers: xff ? { 'x-forwarded-for': xff } : {} });

  it('ignores X-Forwarded-For unless the deployment says how many proxies it trusts', () => {
    expect(forwardedFor(0)(request('203.0.113.9'))).toBeUndefined();
    expect(forwardedFor(1)(request('10.1.1.1, 203.0.113.9'))).toBe('203.0.113.9');
    // Two proxies (a CDN, then a load balancer): the client is the second entry from the right.
    expect(forwardedFor(2)(request('10.1.1.1, 203.0.113.9, 192.0.2.1'))).toBe('203.0.113.9');
    // Fewer entries than proxies: something is missing, so nothing is trusted.
    expect(forwardedFor(2)(request('203.0.113.9'))).toBeUndefined();
    expect(forwardedFor(1)(request('not an address'))).toBeUndefined();
    expect(forwardedFor(1)(request())).toBeUndefined();
  });

  it('keeps per-IP limits off without trustProxy, so a forged header buys nothing and spends no one else’s budget', async () => {
    const h = await startHarness({}, { rateLimits: { loginPerIp: { limit: 1, windowSeconds: 60 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await h.bff.handle(new Request('http://localhost:3000/api/auth/login', { headers: { 'x-forwarded-for': '198.51.100.40' } }));
        statuses.push(response.status);
      }
      expect(statuses).toEqual([302, 302, 302]);
    } finally {
      await h.close();
    }
  });
});

describe('lifetimes', () => {
  let t: Awaited<ReturnType<typeof clocked>>;
  beforeAll(async () => {
    t = await clocked({ idleTimeoutSeconds: 900, absoluteLifetimeSeconds: 3600, rateLimits: false });
  });
  afterAll(() => t.h.close());

  it('keeps a session alive while the client reports activity, though its tokens outlive the idle limit', async () => {
    let cookie = await t.h.signIn();
    for (let i = 0; i < 4; i++) {
      t.advance(600); // 10 minutes between calls, a person active 1 minute ago each time
      const response = await t.h.token(cookie, { idle: 60 });
      expect(response.status).toBe(200);
      cookie = sessionCookieFrom(response) ?? cookie;
    }
  });

  it('reads the activity report from the query too, as the Latchkey client sends it', async () => {
    let cookie = await t.h.signIn();
    for (let i = 0; i < 3; i++) {
      t.advance(600);
      const response = await t.h.post('/api/auth/token?idle=60', cookie, '');
      expect(response.status).toBe(200);
      cookie = sessionCookieFrom(response) ?? cookie;
    }
    t.advance(1000); // the last report said: active 60 s before the previous call
    expect((await t.h.post('/api/auth/token?idle=1000', cookie, '')).status).toBe(401);
  });

  it('signs out after the idle timeout although timer refreshes kept calling (the client reports no input)', async () => {
    const cookie = await t.h.signIn();
    t.advance(600);
    expect((await t.h.token(cookie, { idle: 600 })).status).toBe(200);
    t.advance(600);
    const response = await t.h.token(cookie, { idle: 1200 });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'session_expired', error_description: expect.stringMatching(/15 minutes without activity/) });
    expect(cleared(response)).toBe(true);
    expect((await t.h.eventsOf(cookie)).some((e) => e.type === 'session_expired' && e.reason === 'idle')).toBe(true);
    // It stays ended: an active-looking report afterwards does not revive it.
    expect((await t.h.token(cookie, { idle: 0 })).status).toBe(401);
  });

  it('ends a session at its absolute lifetime however active, counted from sign-in', async () => {
    const cookie = await t.h.signIn();
    let current = cookie;
    for (let i = 0; i < 5; i++) {
      t.advance(600);
      const response = await t.h.token(current, { idle: 0, minValidity: 3600 });
      expect(response.status).toBe(200);
      current = sessionCookieFrom(response) ?? current;
      // Max-Age is the remaining absolute lifetime, not a fresh week.
      const maxAge = Number(/Max-Age=(\d+)/i.exec(response.headers.getSetCookie().join())?.[1]);
      expect(maxAge).toBe(3600 - (i + 1) * 600);
    }
    t.advance(601);
    const response = await t.h.token(current, { idle: 0 });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'session_expired', error_description: expect.stringMatching(/maximum lifetime/) });
    expect((await t.h.eventsOf(cookie)).some((e) => e.type === 'session_expired' && e.reason === 'absolute')).toBe(true);
  });
});

describe('revocation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { rateLimits: false });
  });
  afterAll(() => h.close());

  it('revokeUser(sub) ends every family of that user and no one else’s', async () => {
    const [aliceLaptop, alicePhone, bob] = [await h.signIn('alice'), await h.signIn('alice'), await h.signIn('bob')];
    const before = (await h.idp.stats()).revoked;
    expect(await h.bff.revokeUser('alice')).toBe(2);
    for (const cookie of [aliceLaptop, alicePhone]) {
      const response = await h.token(cookie);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'session_revoked' });
    }
    expect((await h.token(bob)).status).toBe(200);
    expect(h.events.filter((e) => e.type === 'session_revoked' && e.reason === 'revoke_user')).toHaveLength(2);
    expect((await h.idp.stats()).revoked).toBeGreaterThanOrEqual(before + 2);
    expect(await h.bff.revokeUser('alice')).toBe(0);
  });

  it('revokeFamily(id) ends one session, found by the id in its events', async () => {
    const cookie = await h.signIn('bob');
    const created = h.events.filter((e) => e.type === 'session_created').at(-1)!;
    await h.bff.revokeFamily((created as { familyId: string }).familyId);
    expect(await (await h.token(cookie)).json()).toMatchObject({ error: 'session_revoked' });
  });

  it('a signed-out cookie replayed later gets 401, and its refresh token is revoked upstream', async () => {
    const cookie = await h.signIn();
    const logout = await h.post('/api/auth/logout', cookie);
    expect(logout.status).toBe(200);
    expect(cleared(logout)).toBe(true);
    const replay = await h.token(cookie, { minValidity: 3600 });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'session_revoked' });
  });

  it('signing in over a session starts a new family and ends the old one', async () => {
    const first = await h.signIn();
    const second = await h.signIn('alice', `__Host-latchkey=${first}`);
    expect(second).not.toBe(first);
    expect((await h.token(first)).status).toBe(401);
    expect((await h.token(second)).status).toBe(200);
  });
});

describe('the user → families index ("sign out everywhere")', () => {
  const members = (store: ReturnType<typeof memoryStore>, sub: string) => store.members(`latchkey:user:${sub}`);

  it('loses a family when it logs out, is revoked, or expires, so it never grows with old sign-ins', async () => {
    const clock = { now: Date.now() };
    const store = memoryStore({ now: () => clock.now });
    const h = await startHarness({}, { now: () => clock.now, store, rateLimits: false, absoluteLifetimeSeconds: 3600, idleTimeoutSeconds: 0 });
    try {
      const [loggedOut, revoked, expiring] = [await h.signIn('bob'), await h.signIn('bob'), await h.signIn('bob')];
      expect(await members(store, 'bob')).toHaveLength(3);
      await h.post('/api/auth/logout', loggedOut);
      expect(await members(store, 'bob')).toHaveLength(2);
      const revokedFamily = h.events.filter((e) => e.type === 'session_created').at(-2) as { familyId: string };
      await h.bff.revokeFamily(revokedFamily.familyId);
      expect(await members(store, 'bob')).toHaveLength(1);
      expect((await h.token(expiring)).status).toBe(200);
      expect((await h.token(revoked)).status).toBe(401);
      clock.now += 3600 * 1000 + 120_000;
      expect(await members(store, 'bob')).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('holds at most maxSessionsPerUser live families: signing in past it signs the oldest out', async () => {
    const store = memoryStore();
    const h = await startHarness({}, { store, rateLimits: false, maxSessionsPerUser: 2 });
    try {
      const [oldest, middle, newest] = [await h.signIn('bob'), await h.signIn('bob'), await h.signIn('bob')];
      expect(await members(store, 'bob')).toHaveLength(2);
      // Revoked in the background: give it a moment.
      for (let i = 0; i < 40 && !h.events.some((e) => e.type === 'session_revoked' && e.reason === 'session_limit'); i++) await new Promise((r) => setTimeout(r, 25));
      const response = await h.token(oldest);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'session_revoked' });
      expect((await h.token(middle)).status).toBe(200);
      expect((await h.token(newest)).status).toBe(200);
      expect(await h.bff.revokeUser('bob')).toBe(2);
    } finally {
      await h.close();
    }
  });
});

import { unsealData } from 'iron-session';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '@latchkey/idp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from './redis.js';
import type { SessionData } from './session.js';
import { startIdpProcess, type IdpProcess } from './test/idpProcess.js';
import { APP, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';
import { startRedis, type RedisServer } from './test/redisServer.js';

const TIMEOUT_MS = 1500;

/** Redeems a refresh token directly at the provider, as an attacker holding it would. */
async function redeemAtProvider(issuer: string, refreshToken: string) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

const unseal = (cookie: string) => unsealData<SessionData>(cookie, { password: { 1: SECRET } });

describe('refresh under concurrency, across instances sharing Redis, and with a faulty provider', () => {
  let idp: IdpProcess;
  let redis: RedisServer;
  let h: Harness;
  let second: ReturnType<Harness['instance']>;

  beforeAll(async () => {
    [idp, redis] = await Promise.all([startIdpProcess({ appOrigin: APP }), startRedis()]);
    h = await startHarness(idp, { store: redisStore({ client: await redis.client() }), upstreamTimeoutMs: TIMEOUT_MS, rateLimits: false });
    // A second BFF instance: its own Redis connection and memory, the same Redis data.
    second = h.instance({ store: redisStore({ client: await redis.client() }) });
    // Each instance reads the provider's metadata once, at its first sign-in or refresh. Done here,
    // so the hang test below measures the refresh whichever instance wins the lock, not a discovery.
    const login = await second.bff.handle(new Request(`${APP}/api/auth/login?returnTo=/`));
    expect(login.status).toBe(302);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([idp?.close(), redis?.stop()]);
  });

  it('answers 50 parallel /token calls that need a refresh with exactly one upstream refresh and one token', async () => {
    const cookie = await h.signIn();
    const before = await idp.stats();
    h.age(301); // the sign-in's token has expired: every call needs a refresh
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => h.token(cookie, { minValidity: i % 5 === 0 ? 300 : 60 })));
    const after = await idp.stats();
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const tokens = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { accessToken: string }).accessToken)));
    expect(tokens.size).toBe(1);
    expect(new Set(responses.map(sessionCookieFrom)).size).toBe(1);
    expect(after.grants.refresh_token - before.grants.refresh_token).toBe(1);
    expect(after.reuseDetected).toBe(before.reuseDetected);
  });

  it('does the same when the 50 calls are split across two BFF instances sharing Redis', async () => {
    const cookie = await h.signIn();
    const before = await idp.stats();
    h.age(301);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? h.token : second.token)(cookie, { minValidity: i % 5 === 0 ? 300 : 60 })),
    );
    const after = await idp.stats();
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const tokens = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { accessToken: string }).accessToken)));
    expect(tokens.size).toBe(1);
    // Every caller leaves with the same, newest cookie: the waiters were healed to it.
    const cookies = new Set(responses.map(sessionCookieFrom));
    expect(cookies.size).toBe(1);
    expect((await unseal([...cookies][0]!)).v).toBe(2);
    expect(after.grants.refresh_token - before.grants.refresh_token).toBe(1);
    expect(after.reuseDetected).toBe(before.reuseDetected);
  });

  it('heals a stale cookie inside the grace window on the other instance: 200 and the newer cookie', async () => {
    const cookie = await h.signIn();
    h.age(301);
    const rotated = sessionCookieFrom(await h.token(cookie))!;
    const stale = await second.token(cookie);
    expect(stale.status).toBe(200);
    expect(sessionCookieFrom(stale)).toBe(rotated);
  });

  it('treats a cookie outdated (its successor came back) longer than the grace window ago as reuse: 401 session_revoked for old and newest cookie, grant revoked upstream', async () => {
    const cookie = await h.signIn();
    const strict = h.instance({ store: redisStore({ client: await redis.client() }), graceSeconds: 0 });
    h.age(301);
    const rotated = sessionCookieFrom(await h.token(cookie))!;
    // The owner's browser uses its new cookie: from now on the old one is outdated.
    expect((await h.token(rotated)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    const before = await idp.stats();
    const reused = await strict.token(cookie);
    expect(reused.status).toBe(401);
    expect(await reused.json()).toMatchObject({ error: 'session_revoked' });
    expect(reused.headers.getSetCookie().join()).toMatch(/__Host-latchkey=;.*Max-Age=0/i);
    const newest = await h.token(rotated);
    expect(newest.status).toBe(401);
    expect(await newest.json()).toMatchObject({ error: 'session_revoked' });
    // The event names whose session it was (for the audit trail on any instance), never a token.
    const events = await h.eventsOf(cookie);
    expect(events.find((e) => e.type === 'reuse_detected')).toMatchObject({ sub: 'alice' });
    expect(events.find((e) => e.type === 'session_revoked')).toMatchObject({ sub: 'alice', reason: 'reuse' });
    // The newest refresh token no longer works at the provider either.
    const redeemed = await redeemAtProvider(idp.issuer, (await unseal(rotated)).rt);
    expect(redeemed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await idp.stats()).revoked).toBeGreaterThan(before.revoked);
  });

  it('answers 503 with Retry-After within the timeout while the provider hangs, keeps the cookie, and recovers after SIGCONT without reuse', async () => {
    const cookie = await h.signIn();
    const before = await idp.stats();
    h.age(301);
    idp.pause();
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => (i % 2 ? second : h).token(cookie)));
    const elapsed = performance.now() - started;
    for (const response of responses) {
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await response.json()).toMatchObject({ error: 'upstream_unavailable' });
      expect(response.headers.getSetCookie()).toEqual([]); // the session is kept
    }
    // Bounded by the upstream timeout (plus one lock wait), never hanging with the provider.
    expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + 3000);
    idp.resume();
    // The provider now answers the request it had received; its rotation is recorded, not lost.
    const lateRotation = async () => (await h.eventsOf(cookie)).some((e) => e.type === 'token_refreshed' && e.late === true);
    // Up to 20 s: on a loaded machine the resumed provider can take a while to get to it.
    for (let attempt = 0; attempt < 80 && !(await lateRotation()); attempt++) {
      await new Promise((r) => setTimeout(r, 250));
    }
    // The browser still holds the cookie from before that rotation. Nobody ever received the
    // newer one, so it is healed however late it comes back (here: with no grace window at all).
    const strict = h.instance({ store: redisStore({ client: await redis.client() }), graceSeconds: 0 });
    const healed = await strict.token(cookie);
    expect(healed.status).toBe(200);
    const healedCookie = sessionCookieFrom(healed)!;
    expect((await unseal(healedCookie)).v).toBe(2);
    // And the refresh-token chain is intact: the next real refresh works, with no reuse.
    h.age(301);
    const next = await h.token(healedCookie);
    expect(next.status).toBe(200);
    const after = await idp.stats();
    expect(after.grants.refresh_token - before.grants.refresh_token).toBe(2);
    expect(after.reuseDetected).toBe(before.reuseDetected);
    expect(await lateRotation(), `no late rotation was recorded; provider grants ${JSON.stringify(after.grants)}, events ${JSON.stringify((await h.eventsOf(cookie)).map((e) => e.type))}`).toBe(true);
  }, 45_000);

  it('answers 503 with Retry-After when the provider is down, and keeps the cookie', async () => {
    const cookie = await h.signIn();
    await idp.close();
    h.age(301);
    const response = await h.token(cookie);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ error: 'upstream_unavailable' });
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_SESSIONS_KEY } from './metrics.js';
import { memoryStore } from './store.js';
import { APP, postTo, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';
import { points, testMetrics, type TestMetrics } from './test/metrics.js';

let h: Harness;
let t: TestMetrics;
beforeAll(async () => {
  t = testMetrics();
  h = await startHarness({ accessTokenTtl: 60 }, { meterProvider: t.provider, rateLimits: false });
});
afterAll(async () => {
  await h?.close();
  await t?.shutdown();
});

/** Every counter value and histogram count, keyed `name{attributes}`: what changed is what a step recorded. */
async function snapshot(): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const [name, metric] of await t.collect()) {
    if (name === 'latchkey.sessions.active') continue;
    for (const p of points(metric)) values.set(`${name}${JSON.stringify(p.attributes)}`, p.count || p.value);
  }
  return values;
}

async function changes(step: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await snapshot();
  await step();
  const after = await snapshot();
  const changed: Record<string, number> = {};
  for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) changed[k] = v - (before.get(k) ?? 0);
  return changed;
}

const fidOf = async (cookie: string) => (await unsealData<{ fid: string }>(cookie, { password: { 1: SECRET } })).fid;

describe('metrics against the real dev provider', () => {
  const secrets: string[] = [];

  it('counts a sign-in, a cached token, a refresh, a heal, a reuse and a logout, each as what it was', async () => {
    let cookie = '';
    expect(await changes(async () => (cookie = await h.signIn('alice')))).toEqual({
      'latchkey.sessions.started{}': 1,
      'latchkey.logins{"latchkey.outcome":"success"}': 1,
      'latchkey.cookie.size{}': 1,
    });

    let accessToken = '';
    expect(
      await changes(async () => {
        accessToken = (await (await h.token(cookie)).json()).accessToken;
      }),
    ).toEqual({ 'latchkey.token.requests{"latchkey.result":"cached"}': 1 });

    let rotated = '';
    h.age(61);
    expect(
      await changes(async () => {
        const response = await h.token(cookie);
        expect(response.status).toBe(200);
        rotated = sessionCookieFrom(response)!;
      }),
    ).toEqual({
      'latchkey.token.requests{"latchkey.result":"refreshed"}': 1,
      'latchkey.refresh.duration{"latchkey.outcome":"success"}': 1,
      'latchkey.cookie.size{}': 1,
    });

    // The tab that missed the rotation presents the old cookie: healed, no refresh.
    expect(await changes(async () => expect(sessionCookieFrom(await h.token(cookie))).toBe(rotated))).toEqual({
      'latchkey.token.requests{"latchkey.result":"healed"}': 1,
    });

    // The new cookie comes back; 31 s later (past the 30 s grace) the old one is reuse.
    expect((await h.token(rotated)).status).toBe(200);
    h.age(31);
    expect(await changes(async () => expect((await h.token(cookie)).status).toBe(401))).toEqual({
      'latchkey.token.requests{"latchkey.result":"rejected"}': 1,
      'latchkey.reuse.detected{}': 1,
      'latchkey.sessions.ended{"latchkey.reason":"reuse"}': 1,
    });

    const other = await h.signIn('bob');
    expect(await changes(async () => expect((await h.post('/api/auth/logout', other, '{}')).status).toBe(200))).toEqual({
      'latchkey.sessions.ended{"latchkey.reason":"logout"}': 1,
    });
    secrets.push(await fidOf(cookie), await fidOf(other), accessToken, cookie, rotated, other);
  });

  it('counts concurrent requests of one session as one refresh and the rest as waits, with how long they waited', async () => {
    const cookie = await h.signIn('alice');
    h.age(61);
    expect(await changes(() => Promise.all(Array.from({ length: 10 }, () => h.token(cookie))))).toEqual({
      'latchkey.token.requests{"latchkey.result":"refreshed"}': 1,
      'latchkey.token.requests{"latchkey.result":"waited"}': 9,
      'latchkey.lock.wait.duration{}': 9,
      'latchkey.refresh.duration{"latchkey.outcome":"success"}': 1,
      'latchkey.cookie.size{}': 1,
    });
    secrets.push(await fidOf(cookie));
  });

  it('counts failed sign-ins: refused by the BFF, or an error the provider sent back', async () => {
    expect(await changes(() => h.get('/api/auth/callback?code=x&state=no-transaction-of-this-browser'))).toEqual({
      'latchkey.logins{"latchkey.outcome":"failure"}': 1,
    });
    const { callbackUrl, txCookie } = await h.authorize('alice');
    const denied = new URL(callbackUrl);
    denied.searchParams.delete('code');
    denied.searchParams.set('error', 'access_denied');
    expect(await changes(() => h.bff.handle(new Request(denied, { headers: { cookie: txCookie } })))).toEqual({
      'latchkey.logins{"latchkey.outcome":"provider_error"}': 1,
    });
  });

  it('counts 429s by route: token, login and anonymous', async () => {
    const limited = h.instance({ trustProxy: 1, rateLimits: { tokenPerFamily: { limit: 1, windowSeconds: 60 }, loginPerIp: { limit: 1, windowSeconds: 60 }, anonymousPerIp: { limit: 1, windowSeconds: 60 } } });
    const cookie = await h.signIn('alice');
    const ip = { 'x-forwarded-for': '203.0.113.7' };
    expect(
      await changes(async () => {
        expect([(await limited.token(cookie)).status, (await limited.token(cookie)).status]).toEqual([200, 429]);
        const login = () => limited.bff.handle(new Request(`${APP}/api/auth/login`, { headers: ip }));
        expect([(await login()).status, (await login()).status]).toEqual([302, 429]);
        expect([(await limited.token(undefined, {}, ip)).status, (await limited.token(undefined, {}, ip)).status]).toEqual([401, 429]);
      }),
    ).toEqual({
      // The instance has a store of its own, which confirms the family with the provider first.
      'latchkey.token.requests{"latchkey.result":"refreshed"}': 1,
      'latchkey.refresh.duration{"latchkey.outcome":"success"}': 1,
      'latchkey.cookie.size{}': 1,
      'latchkey.rate_limited{"latchkey.route":"token"}': 1,
      'latchkey.rate_limited{"latchkey.route":"login"}': 1,
      'latchkey.rate_limited{"latchkey.route":"anonymous"}': 1,
    });
    secrets.push(await fidOf(cookie));
  });

  it('reports the live sessions of the store as latchkey.sessions.active', async () => {
    const own = testMetrics();
    const store = memoryStore();
    const bff = h.instance({ meterProvider: own.provider, store }).bff;
    const signIn = async (user: string) => {
      const { callbackUrl, txCookie } = await h.authorize(user);
      return sessionCookieFrom(await bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } })))!;
    };
    const cookies = [await signIn('alice'), await signIn('bob'), await signIn('alice')];
    expect((await postTo(bff, '/api/auth/logout', cookies[1])).status).toBe(200);
    const gauge = (await own.collect()).get('latchkey.sessions.active')!;
    expect(points(gauge).map((p) => p.value)).toEqual([2]);
    expect(await store.countSet!(ACTIVE_SESSIONS_KEY)).toBe(2);
    await own.shutdown();
  });

  it('never puts a family id, a user or a token in an attribute', async () => {
    const values = await t.attributeValues();
    const allowed = /^(cached|refreshed|waited|healed|rejected|success|failure|provider_error|invalid_grant|reuse_revoked|upstream_error|timeout|store_error|configuration_error|logout|idle|absolute|revoked|reuse|token|login|anonymous)$/;
    expect(values.length).toBeGreaterThan(5);
    for (const value of values) {
      expect(value).toMatch(allowed);
      for (const secret of [...secrets, 'alice', 'bob']) expect(value).not.toContain(secret);
    }
    const keys = [...(await t.collect()).values()].flatMap((metric) => points(metric).flatMap((p) => Object.keys(p.attributes)));
    expect(new Set(keys)).toEqual(new Set(['latchkey.result', 'latchkey.outcome', 'latchkey.reason', 'latchkey.route']));
  });
});

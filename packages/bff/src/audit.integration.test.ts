import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Alert } from './alerts.js';
import { familyHasher, memoryAuditSink, type AuditRecord } from './audit.js';
import { redisAuditSink, redisStore } from './redis.js';
import type { SessionData } from './session.js';
import { APP, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';
import { startRedis, type RedisServer } from './test/redisServer.js';

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 audit-test';
/** What a browser behind one trusted proxy sends: the left entry is the client's own claim, the right one the proxy's. */
const fromClient = (ip: string, ua = UA) => ({ 'user-agent': ua, 'x-forwarded-for': `10.66.66.66, ${ip}` });
const hash = familyHasher({ 1: SECRET });
const unseal = (cookie: string) => unsealData<SessionData>(cookie, { password: { 1: SECRET } });

describe('the audit trail, alerts and the operations API against the real provider and Redis', () => {
  let redis: RedisServer;
  let h: Harness;
  let client: Awaited<ReturnType<RedisServer['client']>>;
  const alerts: Alert[] = [];

  /** Signs in through the provider, the callback arriving from `ip` with `ua`. */
  async function signIn(user: string, ip: string, ua = UA, target = h.bff): Promise<string> {
    const { callbackUrl, txCookie } = await h.authorize(user);
    const callback = await target.handle(new Request(callbackUrl, { headers: { cookie: txCookie, ...fromClient(ip, ua) } }));
    expect(callback.status).toBe(200);
    return sessionCookieFrom(callback)!;
  }

  /** Every record in the Redis stream, oldest first. */
  async function stream(): Promise<AuditRecord[]> {
    const entries = (await client.sendCommand(['XRANGE', 'latchkey:audit', '-', '+'])) as [string, string[]][];
    return entries.map(([, fields]) => JSON.parse(fields[1]!) as AuditRecord);
  }

  beforeAll(async () => {
    redis = await startRedis();
    client = await redis.client();
    h = await startHarness(
      {},
      {
        store: redisStore({ client }),
        audit: redisAuditSink({ client, maxLen: 1000, write: false }),
        trustProxy: 1,
        rateLimits: false,
        onAlert: (alert) => alerts.push(alert),
      },
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all([h?.close(), redis?.stop()]);
  });

  it('records sign-in, refresh, heal, reuse and logout in the Redis stream, with IP, user agent and user, and never a token, a cookie or a raw family id', async () => {
    const secrets: string[] = [];
    const alice = await signIn('alice', '203.0.113.7');
    const { fid, rt } = await unseal(alice);
    secrets.push(alice, fid, rt);
    const family = hash(fid);

    const cached = await h.token(alice, {}, fromClient('203.0.113.7'));
    expect(cached.status).toBe(200);
    secrets.push(((await cached.json()) as { accessToken: string }).accessToken);
    h.age(301);
    const refreshed = await h.token(alice, {}, fromClient('203.0.113.7'));
    expect(refreshed.status).toBe(200);
    const rotated = sessionCookieFrom(refreshed)!;
    secrets.push(rotated, (await unseal(rotated)).rt, ((await refreshed.json()) as { accessToken: string }).accessToken);
    // A lagging tab with the old cookie is healed; then the new cookie comes back, and 31 s later the old one is reuse.
    expect((await h.token(alice, {}, fromClient('203.0.113.7'))).status).toBe(200);
    expect((await h.token(rotated, {}, fromClient('203.0.113.7'))).status).toBe(200);
    h.age(31);
    const reused = await h.token(alice, {}, fromClient('198.51.100.23', 'curl/8.5'));
    expect(reused.status).toBe(401);

    const bob = await signIn('bob', '192.0.2.44');
    secrets.push(bob, (await unseal(bob)).fid, (await unseal(bob)).rt);
    expect((await h.post('/api/auth/logout', bob, '{}', fromClient('192.0.2.44'))).status).toBe(200);

    const records = await stream();
    const of = (f: string) => records.filter((r) => r.family === f).map((r) => `${r.event}:${r.outcome}`);
    expect(of(family)).toEqual(['session_created:success', 'token_refreshed:success', 'stale_cookie_healed:success', 'reuse_detected:revoked', 'alert:reuse_detected', 'session_revoked:reuse']);
    for (const record of records.filter((r) => r.family === family)) expect(record).toMatchObject({ sub: 'alice', route: expect.stringMatching(/^\/(callback|token)$/) });
    const [created, refresh] = records.filter((r) => r.family === family);
    expect(created).toMatchObject({ type: 'sign_in', ip: '203.0.113.7', userAgent: UA, route: '/callback' });
    expect(refresh).toMatchObject({ type: 'refresh', ip: '203.0.113.7', detail: { version: 2, rotated: true } });
    // The thief's request is recorded with the thief's address and client.
    expect(records.find((r) => r.family === family && r.type === 'reuse')).toMatchObject({ ip: '198.51.100.23', userAgent: 'curl/8.5' });
    expect(of(hash((await unseal(bob)).fid))).toEqual(['session_created:success', 'logged_out:success']);
    expect(records.find((r) => r.event === 'logged_out')).toMatchObject({ type: 'logout', sub: 'bob', ip: '192.0.2.44' });

    // Nothing that could act as a credential, nor the raw id revokeFamily() takes; and no address the client wrote itself.
    const text = JSON.stringify(records);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('10.66.66.66');

    // The dashboard reads the same trail back, newest first.
    const recent = await h.bff.admin.recentAudit(3);
    expect(recent).toEqual(records.slice(-3).reverse());
    // One alert for the reuse, however many records followed it.
    expect(alerts.filter((a) => a.kind === 'reuse_detected').map((a) => a.key)).toEqual([`family:${family}`]);
    expect(records.filter((r) => r.type === 'alert' && r.family === family)).toHaveLength(1);

    const { totals } = h.bff.admin.stats();
    expect(totals.tokens).toMatchObject({ cached: 2, refreshed: 1, healed: 1, rejected: 1 });
    expect(totals).toMatchObject({ reuse: 1, signIns: 2 });
  });

  it('lists a user\'s sessions with when, where and how many versions; revokes one, then all, each audited with its operator', async () => {
    const laptop = await signIn('bob', '192.0.2.10', 'bob-laptop');
    const phone = await signIn('bob', '192.0.2.11', 'bob-phone');
    h.age(301);
    expect((await h.token(phone, {}, fromClient('192.0.2.12', 'bob-phone'))).status).toBe(200);

    const sessions = await h.bff.admin.listSessions('bob');
    expect(sessions).toHaveLength(2);
    const byAgent = Object.fromEntries(sessions.map((s) => [s.userAgent, s]));
    expect(byAgent['bob-laptop']).toMatchObject({ family: hash((await unseal(laptop)).fid), sub: 'bob', ip: '192.0.2.10', versions: 1, createdAt: expect.any(Number) });
    expect(byAgent['bob-phone']).toMatchObject({ family: hash((await unseal(phone)).fid), ip: '192.0.2.12', versions: 2, lastRefreshAt: expect.any(Number) });
    expect(JSON.stringify(sessions)).not.toContain((await unseal(laptop)).fid);

    const operator = new Request(`${APP}/admin`, { headers: fromClient('203.0.113.99', 'admin-console') });
    expect(await h.bff.admin.revokeSession(byAgent['bob-laptop']!.family, { actor: 'alice', request: operator })).toBe(true);
    expect((await h.token(laptop)).status).toBe(401);
    expect((await h.token(phone)).status).toBe(200);
    expect((await h.bff.admin.listSessions('bob')).map((s) => s.userAgent)).toEqual(['bob-phone']);

    expect(await h.bff.admin.revokeUser('bob', { actor: 'alice' })).toBe(1);
    expect(await (await h.token(phone)).json()).toMatchObject({ error: 'session_revoked' });
    expect(await h.bff.admin.listSessions('bob')).toEqual([]);
    expect(await h.bff.admin.revokeSession('0123456789abcdef', { actor: 'alice' })).toBe(false);

    const records = await stream();
    const admin = records.filter((r) => r.type === 'admin');
    expect(admin.slice(-3)).toMatchObject([
      { event: 'admin_action', outcome: 'revoke_session', sub: 'bob', family: byAgent['bob-laptop']!.family, ip: '203.0.113.99', userAgent: 'admin-console', detail: { actor: 'alice', revoked: true } },
      { outcome: 'revoke_user', sub: 'bob', detail: { actor: 'alice', revoked: 1 } },
      { outcome: 'revoke_session', detail: { actor: 'alice', revoked: false } },
    ]);
    expect(records.filter((r) => r.type === 'revoke' && r.sub === 'bob').map((r) => r.outcome)).toEqual(['revoke_family', 'revoke_user']);
  });

  it('records the user from the session cookie on an instance that never saw the sign-in', async () => {
    const sink = memoryAuditSink({ write: false });
    // Its own Redis connection, so its own process-wide state: it knows nothing of this family.
    const other = h.instance({ store: redisStore({ client: await redis.client() }), audit: sink });
    const cookie = await signIn('alice', '203.0.113.11');
    h.age(301);
    expect((await other.token(cookie, {}, fromClient('203.0.113.11'))).status).toBe(200);
    expect(await sink.recent!(5)).toEqual([expect.objectContaining({ event: 'token_refreshed', sub: 'alice', family: hash((await unseal(cookie)).fid), ip: '203.0.113.11' })]);
  });

  it('records no IP when no proxy is trusted: X-Forwarded-For is then the client\'s own word', async () => {
    const sink = memoryAuditSink({ write: false });
    const direct = h.instance({ trustProxy: 0, audit: sink });
    await signIn('alice', '203.0.113.8', UA, direct.bff);
    const [record] = await sink.recent!(1);
    expect(record).toMatchObject({ event: 'session_created', sub: 'alice', userAgent: UA });
    expect(record).not.toHaveProperty('ip');
  });

  it('by default writes one JSON line per event, the audit record, instead of an event line beside it', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      const plain = h.instance({ onEvent: undefined, audit: undefined });
      await signIn('alice', '203.0.113.9', UA, plain.bff);
    } finally {
      log.mockRestore();
    }
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'info', source: 'latchkey', type: 'sign_in', event: 'session_created', sub: 'alice', ip: '203.0.113.9' }),
    ]);
  });

  it('keeps the dev provider\'s roles claim from the ID token where userClaims asks for it (alice is an admin, bob is not)', async () => {
    const withRoles = h.instance({ userClaims: ['sub', 'name', 'roles'] });
    const user = async (name: string) => {
      const cookie = await signIn(name, '203.0.113.10', UA, withRoles.bff);
      return ((await (await withRoles.token(cookie)).json()) as { user: Record<string, unknown> }).user;
    };
    expect(await user('alice')).toMatchObject({ sub: 'alice', roles: ['admin'] });
    expect(await user('bob')).toMatchObject({ sub: 'bob', roles: [] });
  });

  it('fires one failed_sign_ins alert for an address after 5 failed callbacks, not one per failure', async () => {
    const before = alerts.length;
    for (let i = 0; i < 8; i++) {
      const response = await h.get(`/api/auth/callback?state=${'s'.repeat(20)}${i}&code=stolen`, undefined, fromClient('198.51.100.77'));
      expect(response.status).toBe(400);
    }
    const fired = alerts.slice(before);
    expect(fired.map((a) => `${a.kind} ${a.key} ${a.count}`)).toEqual(['failed_sign_ins ip:198.51.100.77 5']);
    const failures = (await stream()).filter((r) => r.event === 'sign_in_failed' && r.ip === '198.51.100.77');
    expect(failures).toHaveLength(8);
    expect(failures[0]).toMatchObject({ type: 'sign_in', outcome: 'missing_transaction' });
  });
});

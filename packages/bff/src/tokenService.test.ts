import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig, type BffConfig } from './config.js';
import { BffError, UpstreamError } from './errors.js';
import type { BffEvent } from './events.js';
import { ACTIVE_SESSIONS_KEY } from './metrics.js';
import type { OidcClient, ProviderTokens } from './oidc.js';
import { Sealer } from './seal.js';
import type { SessionData } from './session.js';
import { memoryStore, type BffStore } from './store.js';
import { testMetrics, type TestMetrics } from './test/metrics.js';
import { TokenService } from './tokenService.js';

const SECRET = 'test-cookie-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const T0 = Date.UTC(2030, 0, 1);

let t: TestMetrics;
beforeEach(() => {
  t = testMetrics();
});
afterEach(async () => {
  await t.shutdown();
  vi.restoreAllMocks();
});

/** A token service on a memory store and a fake provider, its clock in the test's hands. */
function setup(options: Partial<BffConfig> & { store?: BffStore; clock?: { now: number } } = {}) {
  const clock = options.clock ?? { now: T0 };
  const store = options.store ?? memoryStore({ now: () => clock.now });
  const events: BffEvent[] = [];
  const config = resolveConfig(
    {
      issuer: 'https://idp.example',
      clientId: 'client',
      clientSecret: 'client-secret',
      appOrigin: 'http://localhost:3000',
      cookieSecret: SECRET,
      meterProvider: t.provider,
      onEvent: (event) => events.push(event),
      now: () => clock.now,
      ...options,
      store,
    },
    {},
  );
  let issued = 1;
  /** The provider: each refresh takes 250 ms on the test's clock and rotates the refresh token. */
  const refreshTokens = vi.fn(async (): Promise<ProviderTokens> => {
    clock.now += 250;
    return tokensFor(++issued);
  });
  const oidc = { refreshTokens, revokeRefreshToken: vi.fn(async () => {}) } as unknown as OidcClient;
  const service = new TokenService(config, oidc, new Sealer(config.passwords));
  const signIn = async (sub = 'alice'): Promise<SessionData> => {
    const session: SessionData = { fid: `family-${sub}-${Math.random().toString(36).slice(2)}`, v: 1, rt: 'rt-1', user: { sub }, ca: Math.floor(clock.now / 1000) };
    await service.startFamily(session, tokensFor(1));
    return session;
  };
  return { service, store, clock, events, refreshTokens, signIn, config };
}

function tokensFor(n: number): ProviderTokens {
  return { accessToken: `access-token-${n}`, expiresIn: 60, refreshToken: `rt-${n}`, scope: 'openid', tokenType: 'bearer', idToken: undefined, claims: undefined };
}

const requests = (result: string) => t.total('latchkey.token.requests', { 'latchkey.result': result });
const refreshes = (outcome: string) => t.total('latchkey.refresh.duration', { 'latchkey.outcome': outcome });

describe('TokenService metrics', () => {
  it('counts a token served from the cache as cached, and nothing else', async () => {
    const { service, signIn } = setup();
    const session = await signIn();
    await service.getToken(session, 30, undefined);
    expect(await requests('cached')).toBe(1);
    expect(await t.total('latchkey.token.requests')).toBe(1);
    expect(await t.total('latchkey.refresh.duration')).toBe(0);
  });

  it('counts a refresh as refreshed and times it from the provider call to the recorded rotation', async () => {
    const { service, signIn, clock } = setup();
    const session = await signIn();
    clock.now += 61_000;
    const outcome = await service.getToken(session, 30, undefined);
    expect(outcome.body.accessToken).toBe('access-token-2');
    expect(await requests('refreshed')).toBe(1);
    const [point] = (await t.collect()).get('latchkey.refresh.duration')!.dataPoints;
    expect(point).toMatchObject({ attributes: { 'latchkey.outcome': 'success' }, value: { count: 1, sum: 0.25 } });
  });

  it('counts requests that joined another request’s refresh as waited, with the time they waited', async () => {
    const { service, signIn, clock, refreshTokens } = setup();
    const session = await signIn();
    clock.now += 61_000;
    await Promise.all([service.getToken(session, 30, undefined), service.getToken(session, 30, undefined), service.getToken(session, 30, undefined)]);
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(await requests('refreshed')).toBe(1);
    expect(await requests('waited')).toBe(2);
    const [wait] = (await t.collect()).get('latchkey.lock.wait.duration')!.dataPoints;
    expect(wait).toMatchObject({ value: { count: 2, sum: 0.5 } });
  });

  it('counts a request that waited for another instance’s lock as waited, with the time it polled', async () => {
    const store = memoryStore();
    const clock = { now: T0 };
    const one = setup({ store, clock });
    const other = setup({ store, clock });
    const session = await one.signIn();
    clock.now += 61_000;
    let answer!: () => void;
    one.refreshTokens.mockImplementationOnce(() => new Promise<ProviderTokens>((resolve) => (answer = () => resolve(tokensFor(7)))));
    const first = one.service.getToken(session, 30, undefined);
    await vi.waitFor(() => expect(one.refreshTokens).toHaveBeenCalled());
    const second = other.service.getToken(session, 30, undefined);
    await new Promise((resolve) => setTimeout(resolve, 60));
    clock.now += 400;
    answer();
    const [a, b] = await Promise.all([first, second]);
    expect(b.body.accessToken).toBe(a.body.accessToken);
    expect(other.refreshTokens).not.toHaveBeenCalled();
    expect(await requests('refreshed')).toBe(1);
    expect(await requests('waited')).toBe(1);
    const [wait] = (await t.collect()).get('latchkey.lock.wait.duration')!.dataPoints;
    expect(wait).toMatchObject({ value: { count: 1, sum: 0.4 } });
  });

  it('counts a stale cookie that got the newest one as healed, once, however it was served', async () => {
    const { service, signIn, clock, events } = setup();
    const session = await signIn();
    clock.now += 61_000;
    await service.getToken(session, 30, undefined);
    const healed = await service.getToken(session, 30, undefined);
    expect(healed.cookie).toBeDefined();
    expect(await requests('healed')).toBe(1);
    // Behind and the newest token short of minValidity: it refreshes and heals, and counts as healed.
    clock.now += 45_000;
    await service.getToken(session, 30, undefined);
    expect(await requests('healed')).toBe(2);
    expect(await requests('refreshed')).toBe(1);
    expect(events.filter((e) => e.type === 'stale_cookie_healed')).toHaveLength(2);
  });

  it('counts every request that gets no token as rejected', async () => {
    const { service, signIn } = setup();
    const session = await signIn();
    await service.revokeFamily(session.fid, 'revoke_family');
    await expect(service.getToken(session, 30, undefined)).rejects.toMatchObject({ code: 'session_revoked' });
    expect(await requests('rejected')).toBe(1);
    expect(await t.total('latchkey.token.requests')).toBe(1);
  });

  it.each([
    ['invalid_grant', new BffError('session_expired', 401, 'gone')],
    ['configuration_error', new BffError('configuration_error', 500, 'wrong secret')],
    ['upstream_error', new UpstreamError('provider down')],
  ])('records a refresh the provider refused as %s, and the request as rejected', async (outcome, error) => {
    const { service, signIn, clock, refreshTokens } = setup();
    const session = await signIn();
    clock.now += 61_000;
    refreshTokens.mockImplementationOnce(async () => {
      clock.now += 100;
      throw error;
    });
    await expect(service.getToken(session, 30, undefined)).rejects.toBe(error);
    expect(await refreshes(outcome)).toBe(1);
    expect(await t.total('latchkey.refresh.duration')).toBe(1);
    expect(await requests('rejected')).toBe(1);
  });

  it('records a refresh past upstreamTimeoutMs as timeout, once, although the provider answers later', async () => {
    const { service, signIn, clock, refreshTokens, events } = setup({ upstreamTimeoutMs: 30 });
    const session = await signIn();
    clock.now += 61_000;
    let answer!: () => void;
    refreshTokens.mockImplementationOnce(() => new Promise<ProviderTokens>((resolve) => (answer = () => resolve(tokensFor(9)))));
    await expect(service.getToken(session, 30, undefined)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    answer();
    await vi.waitFor(() => expect(events.some((e) => e.type === 'token_refreshed' && e.late)).toBe(true));
    expect(await refreshes('timeout')).toBe(1);
    expect(await t.total('latchkey.refresh.duration')).toBe(1);
  });

  it('records a refresh whose rotation the store could not record as store_error', async () => {
    const { service, signIn, clock, store } = setup();
    const session = await signIn();
    clock.now += 61_000;
    const set = store.set.bind(store);
    vi.spyOn(store, 'set').mockImplementation((k, ...rest) => (k.startsWith('latchkey:fam:') ? Promise.reject(new Error('store down')) : set(k, ...rest)));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await service.getToken(session, 30, undefined);
    expect(await refreshes('store_error')).toBe(1);
    expect(await refreshes('success')).toBe(0);
  });

  it('records a refresh that found its family revoked once the provider answered as reuse_revoked', async () => {
    const { service, signIn, clock, refreshTokens } = setup();
    const session = await signIn();
    clock.now += 61_000;
    refreshTokens.mockImplementationOnce(async () => {
      // Reuse detected on another request while the provider was answering this one.
      await service.revokeFamily(session.fid, 'reuse');
      return tokensFor(5);
    });
    await expect(service.getToken(session, 30, undefined)).rejects.toMatchObject({ code: 'session_revoked' });
    expect(await refreshes('reuse_revoked')).toBe(1);
    expect(await requests('rejected')).toBe(1);
  });

  it('records the size of every session cookie handed out, at sign-in and at each rotation', async () => {
    const { service, signIn, clock } = setup();
    const session = await signIn();
    clock.now += 61_000;
    const { cookie } = await service.getToken(session, 30, undefined);
    const [size] = (await t.collect()).get('latchkey.cookie.size')!.dataPoints;
    expect((size!.value as { count: number }).count).toBe(2);
    expect((size!.value as { max: number }).max).toBeGreaterThanOrEqual(cookie!.length);
  });

  it('lists each live family in the store for latchkey.sessions.active, and takes ended ones out', async () => {
    const { service, signIn, clock, store, refreshTokens } = setup();
    const count = () => store.countSet!(ACTIVE_SESSIONS_KEY);
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    const carol = await signIn('carol');
    expect(await count()).toBe(3);
    await service.revokeFamily(alice.fid, 'logout');
    expect(await count()).toBe(2);
    clock.now += 61_000;
    refreshTokens.mockRejectedValueOnce(new BffError('session_expired', 401, 'gone'));
    await expect(service.getToken(bob, 30, undefined)).rejects.toMatchObject({ code: 'session_expired' });
    expect(await store.members(ACTIVE_SESSIONS_KEY)).toEqual([carol.fid]);
  });

  it('lets a family that nobody uses leave the live ones after the idle timeout and one token lifetime', async () => {
    const { signIn, clock, store } = setup({ idleTimeoutSeconds: 900 });
    await signIn();
    clock.now += (900 + 60) * 1000;
    expect(await store.countSet!(ACTIVE_SESSIONS_KEY)).toBe(1);
    clock.now += 61_000;
    expect(await store.countSet!(ACTIVE_SESSIONS_KEY)).toBe(0);
  });

  it('never attributes a metric to a family, a user or a token', async () => {
    const { service, signIn, clock } = setup();
    const session = await signIn('alice');
    await service.getToken(session, 30, undefined);
    clock.now += 61_000;
    await service.getToken(session, 30, undefined);
    await service.getToken(session, 30, undefined);
    await service.revokeFamily(session.fid, 'reuse');
    const values = await t.attributeValues();
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) expect(value).not.toMatch(new RegExp(`${session.fid}|alice|access-token|rt-`));
  });
});

describe('TokenService with DPoP proofs', () => {
  const proof = (jkt: string, jti: string) => ({ jwt: `proof-${jti}`, jkt, jti });

  it('binds the token to the proof’s key when the provider answers DPoP, and forwards each proof once', async () => {
    const { service, signIn, refreshTokens } = setup();
    refreshTokens.mockImplementation(async () => ({ ...tokensFor(2), tokenType: 'dpop' }));
    const session = await signIn();
    const first = await service.getToken(session, 30, undefined, { proof: proof('key-a', 'one') });
    expect(first.body.tokenType).toBe('DPoP');
    expect(refreshTokens).toHaveBeenCalledWith('rt-1', expect.any(Number), 'proof-one');
    // The same key again: the cached token, no refresh.
    await service.getToken(first.session, 30, undefined, { proof: proof('key-a', 'two') });
    expect(refreshTokens).toHaveBeenCalledTimes(1);
  });

  it('serves a provider’s Bearer answer to a proof as Bearer, and says once that the provider ignored DPoP', async () => {
    const { service, signIn, refreshTokens } = setup();
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    let session = await signIn();
    for (const jti of ['one', 'two']) {
      const outcome = await service.getToken(session, 30, undefined, { proof: proof('key-a', jti) });
      expect(outcome.body.tokenType).toBe('Bearer');
      session = outcome.session;
    }
    // An unbound token never matches a key: each DPoP call refreshes, and the log says why, once.
    expect(refreshTokens).toHaveBeenCalledTimes(2);
    expect(log.mock.calls.filter(([line]) => String(line).includes('answered a DPoP refresh with a Bearer token'))).toHaveLength(1);
  });
});

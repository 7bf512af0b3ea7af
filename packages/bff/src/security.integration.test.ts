import { sealData, unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransactionData } from './session.js';
import { APP, SECRET, sessionCookieFrom, startHarness, type Harness } from './test/harness.js';
import { landingTarget } from './landing.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { rateLimits: false });
});
afterAll(() => h.close());

/** Re-seals a transaction cookie with the test secret after changing it, as only a holder of the secret could. */
async function forgeTx(txCookie: string, change: Partial<TransactionData>): Promise<string> {
  const [name, value] = [txCookie.slice(0, txCookie.indexOf('=')), txCookie.slice(txCookie.indexOf('=') + 1)];
  const tx = await unsealData<TransactionData>(value, { password: { 1: SECRET } });
  return `${name}=${await sealData({ ...tx, ...change }, { password: { 1: SECRET }, ttl: 600 })}`;
}

/** A 400 JSON error with one of `codes` (design §3 allows either where two fit), no session, no referrer. */
async function expectRefused(response: Response, ...codes: string[]) {
  expect(response.status).toBe(400);
  const body = (await response.json()) as { error: unknown; error_description: unknown };
  expect(codes).toContain(body.error);
  expect(typeof body.error_description).toBe('string');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(sessionCookieFrom(response)).toBeUndefined();
}

describe('callback', () => {
  it('answers a replayed callback (same URL, same transaction cookie, sent twice) with a 4xx JSON error and creates no second session', async () => {
    const { callbackUrl, txCookie } = await h.authorize();
    const sessionsCreated = () => h.events.filter((e) => e.type === 'session_created').length;
    const before = { sessions: sessionsCreated(), codeGrants: (await h.idp.stats()).grants.authorization_code };

    const first = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
    expect(first.status).toBe(200);
    expect(sessionCookieFrom(first)).toBeDefined();
    expect(sessionsCreated()).toBe(before.sessions + 1);

    // Exactly what the first request carried: a browser replaying its history entry, or a thief with both.
    const replay = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    expect(replay.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await replay.json()) as { error: unknown; error_description: unknown };
    expect(['invalid_grant', 'missing_transaction']).toContain(body.error);
    expect(typeof body.error_description).toBe('string');
    expect(replay.headers.get('referrer-policy')).toBe('no-referrer');
    expect(sessionCookieFrom(replay)).toBeUndefined();
    expect(sessionsCreated()).toBe(before.sessions + 1);
    expect((await h.idp.stats()).grants.authorization_code).toBe(before.codeGrants + 1);
  });

  it('refuses an ID token whose nonce is not the one this browser asked for', async () => {
    const { callbackUrl, txCookie } = await h.authorize();
    const forged = await forgeTx(txCookie, { nonce: 'a-nonce-from-another-sign-in' });
    await expectRefused(await h.bff.handle(new Request(callbackUrl, { headers: { cookie: forged } })), 'invalid_id_token');
  });

  it('refuses a callback whose state differs from the transaction’s', async () => {
    const { callbackUrl, txCookie } = await h.authorize();
    await expectRefused(await h.bff.handle(new Request(callbackUrl, { headers: { cookie: await forgeTx(txCookie, { state: 'other' }) } })), 'invalid_state', 'missing_transaction');
  });

  it('refuses a callback that carries no state', async () => {
    // Its own sign-in, not one shared with the test above: a transaction that already failed once may count as spent.
    const { callbackUrl, txCookie } = await h.authorize();
    const noState = new URL(callbackUrl);
    noState.searchParams.delete('state');
    await expectRefused(await h.bff.handle(new Request(noState, { headers: { cookie: txCookie } })), 'invalid_state', 'missing_transaction');
  });

  it('refuses a callback without its transaction cookie', async () => {
    const { callbackUrl } = await h.authorize();
    await expectRefused(await h.bff.handle(new Request(callbackUrl)), 'missing_transaction');
  });

  it('takes the redirect and origin from configuration, never from Host or X-Forwarded-*', async () => {
    const login = await h.bff.handle(
      new Request(`${APP}/api/auth/login?returnTo=/x`, { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' } }),
    );
    const authorize = new URL(login.headers.get('location')!);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${APP}/api/auth/callback`);
    const { callbackUrl, txCookie } = await h.authorize();
    const callback = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie, host: 'evil.example', 'x-forwarded-host': 'evil.example' } }));
    expect(landingTarget(await callback.text())).toBe(`${APP}/notes`);
  });
});

describe('cookie size', () => {
  it('keeps the whole Set-Cookie line under 1,500 bytes, with its __Host- attributes, at sign-in and after a rotation, with the provider’s real tokens', async () => {
    const { callbackUrl, txCookie } = await h.authorize();
    const callback = await h.bff.handle(new Request(callbackUrl, { headers: { cookie: txCookie } }));
    const signInLine = callback.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey='))!;
    // A second instance with its own empty store has no cached access token, so it must refresh and rotate.
    const rotated = await h.instance().token(sessionCookieFrom(callback));
    expect(rotated.status).toBe(200);
    const rotatedLine = rotated.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey='))!;
    expect(rotatedLine, 'a refresh writes the rotated cookie').toBeDefined();
    for (const line of [signInLine, rotatedLine]) {
      expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(1500);
      expect(line).toMatch(/; Path=\/; .*HttpOnly; Secure; SameSite=Strict/);
    }
    console.info(`Set-Cookie bytes: sign-in ${signInLine.length}, rotated ${rotatedLine.length}`);
  });
});

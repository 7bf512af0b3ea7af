import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DPOP_HTU_HEADER } from '@latchkey/core';
import { jwkThumbprint } from './dpop.js';
import { testDpopKey } from './test/dpopProofs.js';
import { sessionCookieFrom, startHarness, type Harness } from './test/harness.js';

/** The claims of a JWT access token, unverified (the provider signed it; the test reads it). */
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** `POST /token` with a proof, adopting the rotated cookie; answers the response and its JSON. */
async function tokenWith(h: Harness, session: { cookie: string }, proof: string | undefined) {
  const response = await h.token(session.cookie, {}, proof === undefined ? {} : { dpop: proof });
  session.cookie = sessionCookieFrom(response) ?? session.cookie;
  return { response, body: (await response.json()) as Record<string, unknown> };
}

describe('DPoP-bound access tokens (dpop: true) against the real dev provider', () => {
  let h: Harness;
  let tokenEndpoint: string;
  const grants = async () => (await h.idp.stats()).grants.refresh_token;
  beforeAll(async () => {
    h = await startHarness({}, { dpop: true, rateLimits: false });
    tokenEndpoint = (await (await fetch(`${h.idp.issuer}/.well-known/openid-configuration`)).json()).token_endpoint;
  });
  afterAll(() => h.close());

  it('refuses /token without a proof with 400 invalid_dpop_proof, says what to sign for, and keeps the session', async () => {
    const session = { cookie: await h.signIn() };
    const { response, body } = await tokenWith(h, session, undefined);
    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid_dpop_proof');
    expect(response.headers.get(DPOP_HTU_HEADER)).toBe(tokenEndpoint);
    expect(response.headers.getSetCookie().join('')).not.toMatch(/__Host-latchkey=;/);
    const key = testDpopKey();
    const next = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    expect(next.response.status).toBe(200);
  });

  it('binds the token to the proof’s key (token_type DPoP, cnf.jkt), then serves it from cache to that key only', async () => {
    const session = { cookie: await h.signIn() };
    const key = testDpopKey();
    const before = await grants();
    // The sign-in's token is a Bearer one: the first DPoP call refreshes with the proof.
    const first = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get(DPOP_HTU_HEADER)).toBe(tokenEndpoint);
    expect(first.body.tokenType).toBe('DPoP');
    expect(claimsOf(first.body.accessToken as string).cnf).toEqual({ jkt: jwkThumbprint(key.publicJwk) });
    expect(await grants()).toBe(before + 1);

    const again = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    expect(again.body.accessToken).toBe(first.body.accessToken);
    expect(await grants()).toBe(before + 1);

    // Another key never gets the token bound to the first: it gets one of its own.
    const other = testDpopKey();
    const second = await tokenWith(h, session, other.proof({ htu: tokenEndpoint }));
    expect(second.response.status).toBe(200);
    expect(second.body.accessToken).not.toBe(first.body.accessToken);
    expect(claimsOf(second.body.accessToken as string).cnf).toEqual({ jkt: jwkThumbprint(other.publicJwk) });
    expect(await grants()).toBe(before + 2);
  });

  it('never forwards a proof twice: a replayed proof that would refresh is refused before the provider, and the session lives on', async () => {
    const session = { cookie: await h.signIn() };
    const a = testDpopKey();
    const b = testDpopKey();
    const proofA = a.proof({ htu: tokenEndpoint });
    expect((await tokenWith(h, session, proofA)).response.status).toBe(200);
    expect((await tokenWith(h, session, b.proof({ htu: tokenEndpoint }))).response.status).toBe(200);
    const before = await grants();
    // The cached token is bound to b now: proofA would need a refresh, and it was forwarded once already.
    const replay = await tokenWith(h, session, proofA);
    expect(replay.response.status).toBe(400);
    expect(replay.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(/already used/) });
    expect(await grants()).toBe(before);
    const fresh = await tokenWith(h, session, a.proof({ htu: tokenEndpoint }));
    expect(fresh.response.status).toBe(200);
    expect(claimsOf(fresh.body.accessToken as string).cnf).toEqual({ jkt: jwkThumbprint(a.publicJwk) });
  });

  it('gives simultaneous callers with different keys each a token bound to its own key', async () => {
    const cookie = await h.signIn();
    const keys = [testDpopKey(), testDpopKey(), testDpopKey()];
    const answers = await Promise.all(keys.map((key) => tokenWith(h, { cookie }, key.proof({ htu: tokenEndpoint }))));
    answers.forEach(({ response, body }, i) => {
      expect(response.status).toBe(200);
      expect(claimsOf(body.accessToken as string).cnf).toEqual({ jkt: jwkThumbprint(keys[i]!.publicJwk) });
    });
  });

  it('refuses a proof for another endpoint before any refresh', async () => {
    const session = { cookie: await h.signIn() };
    const before = await grants();
    const { response, body } = await tokenWith(h, session, testDpopKey().proof({ htu: `${h.idp.issuer}/other` }));
    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid_dpop_proof');
    expect(await grants()).toBe(before);
  });

  it('gives server code (no proof) an unbound token, without touching the browser’s bound one', async () => {
    const session = { cookie: await h.signIn() };
    const key = testDpopKey();
    const browser = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    const server = await h.bff.getAccessToken(`__Host-latchkey=${session.cookie}`);
    expect(claimsOf(server.accessToken).cnf).toBeUndefined();
    if (server.cookie) session.cookie = server.cookie.value;
    const later = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    expect(later.response.status).toBe(200);
    expect(claimsOf(later.body.accessToken as string).cnf).toEqual({ jkt: jwkThumbprint(key.publicJwk) });
    expect(browser.body.tokenType).toBe('DPoP');
  });
});

describe('DPoP with a provider that asks for nonces', () => {
  let h: Harness;
  let tokenEndpoint: string;
  beforeAll(async () => {
    h = await startHarness({ dpopNonce: true }, { dpop: true, rateLimits: false });
    tokenEndpoint = (await (await fetch(`${h.idp.issuer}/.well-known/openid-configuration`)).json()).token_endpoint;
  });
  afterAll(() => h.close());

  it('relays use_dpop_nonce with the DPoP-Nonce header, keeps the session, and succeeds with the nonce', async () => {
    const session = { cookie: await h.signIn() };
    const key = testDpopKey();
    const asked = await tokenWith(h, session, key.proof({ htu: tokenEndpoint }));
    expect(asked.response.status).toBe(400);
    expect(asked.body.error).toBe('use_dpop_nonce');
    const nonce = asked.response.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    expect(asked.response.headers.getSetCookie().join('')).not.toMatch(/__Host-latchkey=;/);
    const answered = await tokenWith(h, session, key.proof({ htu: tokenEndpoint, nonce: nonce! }));
    expect(answered.response.status).toBe(200);
    expect(answered.body.tokenType).toBe('DPoP');
  });
});

describe('dpop off (the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { rateLimits: false });
  });
  afterAll(() => h.close());

  it('neither asks for nor forwards a proof: the token stays Bearer', async () => {
    const session = { cookie: await h.signIn() };
    const endpoint = (await (await fetch(`${h.idp.issuer}/.well-known/openid-configuration`)).json()).token_endpoint;
    const { response, body } = await tokenWith(h, session, testDpopKey().proof({ htu: endpoint }));
    expect(response.status).toBe(200);
    expect(body.tokenType).toBe('Bearer');
    expect(claimsOf(body.accessToken as string).cnf).toBeUndefined();
    expect(response.headers.get(DPOP_HTU_HEADER)).toBeNull();
  });
});

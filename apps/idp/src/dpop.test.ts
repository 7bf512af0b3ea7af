import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The browser's own prover: these tests are also the proof that oidc-provider accepts its proofs.
import { createDpopKey, DpopProver, isDpopNonceError, nonceOf } from '../../../packages/client/src/dpop.js';
import { startIdp, type RunningIdp } from './server.js';
import { APP, clientAuthorization, signIn, type TokenResponse } from './test/signIn.js';

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;

/** A refresh_token grant as the BFF sends it (client_secret_basic), with the browser's proof when given. */
async function refresh(idp: RunningIdp, refreshToken: string, dpop?: string) {
  const response = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: clientAuthorization,
      'content-type': 'application/x-www-form-urlencoded',
      ...(dpop && { dpop }),
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { response, body: (await response.json()) as TokenResponse & { error?: string; error_description?: string } };
}

const newProver = async () => DpopProver.create(await createDpopKey());

describe('DPoP at the token endpoint', () => {
  let idp: RunningIdp;
  let tokenEndpoint: string;
  beforeAll(async () => {
    idp = await startIdp({ port: 0, appOrigins: [APP] });
    tokenEndpoint = `${idp.issuer}/token`;
  });
  afterAll(() => idp?.close());

  it('advertises ES256 proofs in its metadata', async () => {
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');
  });

  it('binds the access token of a refresh that carries a proof: token_type DPoP, cnf.jkt the key thumbprint', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const prover = await newProver();
    const { response, body } = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(response.status, body.error_description).toBe(200);
    expect(body.token_type).toBe('DPoP');
    expect(headerOf(body.access_token)).toMatchObject({ typ: 'at+jwt' });
    expect(payloadOf(body.access_token)).toMatchObject({ sub: 'alice', cnf: { jkt: await prover.thumbprint() } });
  });

  it('binds the access token of a code exchange that carries a proof', async () => {
    const prover = await newProver();
    const token = await signIn(idp, { dpop: await prover.proof({ htm: 'POST', htu: tokenEndpoint }) });
    expect(token.token_type).toBe('DPoP');
    expect(payloadOf(token.access_token)).toMatchObject({ cnf: { jkt: await prover.thumbprint() } });
  });

  it('answers a refresh without a proof as before: a Bearer token with no cnf', async () => {
    const { refresh_token: refreshToken, token_type: signInType, access_token: signInToken } = await signIn(idp);
    expect(signInType).toBe('Bearer');
    expect(payloadOf(signInToken)).not.toHaveProperty('cnf');
    const { response, body } = await refresh(idp, refreshToken!);
    expect(response.status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(payloadOf(body.access_token)).not.toHaveProperty('cnf');
  });

  it("never binds the confidential client's refresh token: after a DPoP refresh, the next may use another key or none", async () => {
    const first = await newProver();
    const second = await newProver();
    let { refresh_token: refreshToken } = await signIn(idp);
    const bound = await refresh(idp, refreshToken!, await first.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(bound.body.token_type).toBe('DPoP');
    const plain = await refresh(idp, bound.body.refresh_token!);
    expect(plain.response.status).toBe(200);
    expect(plain.body.token_type).toBe('Bearer');
    refreshToken = plain.body.refresh_token;
    const rebound = await refresh(idp, refreshToken!, await second.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(rebound.response.status).toBe(200);
    expect(payloadOf(rebound.body.access_token)).toMatchObject({ cnf: { jkt: await second.thumbprint() } });
  });

  it('refuses a proof for another URL or method with 400 invalid_dpop_proof, and the refresh token is not spent', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const prover = await newProver();
    const wrongUrl = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: `${idp.issuer}/token/other` }));
    expect(wrongUrl.response.status).toBe(400);
    expect(wrongUrl.body.error).toBe('invalid_dpop_proof');
    const wrongMethod = await refresh(idp, refreshToken!, await prover.proof({ htm: 'GET', htu: tokenEndpoint }));
    expect(wrongMethod.response.status).toBe(400);
    expect(wrongMethod.body.error).toBe('invalid_dpop_proof');
    // The proof is checked before the refresh token is looked at: a bad proof costs no rotation.
    const retry = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: `${tokenEndpoint}?ignored#too` }));
    expect(retry.response.status, retry.body.error_description).toBe(200);
    expect(retry.body.token_type).toBe('DPoP');
  });

  it('refuses a proof used before with invalid_grant, and the refresh token is not spent', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const prover = await newProver();
    const proof = await prover.proof({ htm: 'POST', htu: tokenEndpoint });
    const first = await refresh(idp, refreshToken!, proof);
    expect(first.response.status).toBe(200);
    const replayed = await refresh(idp, first.body.refresh_token!, proof);
    expect(replayed.response.status).toBe(400);
    // On the wire this is the invalid_grant of a dead refresh token ("grant request is invalid"):
    // a token service that sends one proof twice cannot tell it from a session that ended.
    expect(replayed.body.error).toBe('invalid_grant');
    const fresh = await refresh(idp, first.body.refresh_token!, await prover.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(fresh.response.status, fresh.body.error_description).toBe(200);
    expect(idp.stats().reuseDetected).toBe(0);
  });

  it('refuses a proof whose iat is more than 5 minutes off, with no nonce to offer', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const late = await DpopProver.create(await createDpopKey(), { now: () => Date.now() - 6 * 60_000 });
    const { response, body } = await refresh(idp, refreshToken!, await late.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid_dpop_proof');
    // What the server clock offset is for.
    late.setClockOffset(6 * 60_000);
    const corrected = await refresh(idp, refreshToken!, await late.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(corrected.response.status, corrected.body.error_description).toBe(200);
  });
});

describe('DPoP nonces (startIdp({ dpopNonce: true }), IDP_DPOP_NONCE=1)', () => {
  let idp: RunningIdp;
  let tokenEndpoint: string;
  beforeAll(async () => {
    idp = await startIdp({ port: 0, appOrigins: [APP], dpopNonce: true });
    tokenEndpoint = `${idp.issuer}/token`;
  });
  afterAll(() => idp?.close());

  it('asks for a nonce with 400 use_dpop_nonce and DPoP-Nonce, keeps the refresh token, then accepts the proof that carries it', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const prover = await newProver();
    const asked = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(asked.response.status).toBe(400);
    expect(asked.body.error).toBe('use_dpop_nonce');
    expect(isDpopNonceError(asked.response, asked.body)).toBe(true);
    const nonce = nonceOf(asked.response);
    expect(nonce).toMatch(/^[\w-]{20,}$/);
    prover.rememberNonce(tokenEndpoint, nonce!);
    const { response, body } = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: tokenEndpoint }));
    expect(response.status, body.error_description).toBe(200);
    expect(payloadOf(body.access_token)).toMatchObject({ cnf: { jkt: await prover.thumbprint() } });
  });

  it('refuses a made-up nonce with a fresh one to use instead', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const prover = await newProver();
    const { response, body } = await refresh(idp, refreshToken!, await prover.proof({ htm: 'POST', htu: tokenEndpoint, nonce: 'made-up' }));
    expect(isDpopNonceError(response, body)).toBe(true);
    expect(nonceOf(response)).toBeDefined();
  });

  it('leaves requests without DPoP alone: a Bearer token, no nonce asked', async () => {
    const { refresh_token: refreshToken } = await signIn(idp);
    const { response, body } = await refresh(idp, refreshToken!);
    expect(response.status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(nonceOf(response)).toBeUndefined();
  });
});

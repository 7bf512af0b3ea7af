import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createVerifier, type VerifierOptions } from './createVerifier.js';

/** How the fake provider answers one path: a status and body, or never (`hang`). */
type Answer = { status: number; body: string } | 'hang';

const json = (value: unknown): Answer => ({ status: 200, body: JSON.stringify(value) });

/** A real HTTP server on a free port playing the provider's discovery and JWKS endpoints. */
class FakeProvider {
  readonly hits: string[] = [];
  readonly answers = new Map<string, Answer>();
  #server: Server = createServer((req, res) => {
    this.hits.push(req.url ?? '');
    const answer = this.answers.get(req.url ?? '') ?? { status: 404, body: 'not found' };
    if (answer === 'hang') return; // accept the request and never answer
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  issuer = '';

  async start() {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close() {
    this.#server.closeAllConnections();
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

let provider: FakeProvider;
let jwks: { keys: JWK[] };
let privateKey: CryptoKey;
let strangerKey: CryptoKey;

const sign = (iss = provider.issuer, key = privateKey, kid = 'k1') =>
  new SignJWT({ sub: 'alice', scope: 'notes:read' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(iss)
    .setAudience('urn:api')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);

const verifierFor = (options: Partial<VerifierOptions> = {}) => createVerifier({ issuer: provider.issuer, audience: 'urn:api', ...options });
const verify = async (options: Partial<VerifierOptions> = {}, token?: string) =>
  verifierFor(options).verify(new Request('https://api.example/notes', { headers: { authorization: `Bearer ${token ?? (await sign())}` } }));

/** A provider whose discovery names a JWKS at a path other than `/jwks`. */
const healthy = () => {
  provider.answers.set('/.well-known/openid-configuration', json({ issuer: provider.issuer, jwks_uri: `${provider.issuer}/keys/v2` }));
  provider.answers.set('/keys/v2', json(jwks));
};

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
});

beforeAll(async () => {
  provider = await new FakeProvider().start();
});
afterEach(() => {
  provider.hits.length = 0;
  provider.answers.clear();
});
afterAll(() => provider.close());

async function expectOutage(result: Awaited<ReturnType<typeof verify>>, reason: RegExp) {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.response.status).toBe(503);
  expect(result.response.headers.get('retry-after')).toBe('5');
  // No invalid_token challenge: that would send clients into a refresh, which cannot help.
  expect(result.response.headers.get('www-authenticate')).toBeNull();
  const body = await result.response.json();
  expect(body.error).toBe('upstream_unavailable');
  expect(body.error_description).toMatch(reason);
  expect(result.error.code).toBe('upstream_unavailable');
}

describe('createVerifier() finding the keys through discovery', () => {
  it('reads jwks_uri from <issuer>/.well-known/openid-configuration, not <issuer>/jwks', async () => {
    healthy();
    const result = await verify();
    expect(result.ok && result.claims.sub).toBe('alice');
    expect(provider.hits).toEqual(['/.well-known/openid-configuration', '/keys/v2']);
  });

  it('discovers once and keeps the keys for later requests', async () => {
    healthy();
    const verifier = verifierFor();
    for (let i = 0; i < 3; i++) {
      const result = await verifier.verify(new Request('https://api.example/', { headers: { authorization: `Bearer ${await sign()}` } }));
      expect(result.ok).toBe(true);
    }
    expect(provider.hits).toEqual(['/.well-known/openid-configuration', '/keys/v2']);
  });

  it('uses an explicit jwksUri without asking discovery', async () => {
    provider.answers.set('/.well-known/openid-configuration', { status: 500, body: '{}' });
    provider.answers.set('/elsewhere', json(jwks));
    const result = await verify({ jwksUri: `${provider.issuer}/elsewhere` });
    expect(result.ok).toBe(true);
    expect(provider.hits).toEqual(['/elsewhere']);
  });

  it('takes an issuer configured with a trailing slash (or without) for the one the provider writes the other way', async () => {
    healthy();
    // The provider writes no slash; the app's OIDC_ISSUER has one.
    const result = await verify({ issuer: `${provider.issuer}/` });
    expect(result.ok && result.claims.sub).toBe('alice');
    // And a token whose iss carries the slash, for an issuer configured without.
    const slashed = await verify({}, await sign(`${provider.issuer}/`));
    expect(slashed.ok).toBe(true);
    // Anything more than the slash is another issuer.
    const other = await verify({}, await sign(`${provider.issuer}/x`));
    expect(!other.ok && other.response.status).toBe(401);
  });

  it('answers 503 when the discovery document names another issuer (mix-up), and says so', async () => {
    provider.answers.set('/.well-known/openid-configuration', json({ issuer: 'https://evil.example', jwks_uri: `${provider.issuer}/keys/v2` }));
    provider.answers.set('/keys/v2', json(jwks));
    await expectOutage(await verify(), /discovery document names another issuer/);
    expect(provider.hits).toEqual(['/.well-known/openid-configuration']);
  });

  it('answers 503 when the discovery document has no jwks_uri', async () => {
    provider.answers.set('/.well-known/openid-configuration', json({ issuer: provider.issuer }));
    await expectOutage(await verify(), /discovery document has no jwks_uri/);
  });

  it('tries discovery again on a later request after it failed, instead of caching the failure', async () => {
    provider.answers.set('/.well-known/openid-configuration', { status: 502, body: 'bad gateway' });
    const verifier = verifierFor();
    const request = async () => verifier.verify(new Request('https://api.example/', { headers: { authorization: `Bearer ${await sign()}` } }));
    await expectOutage(await request(), /discovery document answered HTTP 502/);
    healthy();
    const second = await request();
    expect(second.ok).toBe(true);
    expect(provider.hits).toEqual(['/.well-known/openid-configuration', '/.well-known/openid-configuration', '/keys/v2']);
  });

  it('still answers 401 invalid_token for a token signed by a key the provider does not publish', async () => {
    healthy();
    const result = await verify({}, await sign(undefined, strangerKey, 'k-unknown'));
    expect(!result.ok && result.response.status).toBe(401);
    expect(!result.ok && result.error.message).toBe('The access token is signed with an unknown key');
  });
});

describe('createVerifier() when the provider is down: 503 + Retry-After, never 401 invalid_token', () => {
  const discovery = () => json({ issuer: provider.issuer, jwks_uri: `${provider.issuer}/keys/v2` });

  it.each<[string, () => void, RegExp]>([
    ['the JWKS answers 500', () => provider.answers.set('/keys/v2', { status: 500, body: 'oops' }), /JWKS answered HTTP 500/],
    ['the JWKS answers 503', () => provider.answers.set('/keys/v2', { status: 503, body: '' }), /JWKS answered HTTP 503/],
    ['the JWKS is not JSON', () => provider.answers.set('/keys/v2', { status: 200, body: '<html>maintenance</html>' }), /JWKS is not JSON/],
    ['the JWKS is JSON but no key set', () => provider.answers.set('/keys/v2', json({ hello: 'world' })), /JWKS is not a key set/],
    ['the discovery document answers 500', () => provider.answers.set('/.well-known/openid-configuration', { status: 500, body: '' }), /discovery document answered HTTP 500/],
    ['the discovery document is not JSON', () => provider.answers.set('/.well-known/openid-configuration', { status: 200, body: 'nope' }), /discovery document is not JSON/],
  ])('when %s', async (_name, breakIt, reason) => {
    provider.answers.set('/.well-known/openid-configuration', discovery());
    provider.answers.set('/keys/v2', json(jwks));
    breakIt();
    await expectOutage(await verify(), reason);
  });

  it('when the JWKS does not answer within fetchTimeoutMs', async () => {
    provider.answers.set('/.well-known/openid-configuration', discovery());
    provider.answers.set('/keys/v2', 'hang');
    const started = performance.now();
    await expectOutage(await verify({ fetchTimeoutMs: 200 }), /JWKS did not answer within 200 ms/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('when the discovery document does not answer within fetchTimeoutMs', async () => {
    provider.answers.set('/.well-known/openid-configuration', 'hang');
    const started = performance.now();
    await expectOutage(await verify({ fetchTimeoutMs: 200 }), /discovery document did not answer within 200 ms/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('when the JWKS refuses connections', async () => {
    provider.answers.set('/.well-known/openid-configuration', json({ issuer: provider.issuer, jwks_uri: `http://127.0.0.1:${await closedPort()}/jwks` }));
    await expectOutage(await verify(), /JWKS could not be reached/);
  });

  it('when the provider refuses connections (discovery)', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const result = await createVerifier({ issuer, audience: 'urn:api' }).verify(
      new Request('https://api.example/', { headers: { authorization: `Bearer ${await sign(issuer)}` } }),
    );
    await expectOutage(result, /discovery document could not be reached/);
  });

  it('keeps the URL out of the answer but in the error for logs', async () => {
    provider.answers.set('/.well-known/openid-configuration', discovery());
    provider.answers.set('/keys/v2', { status: 500, body: '' });
    const result = await verify();
    expect(!result.ok && (await result.response.text())).not.toContain(provider.issuer);
    expect(!result.ok && (result.error.cause as Error).message).toBe(`The JWKS at ${provider.issuer}/keys/v2 answered HTTP 500, not 200.`);
  });
});

/** A port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

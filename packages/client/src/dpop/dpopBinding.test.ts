import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AuthClient } from '../AuthClient.js';
import type { TabChannel, TabLocks, TabMessage } from '../tabs.js';
import { authHeaders, dpop } from './index.js';

const PAGE = 'https://app.example';
const TOKEN_ENDPOINT = 'https://idp.example/oauth/token';
const API = 'https://api.example/notes';

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const thumbprint = (jwk: Record<string, unknown>) => sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));

/** A proof checked as a server checks it (with node:crypto): its header, its claims, and its key's thumbprint. */
function readProof(jwt: string) {
  const [h, p, s] = jwt.split('.');
  const header = decode(h!);
  const key = createPublicKey({ key: header.jwk as JsonWebKey, format: 'jwk' });
  expect(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'))).toBe(true);
  return { header, claims: decode(p!), jkt: thumbprint(header.jwk as Record<string, unknown>) };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** One Web Lock per name shared by every tab: callbacks under a name run one at a time. */
function fakeLocks(): TabLocks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const run = (tails.get(name) ?? Promise.resolve()).then(callback);
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
}

/** A BroadcastChannel hub: a message reaches every other open channel of that name, as a structured clone. */
function fakeChannels() {
  const open = new Set<TabChannel & { name: string }>();
  const sent: TabMessage[] = [];
  const factory = (name: string): TabChannel => {
    const channel = {
      name,
      onmessage: null as TabChannel['onmessage'],
      postMessage(message: TabMessage) {
        sent.push(message);
        for (const other of open) if (other !== channel && other.name === name) queueMicrotask(() => other.onmessage?.({ data: structuredClone(message) }));
      },
      close: () => void open.delete(channel),
    };
    open.add(channel);
    return channel;
  };
  return { factory, sent, open };
}

/**
 * A BFF with `dpop: true` and an API that checks DPoP, as far as the browser can tell: `/token`
 * names the provider's token endpoint in `x-latchkey-dpop-htu` on every answer, refuses a call
 * without a proof (or with one for another endpoint, or seen before), asks for a nonce when
 * `state.nonce` is set, and issues tokens bound to the proof's key; the API wants the DPoP scheme
 * and a proof of that request by the key the token is bound to.
 */
function world(options: { tabs?: number; dpopBff?: boolean } = {}) {
  const state = {
    tokenCalls: [] as { proof: ReturnType<typeof readProof> | undefined; status: number }[],
    apiCalls: [] as { authorization: string | null; proof: ReturnType<typeof readProof> | undefined; status: number }[],
    seen: new Set<unknown>(),
    issued: 0,
    bound: new Map<string, string>(),
    /** A nonce the provider asks for at /token. */
    nonce: undefined as string | undefined,
    /** A nonce the API asks for. */
    apiNonce: undefined as string | undefined,
  };
  const dpopBff = options.dpopBff ?? true;
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input), PAGE);
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const proofJwt = headers.get('dpop');
    const proof = proofJwt ? readProof(proofJwt) : undefined;
    const replayed = proof !== undefined && state.seen.has(proof.claims.jti);
    if (proof) state.seen.add(proof.claims.jti);
    if (url.pathname === '/api/auth/token') {
      const answer = (() => {
        if (!dpopBff) {
          state.issued += 1;
          return json(200, { accessToken: `at-${state.issued}`, tokenType: 'Bearer', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } });
        }
        const htu = { 'x-latchkey-dpop-htu': TOKEN_ENDPOINT };
        if (!proof) return json(400, { error: 'invalid_dpop_proof', error_description: 'A DPoP proof is required' }, htu);
        if (replayed) return json(400, { error: 'invalid_dpop_proof', error_description: 'The DPoP proof was already used' }, htu);
        if (proof.claims.htm !== 'POST' || proof.claims.htu !== TOKEN_ENDPOINT) return json(400, { error: 'invalid_dpop_proof', error_description: 'wrong htm or htu' }, htu);
        if (state.nonce && proof.claims.nonce !== state.nonce) {
          return json(400, { error: 'use_dpop_nonce', error_description: 'Use a nonce' }, { ...htu, 'dpop-nonce': state.nonce });
        }
        state.issued += 1;
        state.bound.set(`at-${state.issued}`, proof.jkt);
        return json(200, { accessToken: `at-${state.issued}`, tokenType: 'DPoP', expiresIn: 300, expiresAt: 0, scope: '', user: { sub: 'alice' } }, htu);
      })();
      state.tokenCalls.push({ proof, status: answer.status });
      return answer;
    }
    const authorization = headers.get('authorization');
    const answer = (() => {
      const token = authorization?.replace(/^DPoP /, '');
      const refuse = (error: string, extra: Record<string, string> = {}) =>
        json(401, { error, error_description: error }, { 'www-authenticate': `DPoP error="${error}"`, ...extra });
      if (!authorization?.startsWith('DPoP ') || !proof || replayed) return refuse('invalid_dpop_proof');
      // The method as fetch sends it: Request normalises it as fetch does.
      const method = new Request(url, { method: init.method ?? (input instanceof Request ? input.method : 'GET') }).method;
      if (proof.claims.htm !== method || proof.claims.htu !== `${url.origin}${url.pathname}` || proof.claims.ath !== sha256(token!)) return refuse('invalid_dpop_proof');
      if (state.apiNonce && proof.claims.nonce !== state.apiNonce) return refuse('use_dpop_nonce', { 'dpop-nonce': state.apiNonce });
      if (state.bound.get(token!) !== proof.jkt || token !== `at-${state.issued}`) return refuse('invalid_token');
      return json(200, { ok: true });
    })();
    state.apiCalls.push({ authorization, proof, status: answer.status });
    return answer;
  });
  const locks = fakeLocks();
  const channels = fakeChannels();
  const clients = Array.from(
    { length: options.tabs ?? 1 },
    () =>
      new AuthClient({
        dpop: dpop({ keyWaitMs: 20 }),
        fetch,
        locks,
        channel: channels.factory,
        triggers: () => undefined,
        activity: () => undefined,
        pageOrigin: () => PAGE,
        apiOrigins: ['https://api.example'],
      }),
  );
  return { state, fetch, clients, client: clients[0]!, channels };
}

describe('dpop()', () => {
  it('a missing-proof 400 names the token endpoint: exactly one retry, with a proof for it', async () => {
    const w = world();
    expect(await w.client.getAccessToken()).toBe('at-1');
    expect(w.state.tokenCalls.map((c) => [c.status, c.proof?.claims.htm, c.proof?.claims.htu])).toEqual([
      [400, undefined, undefined],
      [200, 'POST', TOKEN_ENDPOINT],
    ]);
    expect(w.state.tokenCalls[1]!.proof!.claims.ath).toBeUndefined();
    expect(w.client.getSnapshot().token).toMatchObject({ value: 'at-1', type: 'DPoP' });
    // The endpoint is known now: the next /token call is signed at once.
    await w.client.refresh('manual');
    expect(w.state.tokenCalls.map((c) => c.status)).toEqual([400, 200, 200]);
    expect(w.state.tokenCalls[2]!.proof!.claims.htu).toBe(TOKEN_ENDPOINT);
  });

  it('does not retry a /token call a second time when the BFF refuses the proof it asked for', async () => {
    const w = world();
    await w.client.getAccessToken();
    // The BFF still refuses: no loop, the answer stands and the client keeps its session.
    w.fetch.mockImplementationOnce(async () => json(400, { error: 'invalid_dpop_proof', error_description: 'bad' }, { 'x-latchkey-dpop-htu': TOKEN_ENDPOINT }));
    const before = w.state.tokenCalls.length;
    await w.client.refresh('manual');
    expect(w.fetch.mock.calls.filter(([input]) => String(input).includes('/api/auth/token'))).toHaveLength(before + 1);
    expect(w.client.getSnapshot().lastError).toMatchObject({ code: 'invalid_dpop_proof' });
  });

  it('use_dpop_nonce at /token: remembered for that origin, one retry with it and a new proof', async () => {
    const w = world();
    await w.client.getAccessToken();
    w.state.nonce = 'n-1';
    await w.client.refresh('manual');
    const [asked, retried] = w.state.tokenCalls.slice(-2);
    expect([asked!.status, retried!.status]).toEqual([400, 200]);
    expect(asked!.proof!.claims.nonce).toBeUndefined();
    expect(retried!.proof!.claims.nonce).toBe('n-1');
    expect(retried!.proof!.claims.jti).not.toBe(asked!.proof!.claims.jti);
    // Remembered: the next call carries it from the start.
    await w.client.refresh('manual');
    expect(w.state.tokenCalls.at(-1)).toMatchObject({ status: 200, proof: { claims: { nonce: 'n-1' } } });
  });

  it('API calls carry Authorization: DPoP and a proof of that request (htm as fetch sends it, htu, ath)', async () => {
    const w = world();
    for (const [input, init] of [
      [`${API}?page=2#top`, { method: 'post', body: '{}' }],
      [new Request(`${API}/1`, { method: 'DELETE' }), undefined],
      [`${API}`, { method: 'Patch', body: 'x' }],
    ] as [RequestInfo, RequestInit | undefined][]) {
      expect((await w.client.fetch(input, init)).status).toBe(200);
    }
    expect(w.state.apiCalls.map((c) => [c.authorization, c.proof!.claims.htm, c.proof!.claims.htu, c.proof!.claims.ath])).toEqual([
      ['DPoP at-1', 'POST', API, sha256('at-1')],
      ['DPoP at-1', 'DELETE', `${API}/1`, sha256('at-1')],
      ['DPoP at-1', 'Patch', API, sha256('at-1')],
    ]);
    // Bound to the key that signs the API proofs.
    expect(new Set(w.state.apiCalls.map((c) => c.proof!.jkt))).toEqual(new Set([w.state.bound.get('at-1')]));
  });

  it('an API nonce challenge: one retry with the nonce and a new proof; the nonce is kept for that origin', async () => {
    const w = world();
    w.state.apiNonce = 'api-n';
    const response = await w.client.fetch(API, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(200);
    expect(w.state.apiCalls.map((c) => [c.status, c.proof!.claims.nonce])).toEqual([
      [401, undefined],
      [200, 'api-n'],
    ]);
    expect(w.state.apiCalls[0]!.proof!.claims.jti).not.toBe(w.state.apiCalls[1]!.proof!.claims.jti);
    await w.client.fetch(`${API}/2`);
    expect(w.state.apiCalls.at(-1)).toMatchObject({ status: 200, proof: { claims: { nonce: 'api-n' } } });
  });

  it('an API invalid_token: one refresh and one retry, with a new proof each time', async () => {
    const w = world();
    await w.client.getAccessToken();
    // Another tab (or the BFF) moved on: the API takes only the newest token.
    w.state.issued += 1;
    const response = await w.client.fetch(API);
    expect(response.status).toBe(200);
    expect(w.state.apiCalls.map((c) => [c.status, c.authorization])).toEqual([
      [401, 'DPoP at-1'],
      [200, 'DPoP at-3'],
    ]);
    expect(w.state.apiCalls[0]!.proof!.claims.jti).not.toBe(w.state.apiCalls[1]!.proof!.claims.jti);
    expect(w.state.apiCalls[1]!.proof!.claims.ath).toBe(sha256('at-3'));
  });

  it('four tabs share one non-extractable key, and one refresh serves them all', async () => {
    const w = world({ tabs: 4 });
    for (const client of w.clients) client.mount();
    await vi.waitFor(() => expect(w.clients.every((c) => c.getSnapshot().token?.value === 'at-1')).toBe(true));
    // One grant: the first call learned the endpoint, the second was signed; the other tabs took the broadcast token.
    expect(w.state.tokenCalls.map((c) => c.status)).toEqual([400, 200]);
    // Every tab proves with that one key.
    for (const client of w.clients) expect((await client.fetch(API)).status).toBe(200);
    expect(new Set(w.state.apiCalls.map((c) => c.proof!.jkt))).toEqual(new Set([w.state.bound.get('at-1')]));
    // The key travelled as a CryptoKey that still cannot be read.
    const offered = w.channels.sent.filter((m): m is Extract<TabMessage, { t: 'key' }> => m.t === 'key');
    expect(offered.length).toBeGreaterThan(0);
    for (const { key } of offered) {
      expect(key.privateKey.extractable).toBe(false);
      await expect(crypto.subtle.exportKey('jwk', key.privateKey)).rejects.toThrow();
    }
    // All four at the due time: still one /token call, signed with the shared key.
    await Promise.all(w.clients.map((c) => c.refresh('timer')));
    await vi.waitFor(() => expect(w.clients.every((c) => c.getSnapshot().token?.value === 'at-2')).toBe(true));
    expect(w.state.tokenCalls.map((c) => c.status)).toEqual([400, 200, 200]);
    expect(w.state.tokenCalls[2]!.proof!.jkt).toBe(w.state.bound.get('at-1'));
    for (const client of w.clients) expect((await client.fetch(API)).status).toBe(200);
  });

  it('two tabs that need a key at the same moment end up with one: key making is one tab at a time', async () => {
    const w = world({ tabs: 3 });
    for (const client of w.clients) client.mount();
    await vi.waitFor(() => expect(w.clients.every((c) => c.getSnapshot().token?.value === 'at-1')).toBe(true));
    // The tab that made the key goes away (every channel open now closes), and the two others,
    // which never needed the key, now need it at the same moment.
    for (const channel of [...w.channels.open]) channel.close();
    const [first, second] = await Promise.all(w.clients.slice(1).map((c) => authHeaders(c, 'GET', API)));
    expect(readProof(first!.dpop!).jkt).toBe(readProof(second!.dpop!).jkt);
    expect(readProof(first!.dpop!).jkt).not.toBe(w.state.bound.get('at-1'));
  });

  it('against a BFF without DPoP: Bearer tokens, no key, no proofs', async () => {
    const w = world({ dpopBff: false });
    expect(await w.client.getAccessToken()).toBe('at-1');
    expect(w.client.getSnapshot().token).toMatchObject({ type: 'Bearer' });
    const [call] = w.fetch.mock.calls;
    expect(new Headers(call![1]!.headers).get('dpop')).toBeNull();
    expect(w.channels.sent).toEqual([]);
    expect(await authHeaders(w.client, 'GET', API)).toEqual({ authorization: 'Bearer at-1' });
  });
});

describe('authHeaders()', () => {
  it('gives what a DPoP token needs outside fetch: the scheme and a proof of that request', async () => {
    const w = world();
    const headers = await authHeaders(w.client, 'GET', '/api/files/1?x=1');
    expect(headers.authorization).toBe('DPoP at-1');
    const { claims, jkt } = readProof(headers.dpop!);
    expect(claims).toMatchObject({ htm: 'GET', htu: `${PAGE}/api/files/1`, ath: sha256('at-1') });
    expect(jkt).toBe(w.state.bound.get('at-1'));
  });
});

describe('dpop() never loops', () => {
  it('sends /token at most three times however the BFF answers: without a proof, with one, with the nonce', async () => {
    const w = world();
    let htu = 0;
    // A BFF that names another endpoint and asks for another nonce every time.
    w.fetch.mockImplementation(async () =>
      json(400, { error: htu % 2 ? 'use_dpop_nonce' : 'invalid_dpop_proof', error_description: 'again' }, { 'x-latchkey-dpop-htu': `https://idp.example/t${++htu}`, 'dpop-nonce': `n-${htu}` }),
    );
    await w.client.refresh('manual');
    expect(w.fetch).toHaveBeenCalledTimes(3);
    expect(w.client.getSnapshot().lastError).toMatchObject({ status: 400 });
  });
});

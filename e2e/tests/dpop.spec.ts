import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import { expect, test, type Page, type Request as PageRequest } from '@playwright/test';
import { testDpopKey } from '../../packages/bff/src/test/dpopProofs';
import { startStack, type Stack } from '../stack';
import { signIn } from '../helpers';

/**
 * Token mode with DPoP (LATCHKEY_DPOP=1): the access token the page holds is bound to a key the
 * page cannot export, so the token alone is refused by the API.
 */
const TTL = 20;
let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: TTL, appEnv: { LATCHKEY_DPOP: '1' } });
});
test.afterAll(async () => {
  await stack?.stop();
});

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const thumbprintOf = (jwk: Record<string, string>) =>
  createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
const isApi = (url: string) => new URL(url).pathname.startsWith('/api/notes');

/** Every /token answer's body and every API request's headers, from now on. */
function record(pages: Page[]) {
  const seen = { tokens: [] as { status: number; body: Record<string, unknown> }[], api: [] as { request: PageRequest; status: number }[] };
  for (const page of pages) {
    page.on('response', async (response) => {
      const { pathname } = new URL(response.url());
      if (pathname === '/api/auth/token') seen.tokens.push({ status: response.status(), body: await response.json().catch(() => ({})) });
      else if (isApi(response.url())) seen.api.push({ request: response.request(), status: response.status() });
    });
  }
  return seen;
}

test(`four tabs share one DPoP key: tokens bound to it (cnf.jkt), upstream refreshes follow the ${TTL}-second lifetime, not the tab count`, async ({ context }) => {
  test.setTimeout(180_000);
  const first = await context.newPage();
  const seen = record([first]);
  await signIn(first, stack.appUrl);
  const pages = [first];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    record([page]).tokens = seen.tokens;
    await page.goto(stack.appUrl);
    await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
    pages.push(page);
  }
  for (const page of pages) await expect(page.getByTestId('notes')).toContainText('Buy milk');

  const start = await stack.stats();
  const began = Date.now();
  for (let turn = 0; Date.now() - began < 45_000; turn++) {
    await pages[turn % pages.length]!.bringToFront();
    await pages[0]!.waitForTimeout(5_000);
  }
  const seconds = (Date.now() - began) / 1000;
  const end = await stack.stats();
  const refreshes = end.grants.refresh_token - start.grants.refresh_token;
  for (const page of pages) await expect(page.getByTestId('notes')).toContainText('Buy milk');

  const issued = seen.tokens.filter((t) => t.status === 200);
  expect(issued.length).toBeGreaterThan(0);
  const keys = new Set(issued.map((t) => (claimsOf(t.body.accessToken as string).cnf as { jkt?: string } | undefined)?.jkt));
  // Every token the tabs were given is a DPoP one, all bound to one key: the tabs share it.
  expect(issued.every((t) => t.body.tokenType === 'DPoP')).toBe(true);
  expect([...keys].every((jkt) => typeof jkt === 'string')).toBe(true);
  expect(keys.size).toBe(1);
  expect(refreshes).toBeLessThanOrEqual(Math.ceil(seconds / (TTL / 2)) + 2);
  expect(end.reuseDetected).toBe(0);
  console.log(`measured: ${seconds.toFixed(0)} s, 4 tabs: ${refreshes} upstream refreshes, ${seen.tokens.length} /token answers (${issued.length} tokens), one key`);
});

test('the API takes the bound token only with a fresh proof of its key, for this very request: bare, foreign-key, mis-aimed and replayed proofs get 401', async ({ page }) => {
  test.setTimeout(90_000);
  const seen = record([page]);
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  // Proofs the page signs but never sends: each request for the notes is caught and dropped.
  const unsent: Record<string, string>[] = [];
  await page.route('**/api/notes/items*', async (route) => {
    unsent.push(await route.request().allHeaders());
    await route.abort();
  });
  // The page asks for the notes every 3 s (and again after a failure): no reload, so one key
  // throughout. Three unsent proofs for one token (the token is renewed every 10 s or so).
  const sameToken = () => {
    const byToken = new Map<string, Record<string, string>[]>();
    for (const headers of unsent) byToken.set(headers.authorization!, [...(byToken.get(headers.authorization!) ?? []), headers]);
    return [...byToken.values()].find((list) => list.length >= 3);
  };
  await expect.poll(() => sameToken() !== undefined, { timeout: 40_000 }).toBe(true);
  const [first, second, third] = sameToken()! as [Record<string, string>, Record<string, string>, Record<string, string>];
  const token = first.authorization!.replace(/^DPoP /, '');
  expect(first.authorization).toMatch(/^DPoP /);
  // Another token of the same key (the one before, or the renewal after).
  const another = () => seen.tokens.map((t) => t.body.accessToken as string).find((t) => t && t !== token);
  await expect.poll(another, { timeout: 30_000 }).toBeTruthy();
  const older = another()!;
  const jkt = (claimsOf(token).cnf as { jkt: string }).jkt;
  const pageKey = JSON.parse(Buffer.from(first.dpop!.split('.')[0]!, 'base64url').toString('utf8')).jwk as Record<string, string>;
  expect(thumbprintOf(pageKey)).toBe(jkt);
  expect((claimsOf(older).cnf as { jkt: string }).jkt).toBe(jkt);

  const url = `${stack.appUrl}/api/notes/items`;
  const other = testDpopKey();
  const ath = createHash('sha256').update(token).digest('base64url');
  const refused: [string, string, RequestInit][] = [
    ['the token as a Bearer token', url, { headers: { authorization: `Bearer ${token}` } }],
    ['the DPoP token without a proof', url, { headers: { authorization: `DPoP ${token}` } }],
    ['a proof from another key', url, { headers: { authorization: `DPoP ${token}`, dpop: other.proof({ htm: 'GET', htu: url, ath }) } }],
    ['the page’s proof for another URL (htu)', `${stack.appUrl}/api/notes`, { headers: { authorization: `DPoP ${token}`, dpop: first.dpop! } }],
    ['the page’s proof with another method (htm)', url, { method: 'HEAD', headers: { authorization: `DPoP ${token}`, dpop: first.dpop! } }],
    ['the page’s proof with another token of the same key (ath)', url, { headers: { authorization: `DPoP ${older}`, dpop: second.dpop! } }],
  ];
  for (const [name, target, init] of refused) {
    const response = await fetch(target, init);
    expect(response.status, name).toBe(401);
    expect(response.headers.get('www-authenticate'), name).toMatch(/error="(invalid_token|invalid_dpop_proof)"/);
  }
  // The same proof, unspoilt, passes once; sent again it is a replay.
  const once = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: third.dpop! } });
  expect(once.status).toBe(200);
  const replay = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: third.dpop! } });
  expect(replay.status).toBe(401);
  expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
  // The page keeps working: each of its requests carries a fresh proof.
  await page.unroute('**/api/notes/items*');
  await page.reload();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
});

test('a DPoP key made in Chromium cannot be exported', async ({ page }) => {
  const bundled = await build({
    stdin: { contents: "export { createDpopKey } from './packages/client/src/dpop.ts';", resolveDir: new URL('../..', import.meta.url).pathname, loader: 'ts' },
    bundle: true,
    format: 'iife',
    globalName: 'latchkeyDpop',
    write: false,
    logLevel: 'error',
  });
  await page.goto(stack.appUrl);
  await page.addScriptTag({ content: bundled.outputFiles[0]!.text });
  const outcome = await page.evaluate(async () => {
    const { createDpopKey } = (globalThis as unknown as { latchkeyDpop: { createDpopKey: () => Promise<CryptoKeyPair> } }).latchkeyDpop;
    const pair = await createDpopKey();
    const tries = await Promise.allSettled([crypto.subtle.exportKey('jwk', pair.privateKey), crypto.subtle.exportKey('pkcs8', pair.privateKey)]);
    return { extractable: pair.privateKey.extractable, outcomes: tries.map((t) => t.status) };
  });
  expect(outcome).toEqual({ extractable: false, outcomes: ['rejected', 'rejected'] });
});

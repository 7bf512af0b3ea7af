import { Buffer } from 'node:buffer';
import { expect, test, type Page } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { findJwts, heapStrings, pageState, recordBodies, recordResponses, signIn } from '../helpers';

/**
 * The demo in proxy mode (LATCHKEY_MODE=proxy): the page calls /api/auth/proxy/notes/..., the
 * BFF attaches the access token and calls the demo's own notes API, which verifies it. The
 * notes API's test hooks are on, so a request can ask it to refuse its token.
 */
const TTL = 8;
let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: TTL, appEnv: { LATCHKEY_MODE: 'proxy', LATCHKEY_DEMO_TEST_HOOKS: '1' } });
});
test.afterAll(async () => {
  await stack?.stop();
});

/** A JWT made here, shaped like the provider's (RS256 header, claims, a signature segment). */
const KNOWN_JWT = [
  { alg: 'RS256', typ: 'at+jwt', kid: 'probe' },
  { iss: 'http://127.0.0.1', sub: 'alice', aud: 'urn:latchkey:demo-api', exp: 2_000_000_000, scope: 'notes:read' },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
  .concat(Buffer.from('not a real signature, only its shape').toString('base64url'))
  .join('.');

/** Calls the BFF from the page's own JavaScript, as the client does: same origin, the cookie and the CSRF header. */
async function fromPage(page: Page, path: string, init: { method?: 'GET' | 'POST' } = {}) {
  return page.evaluate(
    async ({ path, method }) => {
      const headers: Record<string, string> = { 'x-latchkey': '1', ...(method === 'POST' && { 'content-type': 'application/json' }) };
      const response = await fetch(path, { method: method ?? 'GET', headers });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: response.status, body: body as Record<string, unknown> & { hook?: { requests: number; refused: number } } };
    },
    { path, method: init.method },
  );
}

/** Every JWT in the recorded answers, in what the page's JavaScript can reach, and in its heap. */
async function jwtsVisibleTo(page: Page, bodies: ReturnType<typeof recordBodies>) {
  const places: [string, string[]][] = [
    ['answers', await bodies.all()],
    ['page state', await pageState(page)],
    ['heap', await heapStrings(page)],
  ];
  // Page state entries start with what they are ("window.x: ..."), answers with their status and URL.
  return places.flatMap(([where, texts]) => texts.flatMap((text) => findJwts(text).map((jwt) => `${where}${where === 'heap' ? '' : ` ${text.slice(0, text.search(/: |\n/))}`}: ${jwt.slice(0, 40)}…`)));
}

test(`for 30 s of ${TTL}-second tokens every call goes through the proxy and succeeds, and no JWT ever reaches the page`, async ({ page }) => {
  test.setTimeout(120_000);
  const bodies = recordBodies(page, stack.appUrl);
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('proxy-mode')).toBeVisible();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  const start = await stack.stats();
  const seen = recordResponses([page]);
  const proxied: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) proxied.push(new URL(r.url()).pathname);
  });

  // The page polls the notes every 3 s: about ten calls over nearly four token lifetimes (at least
  // six on a busy machine).
  await page.waitForTimeout(30_000);
  await page.getByTestId('reload-notes').click();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');

  const end = await stack.stats();
  const refreshes = end.grants.refresh_token - start.grants.refresh_token;
  test.info().annotations.push({ type: 'measured', description: `30 s: ${seen.notes.length} proxied calls, ${refreshes} upstream refreshes` });
  console.log(`measured: ${test.info().annotations.at(-1)!.description}`);
  expect(refreshes).toBeGreaterThanOrEqual(3);
  expect(end.reuseDetected).toBe(0);
  expect(seen.notes.length).toBeGreaterThanOrEqual(6);
  expect(seen.notes.filter((s) => s !== 200)).toEqual([]);
  // The page asked for no token: the list came through the proxy, never from the API itself.
  expect(seen.token).toEqual([]);
  expect(proxied.filter((path) => path === '/api/notes/items' || path === '/api/notes')).toEqual([]);
  expect(proxied).toContain('/api/auth/proxy/notes/items');
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  await expect(page.getByTestId('token-ttl')).toHaveCount(0);

  // No route hands the browser a token in proxy mode: asked as token mode's client asks, /token is not there.
  const token = await fromPage(page, '/api/auth/token?idle=0', { method: 'POST' });
  expect(token.status).toBe(404);

  expect(bodies.count()).toBeGreaterThanOrEqual(seen.notes.length);
  expect(await jwtsVisibleTo(page, bodies)).toEqual([]);

  // The scan is not blind: a JWT put where it looks (an answer, storage, a global, the heap) is found in each.
  await page.route(`${stack.appUrl}/probe`, (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify({ access_token: KNOWN_JWT }) }));
  await page.evaluate(async (jwt) => {
    await (await fetch('/probe')).text();
    sessionStorage.setItem('probe', jwt);
    (window as unknown as { probe: unknown }).probe = { nested: [jwt] };
  }, KNOWN_JWT);
  const probe = `${KNOWN_JWT.slice(0, 40)}…`;
  const found = await jwtsVisibleTo(page, bodies);
  expect(found).toEqual(
    expect.arrayContaining([`answers 200 ${stack.appUrl}/probe: ${probe}`, `page state sessionStorage.probe: ${probe}`, `page state window.probe: ${probe}`, `heap: ${probe}`]),
  );
  expect(findJwts(`x.${KNOWN_JWT}.y`)).toEqual([KNOWN_JWT]);
});

test('an API that refuses a token as invalid_token is healed by exactly one refresh and one retry', async ({ page }) => {
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  // Leave the polling page for a plain same-origin document, so only these calls reach the BFF.
  await page.goto(`${stack.appUrl}/api/auth/session`);
  // The first refusal leaves a token the provider issued moments ago in the cache: the freshest
  // there is, and the one the API refuses next. Refused, it is never sent again, however fresh.
  const primed = await fromPage(page, '/api/auth/proxy/notes/items?refuse=prime');
  expect(primed.status).toBe(200);

  const before = await stack.stats();
  const healed = await fromPage(page, '/api/auth/proxy/notes/items?refuse=heal');
  const after = await stack.stats();
  expect(healed.status).toBe(200);
  expect(healed.body.owner).toBe('alice');
  // The API saw two requests under this label, the first refused, the second with a new token.
  expect(healed.body.hook).toEqual({ label: 'heal', requests: 2, refused: 1 });
  expect(after.grants.refresh_token - before.grants.refresh_token).toBe(1);
  expect(after.reuseDetected).toBe(0);

  // Still signed in: an API's refusal is not the session's end.
  expect((await fromPage(page, '/api/auth/session')).body).toMatchObject({ authenticated: true });
  // The new token is the one kept: the next call passes with it, without another refresh.
  const again = await fromPage(page, '/api/auth/proxy/notes/items?refuse=heal');
  expect(again.body.hook).toEqual({ label: 'heal', requests: 3, refused: 1 });
  expect((await stack.stats()).grants.refresh_token - after.grants.refresh_token).toBe(0);
});

test('server-sent events come through the proxy one by one, before the stream ends', async ({ page }) => {
  const bodies = recordBodies(page, stack.appUrl);
  await signIn(page, stack.appUrl);
  const stream = await page.evaluate(async () => {
    const started = performance.now();
    const response = await fetch('/api/auth/proxy/notes/events?count=5&intervalMs=400', { headers: { 'x-latchkey': '1', accept: 'text/event-stream' } });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { n: number; at: number }[] = [];
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data) events.push({ n: (JSON.parse(data.slice(6)) as { n: number }).n, at: performance.now() - started });
      }
    }
    return { status: response.status, type: response.headers.get('content-type'), events, endedAt: performance.now() - started };
  });
  expect(stream.status).toBe(200);
  expect(stream.type).toMatch(/^text\/event-stream/);
  expect(stream.events.map((e) => e.n)).toEqual([1, 2, 3, 4, 5]);
  // Sent 400 ms apart over 2 s: the first arrives over a second before the stream ends, and they
  // come in separate reads (a busy machine may let two run together, never all of them).
  expect(stream.endedAt - stream.events[0]!.at).toBeGreaterThan(1_000);
  expect(stream.events.at(-1)!.at - stream.events[0]!.at).toBeGreaterThan(1_000);
  expect(new Set(stream.events.map((e) => e.at)).size).toBeGreaterThanOrEqual(4);
  expect(await jwtsVisibleTo(page, bodies)).toEqual([]);
});

test('signing out in one tab signs out the other, and the proxy then refuses its calls', async ({ context }) => {
  const first = await context.newPage();
  await signIn(first, stack.appUrl);
  const second = await context.newPage();
  await second.goto(stack.appUrl);
  await expect(second.getByTestId('auth-status')).toHaveText('authenticated');
  await expect(second.getByTestId('notes')).toContainText('Buy milk');

  await first.getByTestId('sign-out').click();
  await expect(second.getByTestId('auth-status')).toHaveText('unauthenticated', { timeout: 2_000 });
  await expect(second.getByTestId('signed-out-reason')).toHaveText('You signed out.');
  await expect(second.getByTestId('notes')).toHaveCount(0);
  const after = await fromPage(second, '/api/auth/proxy/notes/items');
  expect(after.status).toBe(401);
  expect(after.body.error).toBe('login_required');
});

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { expect, test, type Browser } from '@playwright/test';
import { signIn } from '../helpers';
import { startStack, type Stack } from '../stack';

// The demo started with METRICS_BEARER_TOKEN: GET /api/metrics serves the BFF's OpenTelemetry
// instruments through the Prometheus exporter to that bearer token only, and the scrape passes
// `promtool check metrics` after traffic that moves every instrument.

const TOKEN = randomBytes(24).toString('base64url');
const GRACE_SECONDS = 1;
// A token is fresh (served from cache whatever minValidity asks) for a quarter of its life: 2 s.
const ACCESS_TOKEN_TTL = 8;
const TOKEN_LIMIT = 20;
const COOKIE = '__Host-latchkey';

let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({
    accessTokenTtl: ACCESS_TOKEN_TTL,
    appEnv: {
      METRICS_BEARER_TOKEN: TOKEN,
      // An outdated cookie is reuse one second after its successor came back (default 30).
      LATCHKEY_REFRESH_GRACE_SECONDS: String(GRACE_SECONDS),
      // Low enough for a loop of /token calls on one session to meet a 429.
      LATCHKEY_RATE_LIMITS: JSON.stringify({ tokenPerFamily: { limit: TOKEN_LIMIT, windowSeconds: 60 } }),
    },
  });
});
test.afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const scrape = (authorization?: string) => fetch(`${stack.appUrl}/api/metrics`, { headers: authorization ? { authorization } : {} });

/** A session signed in through the provider's form in its own browser context, whose page is then closed (no background calls). */
async function sessionCookie(browser: Browser, user: string): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await signIn(page, stack.appUrl, user);
    const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
    if (!cookie) throw new Error(`no ${COOKIE} cookie after signing in ${user}`);
    return cookie.value;
  } finally {
    await context.close();
  }
}

/** POST /api/auth/token as the Latchkey client sends it, with this cookie; answers the status and any rotated cookie. */
async function token(cookie: string, minValidity = 0) {
  const response = await fetch(`${stack.appUrl}/api/auth/token?idle=0&minValidity=${minValidity}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-latchkey': '1', origin: stack.appUrl, cookie: `${COOKIE}=${cookie}` },
  });
  await response.arrayBuffer();
  const rotated = response.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`) && !c.startsWith(`${COOKIE}=;`));
  return { status: response.status, cookie: rotated?.slice(COOKIE.length + 1).split(';')[0] };
}

/** The metric families of an exposition, by name, with their TYPE. */
function families(body: string): Record<string, string> {
  return Object.fromEntries([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

// First in this file: no request has reached /api/metrics yet, so what the scrape shows was
// recorded by the SDK that instrumentation.ts installed when the server started.
test('after a little traffic the scrape holds every Latchkey instrument and passes promtool check metrics', async ({ browser }) => {
  // Two sign-ins: sessions started, logins, cookie sizes, cached token requests from the pages.
  const alice = await sessionCookie(browser, 'alice');
  const bob = await sessionCookie(browser, 'bob');

  // Refreshes: five calls at once that all need a new token; one refreshes, the others wait for it.
  await sleep((ACCESS_TOKEN_TTL / 4 + 0.5) * 1000);
  const together = await Promise.all(Array.from({ length: 5 }, () => token(alice, 3600)));
  expect(together.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  const rotated = together.find((r) => r.cookie)?.cookie;
  expect(rotated).toBeTruthy();
  // The new cookie comes back once; past the grace period the old one is reuse: 401, revoked.
  expect((await token(rotated!)).status).toBe(200);
  await sleep((GRACE_SECONDS + 1.5) * 1000);
  expect((await token(alice)).status).toBe(401);

  // Rate limit on one session family: calls beyond the limit are answered 429.
  const statuses = [];
  for (let n = 0; n < TOKEN_LIMIT + 5; n++) statuses.push((await token(bob)).status);
  expect(statuses).toContain(429);
  // Sign-out of that session.
  const logout = await fetch(`${stack.appUrl}/api/auth/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-latchkey': '1', origin: stack.appUrl, cookie: `${COOKIE}=${bob}` },
  });
  expect(logout.status).toBe(200);

  // Failed sign-ins: a callback no sign-in started, and a provider's error for one that did.
  expect((await fetch(`${stack.appUrl}/api/auth/callback?code=forged&state=${'a'.repeat(43)}`)).status).toBe(400);
  const login = await fetch(`${stack.appUrl}/api/auth/login?returnTo=/`, { redirect: 'manual' });
  const state = new URL(login.headers.get('location')!).searchParams.get('state')!;
  const transaction = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const denied = await fetch(`${stack.appUrl}/api/auth/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(stack.idpUrl)}`, {
    headers: { cookie: transaction },
    redirect: 'manual',
  });
  expect(denied.status).toBe(302);
  expect(denied.headers.get('location')).toContain('auth_error=access_denied');

  const response = await scrape(`Bearer ${TOKEN}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const body = await response.text();
  test.info().attach('scrape', { body, contentType: 'text/plain' });

  // The exporter's names: dots become underscores, counters end in _total, no unit suffix.
  const latchkey = Object.fromEntries(Object.entries(families(body)).filter(([name]) => name.startsWith('latchkey_')));
  expect(latchkey).toEqual({
    latchkey_token_requests_total: 'counter',
    latchkey_refresh_duration: 'histogram',
    latchkey_lock_wait_duration: 'histogram',
    latchkey_sessions_started_total: 'counter',
    latchkey_sessions_ended_total: 'counter',
    latchkey_sessions_active: 'gauge',
    latchkey_reuse_detected_total: 'counter',
    latchkey_rate_limited_total: 'counter',
    latchkey_logins_total: 'counter',
    latchkey_cookie_size: 'histogram',
  });
  // The series the traffic above must have made (attributes as labels, values beside them).
  const series = (name: string, labels: string) => new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} [1-9]`, 'm');
  for (const result of ['cached', 'refreshed', 'waited', 'rejected']) expect(body).toMatch(series('latchkey_token_requests_total', `latchkey_result="${result}"`));
  expect(body).toMatch(series('latchkey_refresh_duration_count', 'latchkey_outcome="success"'));
  expect(body).toMatch(series('latchkey_lock_wait_duration_count', ''));
  expect(body).toMatch(/^latchkey_sessions_started_total\{[^}]*\} 2$/m);
  for (const reason of ['reuse', 'logout']) expect(body).toMatch(series('latchkey_sessions_ended_total', `latchkey_reason="${reason}"`));
  expect(body).toMatch(series('latchkey_reuse_detected_total', ''));
  expect(body).toMatch(series('latchkey_rate_limited_total', 'latchkey_route="token"'));
  for (const outcome of ['success', 'failure', 'provider_error']) expect(body).toMatch(series('latchkey_logins_total', `latchkey_outcome="${outcome}"`));
  expect(body).toMatch(series('latchkey_cookie_size_count', ''));
  expect(body).toMatch(/^latchkey_sessions_active\{[^}]*\} \d+$/m);
  // No session, family or user identifier is ever a label.
  expect(body).not.toMatch(/alice|bob|fid=|sub=/);

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if ((promtool.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error("promtool is not installed: it comes with Debian's prometheus package (apt-get install --no-install-recommends prometheus); npm test installs it.");
  }
  expect(promtool.status, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`).toBe(0);
});

test('GET /api/metrics answers the same 404 without the bearer token, with a wrong one, and for other methods', async () => {
  for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
    const response = await scrape(authorization);
    expect(response.status, String(authorization)).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found', error_description: 'Not found.' });
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const other = await fetch(`${stack.appUrl}/api/metrics`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(other.status, method).toBe(404);
  }
});

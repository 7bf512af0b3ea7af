import { expect, test } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { recordResponses, signIn } from '../helpers';

const TTL = 6;
let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: TTL });
});
test.afterAll(async () => {
  await stack?.stop();
});

test(`a server component and a server action call the API with the user's token over several ${TTL}-second rotations while the browser keeps refreshing: no reuse, no sign-out`, async ({ page, context }) => {
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  const start = await stack.stats();
  const server = await context.newPage();
  const { token: tokenStatuses } = recordResponses([page, server]);

  // Five token lifetimes: the SPA tab refreshes on its own timer, and the server asks for
  // more validity than a 6 s token has left most of the time, so it refreshes too: from the
  // server component (which cannot set the rotated cookie) and from the action (which does).
  const until = Date.now() + TTL * 5 * 1000;
  let rounds = 0;
  while (Date.now() < until) {
    rounds++;
    await server.goto(`${stack.appUrl}/server`);
    await expect(server.getByTestId('rsc-status')).toHaveText('200');
    await expect(server.getByTestId('rsc-owner')).toHaveText('alice');
    await server.getByTestId('run-action').click();
    await expect(server.getByTestId('action-runs')).toHaveText('1');
    await expect(server.getByTestId('action-status')).toHaveText('200');
    await expect(server.getByTestId('action-owner')).toHaveText('alice');
    await server.waitForTimeout(1500);
  }

  const end = await stack.stats();
  expect(rounds).toBeGreaterThanOrEqual(4);
  // The server refreshed on top of the browser's own refreshes, and nobody presented a spent token.
  expect(end.grants.refresh_token - start.grants.refresh_token).toBeGreaterThanOrEqual(5);
  expect(end.reuseDetected).toBe(0);
  expect(end.revoked).toBe(start.revoked);
  expect(tokenStatuses.filter((s) => s !== 200)).toEqual([]);
  // The SPA tab is still signed in and its API calls still work.
  await page.getByTestId('reload-notes').click();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
});

test('a signed-out visitor of a protected page goes to sign-in and comes back to it', async ({ page }) => {
  await page.goto(`${stack.appUrl}/server`);
  // The proxy sent the browser on to the provider's login form.
  await expect(page.locator('input[name="username"]')).toBeVisible();
  expect(new URL(page.url()).port).toBe(new URL(stack.idpUrl).port);
  await page.locator('input[name="username"]').fill('bob');
  await page.locator('input[name="password"]').fill('bob');
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(`${stack.appUrl}/server`);
  await expect(page.getByTestId('rsc-user')).toHaveText('bob');
  await expect(page.getByTestId('rsc-status')).toHaveText('200');
});

test('a cookie that gets past the proxy but is no session is sent to sign-in by requireSession()', async ({ page }) => {
  const response = await page.request.get(`${stack.appUrl}/server`, { headers: { cookie: '__Host-latchkey=not-a-sealed-session' }, maxRedirects: 0 });
  // The proxy lets it through (a cookie is there); the page itself sends the browser to sign-in.
  const location = response.headers()['location'] ?? '';
  const body = await response.text();
  expect(location + body).toContain('/api/auth/login?returnTo=%2Fserver');
});

test('a first visit without a session makes no request to the BFF and logs no error: the server rendered who is signed in', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  const calls: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/auth/')) calls.push(r.url());
  });
  await page.goto(stack.appUrl);
  await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated');
  await page.waitForTimeout(1000);
  expect(calls).toEqual([]);
  expect(errors).toEqual([]);
});

test('a signed-in page is rendered with the user on the server: no "loading" on the first paint', async ({ page }) => {
  await signIn(page, stack.appUrl, 'bob');
  const response = await page.goto(stack.appUrl);
  const html = await response!.text();
  expect(html).toMatch(/data-testid="auth-status">authenticated</);
  expect(html).toMatch(/data-testid="user-name">Bob/);
  await expect(page.getByTestId('notes')).toContainText('Fix the roof');
});

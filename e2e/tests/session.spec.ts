import { expect, test } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { callToken, signIn } from '../helpers';

let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: 300 });
});
test.afterAll(async () => {
  await stack?.stop();
});

test('signs in through the provider form and loads the notes', async ({ page }) => {
  await signIn(page, stack.appUrl, 'alice');
  await expect(page.getByTestId('user-name')).toHaveText('Alice Liddell');
  await expect(page.getByTestId('notes')).toContainText('Follow the white rabbit');
});

test('the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict, Path=/', async ({ page, context }) => {
  await signIn(page, stack.appUrl);
  const cookies = await context.cookies(stack.appUrl);
  const session = cookies.find((c) => c.name === '__Host-latchkey');
  expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  expect(session!.domain).toBe('localhost');
  // The whole cookie stays well under the 4096-byte limit.
  expect(session!.name.length + session!.value.length).toBeLessThan(1500);
});

test('no token is readable from localStorage, sessionStorage or document.cookie', async ({ page }) => {
  const tokenResponse = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/token' && r.status() === 200);
  await signIn(page, stack.appUrl);
  const { accessToken } = await (await tokenResponse).json();
  expect(accessToken).toMatch(/^eyJ/);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  const exposed = await page.evaluate(() => ({
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
    cookie: document.cookie,
  }));
  for (const value of Object.values(exposed)) {
    expect(value).not.toContain(accessToken);
    expect(value).not.toMatch(/eyJ|latchkey/);
  }
});

test('a reload keeps the session', async ({ page }) => {
  await signIn(page, stack.appUrl, 'bob');
  await expect(page.getByTestId('notes')).toContainText('Fix the roof');
  await page.reload();
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  await expect(page.getByTestId('user-name')).toHaveText('Bob Builder');
  await expect(page.getByTestId('notes')).toContainText('Fix the roof');
});

test('sign-out returns to the signed-out view and the token endpoint then answers 401', async ({ page, context }) => {
  await signIn(page, stack.appUrl);
  const before = (await context.cookies(stack.appUrl)).find((c) => c.name === '__Host-latchkey')!.value;
  const revokedBefore = (await stack.stats()).revoked;
  await page.getByTestId('sign-out').click();
  await page.waitForURL(`${stack.appUrl}/`);
  await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated');
  expect((await context.cookies(stack.appUrl)).find((c) => c.name === '__Host-latchkey')).toBeUndefined();

  const withoutCookie = await callToken(page, stack.appUrl);
  expect(withoutCookie.status()).toBe(401);
  expect((await withoutCookie.json()).error).toBe('login_required');
  // The old cookie, replayed, is refused too: its family was revoked.
  const replayed = await callToken(page, stack.appUrl, before);
  expect(replayed.status()).toBe(401);
  expect((await replayed.json()).error).toBe('session_revoked');
  expect((await stack.stats()).revoked).toBeGreaterThan(revokedBefore);

  // Signing in again asks for credentials: the provider session ended too.
  await page.getByTestId('sign-in').click();
  await expect(page.locator('input[name="username"]')).toBeVisible();
});

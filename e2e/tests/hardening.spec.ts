import { expect, test } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { recordResponses, signIn } from '../helpers';

let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: 8 });
});
test.afterAll(async () => {
  await stack?.stop();
});

test('no returnTo, however encoded, takes the browser off the app origin', async ({ page }) => {
  const attacks = ['//evil.example', '/.//evil.example', '/..//evil.example', '/%2e%2e//evil.example', '/\\evil.example', '/%09/evil.example', 'https://evil.example'];
  for (const returnTo of attacks) {
    const response = await page.goto(`${stack.appUrl}/api/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    // Either refused outright, or sent to the provider with a harmless path: never anywhere else.
    const url = new URL(page.url());
    expect([stack.appUrl, stack.idpUrl]).toContain(url.origin);
    if (url.origin === stack.appUrl) {
      expect(response!.status()).toBe(400);
      expect(await response!.json()).toMatchObject({ error: 'invalid_return_to' });
    }
  }
});

test('signing in again in the same browser keeps the new session refreshing, with no reuse', async ({ page }) => {
  await signIn(page, stack.appUrl, 'alice');
  const before = await stack.stats();
  // The person follows a sign-in link again while signed in: the provider still knows them.
  await page.goto(`${stack.appUrl}/api/auth/login?returnTo=/`);
  await page.waitForURL(`${stack.appUrl}/**`);
  if (await page.locator('input[name="username"]').count()) throw new Error('the provider asked again; this test needs its session');
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  const seen = recordResponses([page]);
  // Three lifetimes of an 8-second token: the new session must refresh through all of them.
  await page.waitForTimeout(20_000);
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  const after = await stack.stats();
  expect(after.grants.refresh_token - before.grants.refresh_token).toBeGreaterThanOrEqual(2);
  expect(after.reuseDetected).toBe(before.reuseDetected);
  expect(seen.token.every((status) => status === 200)).toBe(true);
  expect(seen.notes.every((status) => status === 200)).toBe(true);
});

test('after sign-out the provider shows its sign-in form again (logout sends id_token_hint)', async ({ page }) => {
  await signIn(page, stack.appUrl, 'bob');
  const providerLogout = page.waitForRequest((r) => r.url().startsWith(`${stack.idpUrl}/session/end`));
  await page.getByTestId('sign-out').click();
  expect(new URL((await providerLogout).url()).searchParams.get('id_token_hint')).toBeTruthy();
  await page.waitForURL(`${stack.appUrl}/`);
  await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated');
  await page.getByTestId('sign-in').click();
  await expect(page.locator('input[name="password"]')).toBeVisible();
});

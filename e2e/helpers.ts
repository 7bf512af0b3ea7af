import { expect, type Page } from '@playwright/test';

/** Signs in through the dev provider's real login form, starting from the demo's sign-in button. */
export async function signIn(page: Page, appUrl: string, user = 'alice') {
  await page.goto(appUrl);
  await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated');
  await page.getByTestId('sign-in').click();
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(user);
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(`${appUrl}/**`);
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
}

/** Calls POST /api/auth/token the way the SPA does, from the page's context. */
export async function callToken(page: Page, appUrl: string, cookie?: string) {
  return page.request.post(`${appUrl}/api/auth/token`, {
    headers: {
      'content-type': 'application/json',
      'x-latchkey': '1',
      origin: appUrl,
      ...(cookie ? { cookie: `__Host-latchkey=${cookie}` } : {}),
    },
    data: {},
  });
}

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
  return page.request.post(`${appUrl}/api/auth/token?idle=0`, {
    headers: {
      'content-type': 'application/json',
      'x-latchkey': '1',
      origin: appUrl,
      ...(cookie ? { cookie: `__Host-latchkey=${cookie}` } : {}),
    },
  });
}

/** Records the status of every /api/notes and /api/auth/token answer the pages get from now on. */
export function recordResponses(pages: Page[]) {
  const seen = { notes: [] as number[], token: [] as number[] };
  for (const page of pages) {
    page.on('response', (r) => {
      if (r.url().endsWith('/api/notes')) seen.notes.push(r.status());
      if (new URL(r.url()).pathname === '/api/auth/token') seen.token.push(r.status());
    });
  }
  return seen;
}

import { expect, test } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { recordResponses, signIn } from '../helpers';

const TTL = 20;
let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: TTL });
});
test.afterAll(async () => {
  await stack?.stop();
});

test(`four tabs stay signed in for over a minute of ${TTL}-second tokens, with upstream refreshes following the lifetime, not the tab count`, async ({ context }) => {
  test.setTimeout(180_000);
  const first = await context.newPage();
  await signIn(first, stack.appUrl);
  const pages = [first];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    await page.goto(stack.appUrl);
    await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
    pages.push(page);
  }
  for (const page of pages) await expect(page.getByTestId('notes')).toContainText('Buy milk');

  const seen = recordResponses(pages);
  const start = await stack.stats();
  const began = Date.now();
  // Take turns in front, 5 s each, for 75 s: close to four token lifetimes.
  for (let turn = 0; Date.now() - began < 75_000; turn++) {
    await pages[turn % pages.length]!.bringToFront();
    await pages[0]!.waitForTimeout(5_000);
  }
  const seconds = (Date.now() - began) / 1000;
  const end = await stack.stats();
  const refreshes = end.grants.refresh_token - start.grants.refresh_token;

  for (const page of pages) {
    await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
    await expect(page.getByTestId('notes')).toContainText('Buy milk');
  }
  test.info().annotations.push({
    type: 'measured',
    description: `${seconds.toFixed(0)} s, 4 tabs: ${refreshes} upstream refreshes, ${seen.token.length} /token calls, ${seen.notes.length} API calls`,
  });
  console.log(`measured: ${test.info().annotations.at(-1)!.description}`);
  // A token is due at half its life (10 s), so about one upstream refresh per 10 s, whatever the tab count.
  expect(refreshes).toBeGreaterThanOrEqual(Math.floor(seconds / TTL));
  expect(refreshes).toBeLessThanOrEqual(Math.ceil(seconds / (TTL / 2)) + 2);
  expect(end.reuseDetected).toBe(0);
  // Tabs share: the one that refreshes broadcasts, the others do not call the BFF at all.
  expect(seen.token.length).toBeLessThanOrEqual(refreshes + pages.length);
  expect(seen.token.filter((s) => s !== 200)).toEqual([]);
  expect(seen.notes.length).toBeGreaterThan(40);
  expect(seen.notes.filter((s) => s === 401)).toEqual([]);
  // The devtools panel tells which tab refreshed last and what the others adopted.
  await expect(pages[1]!.getByTestId('devtools-history')).toContainText('from another tab');
  await expect(pages[1]!.getByTestId('devtools-lock')).toContainText(/last refresh by (this|another) tab \d+ s ago/);

  // Sign-out in one tab reaches every other tab within 2 s.
  await pages[2]!.bringToFront();
  await pages[2]!.getByTestId('sign-out').click();
  for (const page of [pages[0]!, pages[1]!, pages[3]!]) {
    await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated', { timeout: 2_000 });
    await expect(page.getByTestId('signed-out-reason')).toHaveText('You signed out.');
    await expect(page.getByTestId('notes')).toHaveCount(0);
  }
});

test('with the network cut past expiry and restored, the session goes on without a sign-in', async ({ context, page }) => {
  test.setTimeout(120_000);
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');

  await context.setOffline(true);
  await page.waitForTimeout((TTL + 5) * 1000); // the token in memory has expired meanwhile
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  await expect(page.getByTestId('last-error')).toContainText('could not be reached');

  const seen = recordResponses([page]);
  await context.setOffline(false);
  await expect(page.getByTestId('last-error')).toHaveCount(0, { timeout: 10_000 });
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  await page.getByTestId('reload-notes').click();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  expect(page.url().startsWith(stack.appUrl)).toBe(true);
  expect(seen.token.filter((s) => s !== 200)).toEqual([]);
  expect(seen.notes.filter((s) => s === 401)).toEqual([]);
});

test('the access token never touches storage the page can read', async ({ page }) => {
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  const storage = await page.evaluate(async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
    databases: (await indexedDB.databases()).length,
  }));
  expect(storage).toEqual({ local: 0, session: 0, cookie: '', databases: 0 });
});

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

test(`keeps loading notes across several refreshes of a ${TTL}-second access token`, async ({ page }) => {
  await signIn(page, stack.appUrl);
  await expect(page.getByTestId('notes')).toContainText('Buy milk');
  const start = await stack.stats();
  // From here on, every token and API answer must be a success.
  const { notes: notesStatuses, token: tokenStatuses } = recordResponses([page]);

  // Stay on the page for four token lifetimes while the demo polls the API every 3 s.
  await page.waitForTimeout(TTL * 4 * 1000);
  await page.getByTestId('reload-notes').click();
  await expect(page.getByTestId('notes')).toContainText('Buy milk');

  const end = await stack.stats();
  const refreshes = end.grants.refresh_token - start.grants.refresh_token;
  expect(refreshes).toBeGreaterThanOrEqual(3);
  // One refresh per half-lifetime at most (plus slack for the first one), never a storm.
  expect(refreshes).toBeLessThanOrEqual(12);
  expect(end.reuseDetected).toBe(0);
  expect(Number(await page.getByTestId('notes-loads').textContent())).toBeGreaterThanOrEqual(6);
  expect(tokenStatuses.length).toBeGreaterThanOrEqual(3);
  expect(tokenStatuses.filter((s) => s !== 200)).toEqual([]);
  expect(notesStatuses.length).toBeGreaterThanOrEqual(6);
  expect(notesStatuses.filter((s) => s !== 200)).toEqual([]);
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
});

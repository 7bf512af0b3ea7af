import { expect, test, type Page } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { recordResponses, signIn } from '../helpers';

const TTL = 20;
let stack: Stack;
test.beforeAll(async () => {
  // Two demo instances sharing one Redis; cookies are shared across ports on localhost, so
  // both serve the same session and must coordinate every refresh through the store.
  stack = await startStack({ accessTokenTtl: TTL, appPorts: [3000, 3001], redis: true });
});
test.afterAll(async () => {
  await stack?.stop();
});

test('tabs split between two demo instances sharing Redis stay signed in across expiry, with one upstream refresh per rotation', async ({ context }) => {
  test.setTimeout(150_000);
  const [a, b] = stack.appUrls as [string, string];
  const first = await context.newPage();
  await signIn(first, a);
  const pages: Page[] = [first];
  for (const url of [b, a, b]) {
    const page = await context.newPage();
    await page.goto(url);
    await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
    pages.push(page);
  }
  const seen = recordResponses(pages);
  const start = await stack.stats();
  const began = Date.now();
  for (let turn = 0; Date.now() - began < 55_000; turn++) {
    await pages[turn % pages.length]!.bringToFront();
    await first.waitForTimeout(5_000);
  }
  const seconds = (Date.now() - began) / 1000;
  const end = await stack.stats();
  const refreshes = end.grants.refresh_token - start.grants.refresh_token;
  test.info().annotations.push({
    type: 'measured',
    description: `${seconds.toFixed(0)} s, 2 instances × 2 tabs: ${refreshes} upstream refreshes, ${seen.token.length} /token calls, ${seen.notes.length} API calls`,
  });
  console.log(`measured: ${test.info().annotations.at(-1)!.description}`);

  for (const page of pages) {
    await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
    await expect(page.getByTestId('notes')).toContainText('Buy milk');
  }
  expect(end.reuseDetected).toBe(0);
  expect(refreshes).toBeGreaterThanOrEqual(Math.floor(seconds / TTL));
  // Each origin's tabs refresh on their own, yet the instances share one rotation per due time.
  expect(refreshes).toBeLessThanOrEqual(Math.ceil(seconds / (TTL / 2)) + 2);
  expect(seen.token.filter((s) => s !== 200)).toEqual([]);
  expect(seen.notes.filter((s) => s === 401)).toEqual([]);
});

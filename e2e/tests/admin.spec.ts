import { expect, test, type Page } from '@playwright/test';
import { startStack, type Stack } from '../stack';
import { callToken, signIn } from '../helpers';

let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack({ accessTokenTtl: 300 });
});
test.afterAll(async () => {
  await stack?.stop();
});

const totalOf = async (page: Page, chart: string) => Number(await page.getByTestId(`chart-${chart}`).getAttribute('data-total'));

test('alice, an admin, sees the charts move after traffic and revokes bob\'s session: bob\'s /token then answers 401', async ({ browser }) => {
  const aliceContext = await browser.newContext();
  const bobContext = await browser.newContext();
  try {
    const alice = await aliceContext.newPage();
    await signIn(alice, stack.appUrl, 'alice');
    const admin = await alice.goto(`${stack.appUrl}/admin`);
    expect(admin?.status()).toBe(200);
    await expect(alice.getByTestId('admin-user')).toHaveText('alice');
    // uPlot draws each chart on a canvas.
    for (const chart of ['tokens', 'latency', 'sessions', 'alerts']) await expect(alice.getByTestId(`chart-${chart}`).locator('canvas')).toBeVisible();
    const before = await totalOf(alice, 'tokens');

    const bob = await bobContext.newPage();
    await signIn(bob, stack.appUrl, 'bob');
    for (let i = 0; i < 3; i++) expect((await callToken(bob, stack.appUrl)).status()).toBe(200);

    // The page polls every 2 s: bob's sign-in page and the three calls show up in the chart.
    await expect.poll(() => totalOf(alice, 'tokens'), { timeout: 15_000 }).toBeGreaterThanOrEqual(before + 4);
    await expect.poll(() => totalOf(alice, 'sessions')).toBeGreaterThan(0);
    await expect(alice.getByTestId('audit-row').filter({ hasText: 'bob' }).first()).toBeVisible();

    await alice.getByTestId('sessions-sub').fill('bob');
    await alice.getByTestId('sessions-load').click();
    await expect(alice.getByTestId('session-row')).toHaveCount(1);
    if (process.env.ADMIN_SCREENSHOT) await alice.screenshot({ path: process.env.ADMIN_SCREENSHOT, fullPage: true });
    await alice.getByTestId('revoke-session').click();
    await expect(alice.getByTestId('admin-message')).toHaveText('Revoked 1 session.');
    await expect(alice.getByTestId('session-count')).toHaveText('0');

    const refused = await callToken(bob, stack.appUrl);
    expect(refused.status()).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'session_revoked' });
    // The revocation is in the audit trail, with alice as the operator's session.
    await expect(alice.getByTestId('audit-row').filter({ hasText: 'revoke_session' })).toHaveCount(1);
    // Alice's own session is untouched.
    expect((await callToken(alice, stack.appUrl)).status()).toBe(200);
  } finally {
    await Promise.all([aliceContext.close(), bobContext.close()]);
  }
});

test('bob, who is no admin, gets 403 at /admin and at its API; a signed-out visitor gets 403 from the API', async ({ page, browser }) => {
  await signIn(page, stack.appUrl, 'bob');
  const response = await page.goto(`${stack.appUrl}/admin`);
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('forbidden')).toBeVisible();
  await expect(page.getByTestId('chart-tokens')).toHaveCount(0);

  const post = { 'content-type': 'application/json', 'x-latchkey': '1', origin: stack.appUrl };
  expect((await page.request.get(`${stack.appUrl}/admin/api/stats`)).status()).toBe(403);
  expect((await page.request.get(`${stack.appUrl}/admin/api/sessions?sub=alice`)).status()).toBe(403);
  const revoke = await page.request.post(`${stack.appUrl}/admin/api/revoke`, { headers: post, data: { sub: 'alice' } });
  expect(revoke.status()).toBe(403);
  expect(await revoke.json()).toMatchObject({ error: 'forbidden' });

  const visitor = await browser.newContext();
  try {
    expect((await visitor.request.get(`${stack.appUrl}/admin/api/stats`)).status()).toBe(403);
  } finally {
    await visitor.close();
  }
});

test('an admin\'s revoke without the CSRF header or from another origin is refused', async ({ page }) => {
  await signIn(page, stack.appUrl, 'alice');
  const url = `${stack.appUrl}/admin/api/revoke`;
  const noHeader = await page.request.post(url, { headers: { 'content-type': 'application/json', origin: stack.appUrl }, data: { sub: 'nobody' } });
  expect(noHeader.status()).toBe(403);
  expect(await noHeader.json()).toMatchObject({ error: 'csrf_rejected' });
  const crossSite = await page.request.post(url, { headers: { 'content-type': 'application/json', 'x-latchkey': '1', origin: 'https://evil.example' }, data: { sub: 'nobody' } });
  expect(crossSite.status()).toBe(403);
  const allowed = await page.request.post(url, { headers: { 'content-type': 'application/json', 'x-latchkey': '1', origin: stack.appUrl }, data: { sub: 'nobody' } });
  expect(allowed.status()).toBe(200);
  expect(await allowed.json()).toEqual({ revoked: 0 });
});

import { expect, test, type Browser, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../e2e/stack.ts';
import { builtApp, LOGS, prepareApp, recordBuilt, VARIANTS, type PreparedApp, type Variant } from './freshApp.ts';
import { newcomerEnv, ROOT, start, tail, waitForHttp, type Started } from './processes.ts';

const title = (v: Variant) =>
  `create-next-app@${v.createNextApp}${v.flags.length ? ` ${v.flags.join(' ')}` : ' with its defaults'} (cacheComponents ${v.cacheComponents ? 'on' : 'off'})`;

interface Servers {
  appUrl: string;
  idpUrl: string;
  /** What `next start` and the provider printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** The dev provider, and the built app under `next start` with the README's four variables and APP_ORIGIN. */
async function startServers(app: PreparedApp): Promise<Servers> {
  const [appPort, idpPort] = await freePorts(2);
  const appUrl = `http://localhost:${appPort}`;
  const idpUrl = `http://127.0.0.1:${idpPort}`;
  const logs = join(LOGS, app.variant.id);
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const idp = start(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: join(ROOT, 'apps/idp'),
      env: newcomerEnv({ IDP_PORT: String(idpPort), IDP_APP_ORIGINS: appUrl }),
      logFile: join(logs, 'idp.log'),
    });
    started.push(idp);
    const next = start(join(app.dir, 'node_modules/.bin/next'), ['start', '--port', String(appPort)], {
      cwd: app.dir,
      env: newcomerEnv({
        OIDC_ISSUER: idpUrl,
        OIDC_CLIENT_ID: 'latchkey-demo',
        OIDC_CLIENT_SECRET: 'latchkey-demo-secret-for-local-development-only',
        LATCHKEY_COOKIE_SECRET: randomBytes(32).toString('base64'),
        APP_ORIGIN: appUrl,
      }),
      logFile: join(logs, 'next-start.log'),
    });
    started.push(next);
    // A 200 with the provider's metadata, not just any answer: another server on that port answers too.
    await waitForHttp(`${idpUrl}/.well-known/openid-configuration`, idp, 'the dev provider', 60_000, true);
    await waitForHttp(`${appUrl}/`, next, 'next start');
    return { appUrl, idpUrl, output: () => `next start:\n${tail(next.output(), 40)}\n\ndev provider:\n${tail(idp.output(), 20)}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Fills in the dev provider's login form as alice and waits to be back on the app at `path`. */
async function signInAtProvider(page: Page, servers: Servers, path: string) {
  await page.waitForURL(`${servers.idpUrl}/**`);
  await page.locator('input[name="username"]').fill('alice');
  await page.locator('input[name="password"]').fill('alice');
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(`${servers.appUrl}${path}`);
}

/** A page in a context of its own: no cookies. */
async function newPage(browser: Browser) {
  return (await browser.newContext()).newPage();
}

/** Signs in as alice from the README's page at /, as a newcomer would. */
async function signInFromHome(page: Page, servers: Servers) {
  await page.goto(servers.appUrl);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await signInAtProvider(page, servers, '/');
}

for (const variant of VARIANTS) {
  test.describe(title(variant), () => {
    // Started by the first test that needs them in this worker (a failed test ends its worker).
    let servers: Servers | undefined;
    const running = async () => {
      const app = builtApp(variant);
      test.skip(!app, 'the app did not build');
      return (servers ??= await startServers(app!));
    };

    test.afterEach(async ({}, testInfo) => {
      if (servers && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('server output', { body: servers.output(), contentType: 'text/plain' });
    });

    test.afterAll(async () => {
      await servers?.stop();
      servers = undefined;
    });

    test('next build succeeds with the README files and no secrets in the environment', async () => {
      // Cold, this first creates the app with create-next-app, which installs its dependencies.
      test.setTimeout(25 * 60_000);
      const prepared = await prepareApp(variant);
      if (!prepared.ok) throw new Error(`${prepared.message}\n(logs: ${join(LOGS, variant.id)})`);
      recordBuilt(prepared.app!);
      const { createNextAppVersion, nextVersion, seconds } = prepared.app!;
      const versions = `create-next-app ${createNextAppVersion}, next ${nextVersion}`;
      const steps = Object.entries(seconds).map(([step, s]) => `${step} ${s} s`).join(', ');
      test.info().annotations.push({ type: 'versions', description: versions }, { type: 'seconds', description: steps });
      console.log(`${variant.id}: ${versions}; ${steps}`);
    });

    test('the anonymous first load of / offers Sign in and logs no console error', async ({ browser }) => {
      const s = await running();
      const page = await newPage(browser);
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console.error: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      await page.goto(s.appUrl);
      await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
      await page.waitForLoadState('networkidle');
      expect(errors).toEqual([]);
      await page.context().close();
    });

    test('signs in as alice from / and shows the first useAuthedQuery result', async ({ browser }) => {
      const s = await running();
      const page = await newPage(browser);
      await signInFromHome(page, s);
      await expect(page.getByTestId('notes')).toContainText('"owner": "alice"');
      await page.context().close();
    });

    test('/account sends a signed-out visitor to sign-in with returnTo, and back there once signed in', async ({ browser }) => {
      const s = await running();
      const page = await newPage(browser);
      const navigations: string[] = [];
      page.on('request', (request) => {
        if (request.isNavigationRequest() && request.frame() === page.mainFrame()) navigations.push(request.url());
      });
      await page.goto(`${s.appUrl}/account`);
      expect(navigations.slice(0, 2)).toEqual([`${s.appUrl}/account`, `${s.appUrl}/api/auth/login?returnTo=%2Faccount`]);
      expect(page.url().startsWith(`${s.idpUrl}/`), `ended at ${page.url()}, not at the provider`).toBe(true);
      await signInAtProvider(page, s, '/account');
      await expect(page.getByTestId('account')).toHaveText('Signed in as alice; the API answered 200');
      await page.context().close();
    });

    test('/account, once signed in from /, shows alice and that the API answered 200', async ({ browser }) => {
      const s = await running();
      const page = await newPage(browser);
      await signInFromHome(page, s);
      await page.goto(`${s.appUrl}/account`);
      expect(page.url()).toBe(`${s.appUrl}/account`);
      await expect(page.getByTestId('account')).toHaveText('Signed in as alice; the API answered 200');
      await page.context().close();
    });

    test('next start logged no error while the tests above used the app', async () => {
      const log = join(LOGS, variant.id, 'next-start.log');
      test.skip(!builtApp(variant) || !existsSync(log), 'the app did not build or never started');
      // Next prints "Error: …" (16) or " ⨯ …" (15); Latchkey's logger writes JSON lines.
      const errors = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => /^\s*(⨯|Error\b)/.test(line) || line.includes('"level":"error"'));
      expect(errors, `see ${log}`).toEqual([]);
    });
  });
}

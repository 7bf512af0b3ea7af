import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { signIn } from '../helpers';
import { freePorts, kill as stop, run, waitFor } from '../stack';

/**
 * examples/vite-spa: a Vite React SPA (built, then served by `vite preview`, which proxies
 * `/api` as the dev server does) and a separate BFF on node:http. The browser only ever talks
 * to Vite and the provider; the BFF's appOrigin is Vite's origin. Needs `pnpm build` (the
 * example imports the packages as published).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = resolve(root, 'examples/vite-spa');
const vite = resolve(example, 'node_modules/vite/bin/vite.js');

const children: ChildProcess[] = [];
let appUrl: string;
let idpUrl: string;
let bffUrl: string;

function start(name: string, args: string[], cwd: string, env: Record<string, string>) {
  const child = run(process.execPath, args, cwd, env, name);
  children.push(child);
  return child;
}

test.beforeAll(async () => {
  const [idpPort, bffPort, appPort] = await freePorts(3);
  appUrl = `http://localhost:${appPort}`;
  idpUrl = `http://127.0.0.1:${idpPort}`;
  bffUrl = `http://127.0.0.1:${bffPort}`;

  const build = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: example, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed (has \`pnpm build\` run?):\n${build.stdout}${build.stderr}`);

  const idp = start('idp', ['--import', 'tsx', 'src/main.ts'], resolve(root, 'apps/idp'), {
    IDP_PORT: String(idpPort),
    IDP_APP_ORIGINS: appUrl,
  });
  const bff = start('bff', ['--import', 'tsx', 'bff.ts'], example, {
    BFF_PORT: String(bffPort),
    APP_ORIGIN: appUrl,
    OIDC_ISSUER: idpUrl,
    LATCHKEY_COOKIE_SECRET: randomBytes(32).toString('base64'),
  });
  const preview = start('vite', [vite, 'preview'], example, { PORT: String(appPort), BFF_URL: bffUrl });
  await waitFor(`${idpUrl}/.well-known/openid-configuration`, idp, 'the dev provider');
  await waitFor(`${bffUrl}/api/auth/session`, bff, 'the BFF');
  await waitFor(`${appUrl}/api/auth/session`, preview, 'vite preview');
});

test.afterAll(async () => {
  await Promise.all(children.map(stop));
});

test('signs in as alice through Vite to the separate BFF and shows the first authed query', async ({ page }) => {
  const origins = new Set<string>();
  page.on('request', (request) => void origins.add(new URL(request.url()).origin));
  await signIn(page, appUrl, 'alice');
  await expect(page.getByTestId('user-name')).toHaveText('Alice Liddell');
  await expect(page.getByTestId('notes')).toContainText('Follow the white rabbit');
  // Pages and /api from Vite, the login form from the provider; never the BFF's own address.
  expect([...origins].sort()).toEqual([appUrl, idpUrl].sort());
});

test('keeps the session cookie on the Vite origin: __Host-, HttpOnly, Secure, SameSite=Strict', async ({ page, context }) => {
  await signIn(page, appUrl, 'bob');
  await expect(page.getByTestId('notes')).toContainText('Fix the roof');
  const session = (await context.cookies(appUrl)).find((c) => c.name === '__Host-latchkey');
  expect(session).toMatchObject({ domain: 'localhost', path: '/', httpOnly: true, secure: true, sameSite: 'Strict' });
  await page.reload();
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
  await expect(page.getByTestId('notes')).toContainText('Fix the roof');
});

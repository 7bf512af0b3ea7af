// @ts-check
/**
 * Where the soak finds the workspace's packages, and a build of @latchkey/bff that is no older
 * than its sources. The soak runs the BFF from dist/, as users install it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo's root folder. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `require` as seen from a workspace package, for the CommonJS-capable dependencies the
 * orchestrator needs (node-redis, iron-session) without declaring them at the root.
 */
export const requireFromBff = createRequire(join(ROOT, 'packages/bff/package.json'));

/** The newest modification time (ms) of the non-test .ts sources under `dir`, 0 when none. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test') newest = Math.max(newest, newestSource(path));
    } else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/**
 * Whether packages/<folder>/dist is missing or older than the sources of that package or core.
 * @param {string} folder e.g. `bff`, `resource`
 */
export function packageBuildIsStale(folder) {
  let built;
  try {
    built = statSync(join(ROOT, `packages/${folder}/dist/index.js`)).mtimeMs;
  } catch {
    return true;
  }
  const sources = Math.max(newestSource(join(ROOT, `packages/${folder}/src`)), newestSource(join(ROOT, 'packages/core/src')));
  return sources > built;
}

/**
 * Builds @latchkey/<folder> and what it depends on with turbo; throws with turbo's output when that fails.
 * @param {string} folder e.g. `bff`, `resource`
 * @param {string} [hint] what to say the caller can do instead
 */
export function buildPackage(folder, hint = '') {
  const result = spawnSync('pnpm', ['-s', 'turbo', 'run', 'build', `--filter=@latchkey/${folder}...`, '--output-logs=errors-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`building @latchkey/${folder} failed (exit ${result.status})${hint}:\n${output}`);
  }
}

/** Whether packages/bff/dist is missing or older than the sources of bff or core. */
export const bffBuildIsStale = () => packageBuildIsStale('bff');

/** Builds @latchkey/bff and what it depends on with turbo. */
export const buildBff = () => buildPackage('bff', '; run with --no-build to soak the existing dist/');

/**
 * The dev provider's demo client (`DEMO_CLIENT_ID`, `DEMO_CLIENT_SECRET` of @latchkey/idp),
 * read through tsx as apps/idp runs, since that package ships TypeScript sources only.
 * @returns {{ id: string, secret: string }}
 */
export function demoClient() {
  const program = "const m = await import('@latchkey/idp'); console.log(JSON.stringify({ id: m.DEMO_CLIENT_ID, secret: m.DEMO_CLIENT_SECRET }))";
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    cwd: join(ROOT, 'apps/idp'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  if (result.status !== 0 || !line) throw new Error(`could not read the demo client from @latchkey/idp: ${result.stderr.slice(-500)}`);
  return JSON.parse(line);
}

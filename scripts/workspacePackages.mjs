// @ts-check
/**
 * The workspace's packages as users get them: the list of workspaces, a build of the
 * publishable ones, and `pnpm pack` (which applies publishConfig and turns `workspace:*` into
 * versions). Shared by check:packages and the fresh-app test, so both try the same tarballs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** @typedef {{ dir: string, manifest: Record<string, any> }} Workspace */

const readJson = (/** @type {string} */ file) => JSON.parse(readFileSync(file, 'utf8'));

/** Runs a command; returns whether it exited 0 and its combined output. */
export function run(/** @type {string} */ command, /** @type {string[]} */ args, cwd = ROOT) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/** Every workspace (packages/*, apps/*, e2e) with its package.json. */
export function workspaces() {
  return /** @type {Workspace[]} */ (
    [...['packages', 'apps'].flatMap((dir) => readdirSync(join(ROOT, dir)).map((name) => join(ROOT, dir, name))), join(ROOT, 'e2e')].flatMap((dir) => {
      try {
        return [{ dir, manifest: readJson(join(dir, 'package.json')) }];
      } catch {
        return [];
      }
    })
  );
}

/** The workspaces that are published: those not marked private. */
export function publishableWorkspaces() {
  return workspaces().filter((w) => !w.manifest.private);
}

/** Builds the given workspaces and what they depend on (turbo, so an unchanged package is not rebuilt). */
export function buildWorkspaces(/** @type {Workspace[]} */ list) {
  return run('pnpm', ['-s', 'turbo', 'run', 'build', '--output-logs=errors-only', ...list.map((w) => `--filter=${w.manifest.name}`)]);
}

/**
 * Packs one workspace into `destination` with `pnpm pack`; on success also answers the
 * tarball's path and the files it holds.
 */
export function packWorkspace(/** @type {string} */ dir, /** @type {string} */ destination) {
  const packed = run('pnpm', ['pack', '--json', '--pack-destination', destination], dir);
  if (!packed.ok) return { ok: false, output: packed.output, filename: '', files: /** @type {string[]} */ ([]) };
  const { filename, files } = JSON.parse(packed.output);
  const paths = /** @type {string[]} */ (files.map((/** @type {{ path: string }} */ f) => f.path));
  return { ok: true, output: packed.output, filename: /** @type {string} */ (filename), files: paths };
}

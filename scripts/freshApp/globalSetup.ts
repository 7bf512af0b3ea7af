import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorkspaces, packWorkspace, publishableWorkspaces } from '../workspacePackages.mjs';

/**
 * Builds the publishable packages and packs each with `pnpm pack`, as check:packages does, into
 * a temp folder that also holds the run's apps and is removed when the run ends (kept with
 * LATCHKEY_FRESH_APP_KEEP=1). The tests find it in LATCHKEY_FRESH_APP_WORK and the tarballs in
 * LATCHKEY_FRESH_APP_TARBALLS (a JSON array of paths).
 */
export default function globalSetup() {
  const packages = publishableWorkspaces();
  const expected = ['@latchkey/bff', '@latchkey/client', '@latchkey/core', '@latchkey/react', '@latchkey/resource'];
  const names = packages.map((w) => w.manifest.name as string).sort();
  if (names.join() !== expected.join()) throw new Error(`expected to pack ${expected.join(', ')}; the publishable workspaces are ${names.join(', ')}`);
  const build = buildWorkspaces(packages);
  if (!build.ok) throw new Error(`building the packages failed:\n${build.output}`);
  const work = mkdtempSync(join(tmpdir(), 'latchkey-fresh-app-'));
  const teardown = () => {
    if (process.env.LATCHKEY_FRESH_APP_KEEP) console.log(`fresh-app: the apps are kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(work, 'tarballs'));
    const tarballs = packages.map(({ dir, manifest }) => {
      const packed = packWorkspace(dir, join(work, 'tarballs'));
      if (!packed.ok) throw new Error(`pnpm pack of ${manifest.name} failed:\n${packed.output}`);
      return packed.filename;
    });
    process.env.LATCHKEY_FRESH_APP_WORK = work;
    process.env.LATCHKEY_FRESH_APP_TARBALLS = JSON.stringify(tarballs);
  } catch (error) {
    teardown();
    throw error;
  }
  return teardown;
}

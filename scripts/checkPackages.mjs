// @ts-check
/**
 * pnpm check:packages — checks every publishable package the way users get it: builds the
 * packages, packs each with `pnpm pack` (which applies publishConfig), and runs publint and
 * Are the Types Wrong? on the tarball, then our own rules for what may ship: the LICENSE, no
 * test files or harness, no private workspace package named anywhere in the manifest, exports
 * with `types` first and the same targets as in the workspace, and 'use client' on modules that
 * use React's client APIs. Runs offline. Exits 1 on any problem.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, buildWorkspaces, packWorkspace, run, workspaces as listWorkspaces } from './workspacePackages.mjs';

const BIN = join(ROOT, 'node_modules/.bin');
const readJson = (/** @type {string} */ file) => JSON.parse(readFileSync(file, 'utf8'));

const workspaces = listWorkspaces();
const privateNames = new Set(workspaces.filter((w) => w.manifest.private).map((w) => w.manifest.name));
const publishable = workspaces.filter((w) => !w.manifest.private);
const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');

const build = buildWorkspaces(publishable);
if (!build.ok) {
  console.error(build.output);
  console.error('check:packages: the build failed');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
let failed = 0;
try {
  for (const { dir, manifest } of publishable) {
    const problems = /** @type {string[]} */ ([]);
    const packed = packWorkspace(dir, work);
    if (!packed.ok) {
      console.error(packed.output);
      problems.push('pnpm pack failed');
    } else {
      const { filename, files: paths } = packed;
      const unpacked = join(work, manifest.name.replace('/', '+'));
      mkdirSync(unpacked);
      run('tar', ['-xzf', filename, '-C', unpacked]);
      const shipped = readJson(join(unpacked, 'package/package.json'));

      if (!paths.includes('LICENSE')) problems.push('no LICENSE in the tarball');
      else if (readFileSync(join(unpacked, 'package/LICENSE'), 'utf8') !== license) problems.push('LICENSE differs from the root LICENSE (copy it again)');
      // Tests and the harness need the private dev provider and must not reach users.
      const testFiles = paths.filter((p) => /(^|\/)test\/|\.test\.[cm]?[jt]sx?$|\.tsbuildinfo$/.test(p));
      if (testFiles.length) problems.push(`test files in the tarball: ${testFiles.join(', ')}`);
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const name of Object.keys(shipped[field] ?? {})) {
          if (privateNames.has(name)) problems.push(`${field} names the private package ${name}`);
        }
      }
      // The workspace's exports put "source" first so its tools read src/; users get types first.
      for (const [entry, conditions] of Object.entries(shipped.exports ?? {})) {
        const keys = Object.keys(conditions);
        if (keys[0] !== 'types') problems.push(`exports["${entry}"] does not list "types" first`);
        if (keys.includes('source')) problems.push(`exports["${entry}"] still has the workspace-only "source" condition`);
        const { source, ...expected } = manifest.exports?.[entry] ?? {};
        if (JSON.stringify(Object.entries(conditions).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
          problems.push(`publishConfig.exports["${entry}"] and exports["${entry}"] point to different files`);
        }
      }
      if (Object.keys(shipped.exports ?? {}).sort().join() !== Object.keys(manifest.exports ?? {}).sort().join()) {
        problems.push('publishConfig.exports and exports list different entry points');
      }
      // Next.js runs a server layout's imports on the server: a module that takes hooks or
      // createContext from React must mark itself 'use client', or importing the package fails.
      for (const path of paths.filter((p) => p.endsWith('.js'))) {
        const code = readFileSync(join(unpacked, 'package', path), 'utf8');
        if (/^import \{[^}]*\} from ['"]react['"]/m.test(code) && !/^['"]use client['"]/.test(code)) {
          problems.push(`${path} imports from react but does not start with 'use client'`);
        }
      }

      const publint = run(join(BIN, 'publint'), ['run', filename, '--strict']);
      if (!publint.ok) problems.push(`publint:\n${publint.output}`);
      // ESM only by design: the esm-only profile leaves out node10 and require() from CommonJS.
      const attw = run(join(BIN, 'attw'), [filename, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'table-flipped', '--no-emoji', '--no-color']);
      if (!attw.ok) problems.push(`attw:\n${attw.output}`);

      console.log(`${problems.length ? 'FAIL' : 'ok  '} ${manifest.name}@${manifest.version}: ${paths.length} files, publint and attw (esm-only) ${publint.ok && attw.ok ? 'clean' : 'with problems'}`);
    }
    for (const problem of problems) console.log(`     - ${problem.replaceAll('\n', '\n       ')}`);
    if (problems.length) failed++;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(failed ? `check:packages: ${failed} of ${publishable.length} packages have problems` : `check:packages: ${publishable.length} packages clean`);
process.exit(failed ? 1 : 0);

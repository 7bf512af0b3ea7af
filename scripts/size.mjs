// Measures what @latchkey/react (with @latchkey/client and @latchkey/core) adds to an app:
// one esbuild bundle of the package sources, minified, with react, react-dom and
// @tanstack/react-query external, then gzip at level 9. Exits 1 over the budget. The opt-in
// entries (proxy mode, DPoP) are printed as what they add to that bundle when an app imports them.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BUDGET = 4500;
const root = fileURLToPath(new URL('..', import.meta.url));

// 'use client' only marks a module as a client boundary for React Server Components; an app's
// bundler drops it. Left in, esbuild would keep it at an entry and let it shift minified names,
// so a directive would move the figure without adding a byte the app ships.
const withoutDirectives = {
  name: 'without-directives',
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.tsx?$/ }, async ({ path }) => ({
      contents: (await readFile(path, 'utf8')).replace(/^(['"])use client\1;?/, ''),
      loader: path.endsWith('.tsx') ? 'tsx' : 'ts',
    }));
  },
};

async function measure(entry, label, base = 0) {
  const result = await build({
    // Several entries are bundled as one module that re-exports them all.
    stdin: { contents: [entry].flat().map((e) => `export * from './${e}';`).join('\n'), resolveDir: root, loader: 'ts' },
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    external: ['react', 'react-dom', 'react/jsx-runtime', '@tanstack/react-query'],
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'error',
    plugins: [withoutDirectives],
  });
  const code = result.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  if (base) console.log(`${label}: +${gz - base} B min+gzip`);
  else console.log(`${label}: ${code.length} B min, ${gz} B min+gzip`);
  return gz;
}

const mainEntry = 'packages/react/src/index.ts';
const main = await measure(mainEntry, '@latchkey/react + client + core');
await measure('packages/react/src/devtools/index.ts', '@latchkey/react/devtools (only when imported)').catch(() => {});
for (const [entry, label] of [
  ['packages/react/src/proxy/index.ts', '@latchkey/react/proxy, proxy mode (only when imported)'],
  ['packages/react/src/dpop/index.ts', '@latchkey/react/dpop, DPoP (only when imported)'],
]) {
  if (existsSync(`${root}${entry}`)) await measure([mainEntry, entry], label, main);
}
console.log(`budget: ${main} / ${BUDGET} B min+gzip (${main <= BUDGET ? 'within' : 'OVER'})`);
if (main > BUDGET) process.exit(1);

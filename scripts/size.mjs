// Measures what @latchkey/react (with @latchkey/client and @latchkey/core) adds to an app:
// one esbuild bundle of the package sources, minified, with react, react-dom and
// @tanstack/react-query external, then gzip at level 9. Exits 1 over the budget.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BUDGET = 5060;
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

async function measure(entry, label) {
  const result = await build({
    entryPoints: [entry],
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
  console.log(`${label}: ${code.length} B min, ${gz} B min+gzip`);
  return gz;
}

const main = await measure('packages/react/src/index.ts', '@latchkey/react + client + core');
await measure('packages/react/src/devtools/index.ts', '@latchkey/react/devtools (only when imported)').catch(() => {});
console.log(`budget: ${main} / ${BUDGET} B min+gzip (${main <= BUDGET ? 'within' : 'OVER'})`);
if (main > BUDGET) process.exit(1);

// Measures what @latchkey/react (with @latchkey/client and @latchkey/core) adds to an app:
// one esbuild bundle of the package sources, minified, with react, react-dom and
// @tanstack/react-query external, then gzip at level 9. Exits 1 over the budget.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BUDGET = 5120;
const root = fileURLToPath(new URL('..', import.meta.url));

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

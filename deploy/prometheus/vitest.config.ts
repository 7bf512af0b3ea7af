import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The alert rules' tests run in their own stage of scripts/test.sh ("alert rules (promtool)"),
// outside the packages' projects: pnpm vitest run --config deploy/prometheus/vitest.config.ts
// The root stays the repository's, so --outputFile and the cache land where the other suites' do.
export default defineConfig({
  test: { root: fileURLToPath(new URL('../..', import.meta.url)), include: ['deploy/prometheus/alerts.test.ts'], environment: 'node' },
});

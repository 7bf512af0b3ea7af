import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from '../../e2e/chromium';

/**
 * The fresh-app test (pnpm test:fresh-app): brand-new create-next-app apps made from the
 * README's "Use it in your app" alone, with the packages as packed for publishing, built
 * with no secrets and signed in to with Debian's Chromium (never a downloaded browser).
 * Variants run one after the other: each `next build` wants both cores.
 */
export default defineConfig({
  testDir: '.',
  testMatch: 'freshApp.spec.ts',
  globalSetup: './globalSetup.ts',
  timeout: 120_000,
  expect: { timeout: 20_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // The JSON report feeds scripts/summary.mjs, which prints the closing "N passed, M failed".
  reporter: [['list'], ['json', { outputFile: '../../test-results/fresh-app.json' }]],
  outputDir: '../../test-results/fresh-app/playwright',
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: chromiumLaunchOptions,
  },
});

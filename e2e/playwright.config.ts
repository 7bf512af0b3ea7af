import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './chromium';

/**
 * End-to-end tests in Debian's Chromium (never a downloaded browser). Each test file starts
 * its own dev provider and demo on free ports (see stack.ts), so files can pick their own
 * token lifetimes.
 */
export default defineConfig({
  testDir: './tests',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  // The JSON report feeds scripts/summary.mjs, which prints the closing "N passed, M failed".
  reporter: [['list'], ['json', { outputFile: '../test-results/e2e.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: chromiumLaunchOptions,
  },
});

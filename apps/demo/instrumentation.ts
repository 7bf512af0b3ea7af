/**
 * Runs once when the server starts (not during `next build`): a production server without
 * its cookie secret stops here, with one line saying how to make one, instead of serving, and so
 * does a server given a LATCHKEY_MODE or LATCHKEY_DEMO_TEST_HOOKS it does not know.
 * With METRICS_BEARER_TOKEN set, it also installs the OpenTelemetry metrics SDK before the
 * first request, so the BFF's meter is a real one (lib/metrics.ts).
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { modeFromEnv, requireCookieSecret, testHooksFromEnv } = await import('./lib/config');
  try {
    requireCookieSecret();
    modeFromEnv();
    testHooksFromEnv();
  } catch (error) {
    console.error(`[demo] ${(error as Error).message}`);
    process.exit(1);
  }
  const { installMetrics } = await import('./lib/metrics');
  try {
    installMetrics();
  } catch (error) {
    console.error(`[demo] metrics: ${(error as Error).message}`);
    process.exit(1);
  }
}

/**
 * Runs once when the server starts (not during `next build`): a production server without
 * its cookie secret stops here, with one line saying how to make one, instead of serving.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { requireCookieSecret } = await import('./lib/config');
  try {
    requireCookieSecret();
  } catch (error) {
    console.error(`[demo] ${(error as Error).message}`);
    process.exit(1);
  }
}

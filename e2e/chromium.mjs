// @ts-check
/**
 * How every browser test and benchmark launches Chromium: Debian's `/usr/bin/chromium`, never a
 * downloaded browser. Plain JavaScript, so the benchmark scripts (`scripts/bench`) load it too.
 */
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { freePort } from '../stack';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// The demo's embedded cookie secret is public: under `next start` it would let anyone seal a
// session cookie. Without LATCHKEY_COOKIE_SECRET the built demo must refuse to start, and say how to fix it.
test('next start without LATCHKEY_COOKIE_SECRET refuses to start and says how to make one', async () => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NEXT_TELEMETRY_DISABLED: '1', OIDC_ISSUER: 'http://127.0.0.1:9' };
  delete env.LATCHKEY_COOKIE_SECRET;
  const child = spawn(
    process.execPath,
    [resolve(root, 'apps/demo/node_modules/next/dist/bin/next'), 'start', '--port', String(port), '--hostname', 'localhost'],
    { cwd: resolve(root, 'apps/demo'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    const code = await Promise.race([exited, new Promise<'still running'>((done) => setTimeout(() => done('still running'), 60_000))]);
    expect(code).toBe(1);
    expect(output).toContain('LATCHKEY_COOKIE_SECRET is not set. Make one with: openssl rand -base64 32');
    // Nothing was served meanwhile.
    expect(await fetch(`http://localhost:${port}/api/auth/session`).then((r) => r.status, () => 0)).toBe(0);
  } finally {
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  }
});

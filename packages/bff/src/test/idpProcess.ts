import { spawn } from 'node:child_process';
import { freePort } from './freePort.js';
import { fileURLToPath } from 'node:url';
import type { IdpStats } from '@latchkey/idp';

/** The dev provider in its own process, so tests can hang it (SIGSTOP) or take it down. */
export interface IdpProcess {
  issuer: string;
  stats(): Promise<IdpStats>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Starts `apps/idp` with `node --import tsx` on a free port and waits for its discovery document. */
export async function startIdpProcess(options: { appOrigin: string; accessTokenTtl?: number }): Promise<IdpProcess> {
  const idpDir = fileURLToPath(new URL('../../../../apps/idp', import.meta.url));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: idpDir,
    env: { ...process.env, IDP_PORT: String(port), IDP_APP_ORIGINS: options.appOrigin, ACCESS_TOKEN_TTL: String(options.accessTokenTtl ?? 300) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
  const issuer = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the dev provider exited (${child.exitCode}): ${stderr.slice(-500)}`);
    try {
      if ((await fetch(`${issuer}/.well-known/openid-configuration`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the dev provider did not start: ${stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    issuer,
    stats: async () => (await fetch(`${issuer}/__dev/stats`)).json() as Promise<IdpStats>,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    close: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }),
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Stack {
  appUrl: string;
  idpUrl: string;
  idpProcess: ChildProcess;
  stats(): Promise<{ grants: { authorization_code: number; refresh_token: number }; revoked: number; reuseDetected: number }>;
  stop(): Promise<void>;
}

export interface StackOptions {
  accessTokenTtl?: number;
  appEnv?: Record<string, string>;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitFor(url: string, child: ChildProcess, name: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not answer at ${url} within ${timeoutMs} ms`);
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = (chunk: Buffer) => {
    if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
  };
  child.stdout?.on('data', log);
  child.stderr?.on('data', log);
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    try {
      process.kill(-child.pid!, 'SIGCONT');
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      done();
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000).unref();
  });
}

/**
 * Starts the dev provider and the built demo (`next start`) on free ports and waits until
 * both answer. The demo must have been built (`pnpm build`).
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const [idpPort, appPort] = [await freePort(), await freePort()];
  const appUrl = `http://localhost:${appPort}`;
  const idpUrl = `http://127.0.0.1:${idpPort}`;
  const idp = run(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    resolve(root, 'apps/idp'),
    { IDP_PORT: String(idpPort), ACCESS_TOKEN_TTL: String(options.accessTokenTtl ?? 300), IDP_APP_ORIGINS: appUrl },
    'idp',
  );
  const app = run(
    process.execPath,
    [resolve(root, 'apps/demo/node_modules/next/dist/bin/next'), 'start', '--port', String(appPort), '--hostname', 'localhost'],
    resolve(root, 'apps/demo'),
    { PORT: String(appPort), OIDC_ISSUER: idpUrl, NEXT_TELEMETRY_DISABLED: '1', ...options.appEnv },
    'demo',
  );
  const stop = async () => {
    await Promise.all([kill(app), kill(idp)]);
  };
  try {
    await waitFor(`${idpUrl}/.well-known/openid-configuration`, idp, 'dev provider');
    await waitFor(`${appUrl}/api/auth/session`, app, 'demo');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    appUrl,
    idpUrl,
    idpProcess: idp,
    stats: async () => (await fetch(`${idpUrl}/__dev/stats`)).json(),
    stop,
  };
}

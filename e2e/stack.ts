import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Stack {
  appUrl: string;
  /** Every demo instance's URL (the first is `appUrl`). */
  appUrls: string[];
  idpUrl: string;
  idpProcess: ChildProcess;
  stats(): Promise<{ grants: { authorization_code: number; refresh_token: number }; revoked: number; reuseDetected: number }>;
  stop(): Promise<void>;
}

export interface StackOptions {
  accessTokenTtl?: number;
  /** Extra environment of every demo instance (it may override the stack's LATCHKEY_COOKIE_SECRET). */
  appEnv?: Record<string, string>;
  /** Ports of the demo instances (default: one on a free port). */
  appPorts?: number[];
  /** Start a redis-server and point every demo instance at it (REDIS_URL). */
  redis?: boolean;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` different free TCP ports on loopback. All are held open until the last is found: one
 * closed and asked for again may come back the same (it did, and two servers then raced for it).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolveServer, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolveServer(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

/** Waits until `url` answers below 500, failing early when `child` exits. */
export async function waitFor(url: string, child: ChildProcess, name: string, timeoutMs = 60_000) {
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

/** Starts a process in its own group; its output shows with E2E_VERBOSE=1. */
export function run(command: string, args: string[], cwd: string, env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // A missing binary is reported and then seen as a process that never listens.
  child.once('error', (error) => process.stderr.write(`[${name}] could not start: ${error.message}\n`));
  const log = (chunk: Buffer) => {
    if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
  };
  child.stdout?.on('data', log);
  child.stderr?.on('data', log);
  return child;
}

/** Stops a process started with {@link run} and everything it started (SIGTERM, then SIGKILL). */
export function kill(child: ChildProcess): Promise<void> {
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
  const ports = await freePorts(3);
  const [idpPort, redisPort] = [ports[0]!, ports[2]!];
  const appPorts = options.appPorts ?? [ports[1]!];
  const appUrls = appPorts.map((port) => `http://localhost:${port}`);
  const idpUrl = `http://127.0.0.1:${idpPort}`;
  // `next start` refuses to run without a cookie secret; one random secret per stack, shared by
  // its instances because they open each other's session cookies.
  const cookieSecret = randomBytes(32).toString('base64');
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
  };
  try {
    let redisUrl: string | undefined;
    if (options.redis) {
      const redis = run('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], root, {}, 'redis');
      children.push(redis);
      redisUrl = `redis://127.0.0.1:${redisPort}`;
      await waitForPort(redisPort, redis, 'redis-server');
    }
    const idp = run(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts'],
      resolve(root, 'apps/idp'),
      { IDP_PORT: String(idpPort), ACCESS_TOKEN_TTL: String(options.accessTokenTtl ?? 300), IDP_APP_ORIGINS: appUrls.join(',') },
      'idp',
    );
    children.push(idp);
    const apps = appPorts.map((port, i) => {
      const app = run(
        process.execPath,
        [resolve(root, 'apps/demo/node_modules/next/dist/bin/next'), 'start', '--port', String(port), '--hostname', 'localhost'],
        resolve(root, 'apps/demo'),
        {
          PORT: String(port),
          OIDC_ISSUER: idpUrl,
          NEXT_TELEMETRY_DISABLED: '1',
          LATCHKEY_COOKIE_SECRET: cookieSecret,
          ...(redisUrl && { REDIS_URL: redisUrl }),
          ...options.appEnv,
        },
        `demo:${port}`,
      );
      children.push(app);
      return { app, url: appUrls[i]! };
    });
    await waitFor(`${idpUrl}/.well-known/openid-configuration`, idp, 'dev provider');
    for (const { app, url } of apps) await waitFor(`${url}/api/auth/session`, app, `demo on ${url}`);
    return {
      appUrl: appUrls[0]!,
      appUrls,
      idpUrl,
      idpProcess: idp,
      stats: async () => (await fetch(`${idpUrl}/__dev/stats`)).json(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until something accepts TCP connections on the port. */
async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 15_000) {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; is it installed? (npm test installs it)`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms`);
}

// @ts-check
/**
 * The soak's processes — redis-server, the dev provider, BFF instances — each in its own
 * process group on a free 127.0.0.1 port, so a fault (SIGSTOP/SIGCONT) or a cleanup reaches
 * the whole group. Every child is registered in {@link Children} and stopped by it on exit.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, requireFromBff } from './workspace.mjs';

/** A TCP port on loopback that nothing listens on right now. */
export async function freePort() {
  return (await freePorts(1))[0];
}

/**
 * `count` different free ports on loopback, all held open until the last is found: a port
 * closed and asked for again may come back the same, and two servers then race for it.
 * @param {number} count
 * @returns {Promise<number[]>}
 */
export async function freePorts(count) {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a signal to a child's whole process group; a group that is gone already is fine. */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already exited
  }
}

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} process
 * @property {Promise<void>} exited resolves when the process has exited
 * @property {() => boolean} running
 * @property {() => string} stderrTail the last lines the child wrote to stderr
 * @property {() => void} pause SIGSTOP to the group
 * @property {() => void} resume SIGCONT to the group
 * @property {(signal?: NodeJS.Signals, graceMs?: number) => Promise<void>} stop signal, then SIGKILL after graceMs
 */

/** The registry of every child the soak started; `stopAll()` and `killAllNow()` end them. */
export class Children {
  /** @type {Set<Child>} */
  #all = new Set();
  #runDir;
  /** Set once cleanup began: exits from then on are expected. */
  stopping = false;

  /** @param {string} runDir where each child's output is logged, one file per name */
  constructor(runDir) {
    this.#runDir = runDir;
  }

  /**
   * Spawns a child in its own process group, logging its output to `<runDir>/<name>.log`.
   * @param {string} name
   * @param {string} command
   * @param {string[]} args
   * @param {{ cwd?: string, env?: Record<string, string>, ipc?: boolean, onLine?: (line: string) => void }} [options]
   * @returns {Child}
   */
  spawn(name, command, args, options = {}) {
    const log = createWriteStream(join(this.#runDir, `${name}.log`), { flags: 'a' });
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? /** @type {const} */ (['ipc']) : [])],
    });
    const exited = new Promise((resolve) => {
      child.once('exit', () => resolve(undefined));
      child.once('error', (error) => {
        log.write(`[soak] could not start ${command}: ${error.message}\n`);
        resolve(undefined);
      });
    });
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        log.write(`${line}\n`);
        options.onLine?.(line);
      });
    }
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      log.write(chunk);
      stderr = (stderr + chunk).slice(-1500);
    });
    void exited.then(() => {
      log.end();
      this.#all.delete(handle);
    });
    const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
    /** @type {Child} */
    const handle = {
      name,
      process: child,
      exited,
      running,
      stderrTail: () => stderr.trim(),
      pause: () => child.pid && signalGroup(child.pid, 'SIGSTOP'),
      resume: () => child.pid && signalGroup(child.pid, 'SIGCONT'),
      stop: async (signal = 'SIGTERM', graceMs = 3000) => {
        if (!running() || !child.pid) return;
        signalGroup(child.pid, 'SIGCONT');
        signalGroup(child.pid, signal);
        const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
        if (!killed) {
          signalGroup(child.pid, 'SIGKILL');
          await exited;
        }
      },
    };
    this.#all.add(handle);
    return handle;
  }

  /** Stops every child: SIGCONT + SIGTERM, SIGKILL after a short grace. */
  async stopAll() {
    this.stopping = true;
    await Promise.all([...this.#all].map((child) => child.stop('SIGTERM', 3000)));
  }

  /** Last resort on process exit (synchronous): SIGCONT + SIGKILL to every group. */
  killAllNow() {
    this.stopping = true;
    for (const child of this.#all) {
      const pid = child.process.pid;
      if (pid && child.running()) {
        signalGroup(pid, 'SIGCONT');
        signalGroup(pid, 'SIGKILL');
      }
    }
  }
}

/** Polls `probe` every 100 ms until it resolves truthy; fails after `ms` or when the child exits. */
async function waitFor(child, what, probe, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!child.running()) {
      // Let the last of its output arrive.
      await sleep(100);
      throw new Error(`${child.name} exited before ${what}:\n${child.stderrTail()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${what} within ${ms / 1000} s (see its log)`);
    await sleep(100);
  }
}

/**
 * Starts a real redis-server without persistence and answers it with a connected client for
 * the orchestrator's own figures (INFO memory).
 * @param {Children} children
 */
export async function startRedis(children) {
  const port = await freePort();
  const child = children.spawn('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const url = `redis://127.0.0.1:${port}`;
  const { createClient } = requireFromBff('redis');
  const client = createClient({ url });
  client.on('error', () => {});
  await waitFor(child, 'Redis answering PING', async () => {
    if (!client.isOpen) await client.connect();
    return (await client.ping()) === 'PONG';
  }, 10_000);
  return {
    url,
    child,
    /** Redis's own figure of the memory it uses, in bytes. */
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
    },
    async keys() {
      return Number(await client.dbSize());
    },
    async close() {
      await client.quit().catch(() => {});
      await child.stop();
    },
  };
}

/**
 * Starts the dev provider (apps/idp) in its own process, as the BFF's integration tests do,
 * and waits for its discovery document.
 * @param {Children} children
 * @param {{ appOrigin: string, accessTokenTtl: number }} options
 */
export async function startIdp(children, options) {
  const port = await freePort();
  const child = children.spawn('idp', process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: join(ROOT, 'apps/idp'),
    env: { IDP_PORT: String(port), IDP_APP_ORIGINS: options.appOrigin, ACCESS_TOKEN_TTL: String(options.accessTokenTtl) },
  });
  const issuer = `http://127.0.0.1:${port}`;
  await waitFor(child, 'discovery document', async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).ok, 30_000);
  return {
    issuer,
    child,
    /**
     * The provider's counters from `GET /__dev/stats`, or undefined when it does not answer in
     * time (it may be hung on purpose).
     * @returns {Promise<{ grants: { authorization_code: number, refresh_token: number }, revoked: number, reuseDetected: number } | undefined>}
     */
    async stats(timeoutMs = 2000) {
      try {
        const response = await fetch(`${issuer}/__dev/stats`, { signal: AbortSignal.timeout(timeoutMs) });
        return response.ok ? await response.json() : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Starts one BFF instance (bffServer.mjs) on `port` and resolves once it listens.
 * @param {Children} children
 * @param {{ name: string, port: number, env: Record<string, string>, onEvent: (event: Record<string, unknown>, instance: string) => void }} options
 */
export async function startBff(children, { name, port, env, onEvent }) {
  const script = join(ROOT, 'scripts/soak/bffServer.mjs');
  const child = children.spawn(name, process.execPath, ['--expose-gc', '--experimental-import-meta-resolve', '--disable-warning=ExperimentalWarning', script], {
    env: { ...env, SOAK_NAME: name, SOAK_PORT: String(port), SOAK_ROOT: ROOT },
    ipc: true,
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      try {
        onEvent(JSON.parse(line), name);
      } catch {
        // not an event line
      }
    },
  });
  const ready = new Promise((resolve) => child.process.on('message', (/** @type {any} */ message) => message?.type === 'ready' && resolve(true)));
  let up = false;
  void ready.then(() => (up = true));
  await waitFor(child, 'listening', async () => up, 30_000);
  return { name, port, url: `http://127.0.0.1:${port}`, child };
}

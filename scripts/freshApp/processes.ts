import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The environment of a newcomer's shell: this process's, without what the test runners add
 * (pnpm's npm_* settings and user agent, the repository's node_modules/.bin on PATH,
 * NODE_OPTIONS, NODE_ENV) and without any of the app's settings (OIDC_*, LATCHKEY_*,
 * APP_ORIGIN, REDIS_URL), plus `extra`. Registry and proxy settings are kept.
 */
export function newcomerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(npm|pnpm)_/i.test(key) && !/^npm_config_(registry|.*proxy|cafile|ca|strict_ssl|@.*:registry)$/i.test(key)) continue;
    if (/^(OIDC_|LATCHKEY_|APP_ORIGIN$|REDIS_URL$|NODE_OPTIONS$|NODE_ENV$|INIT_CWD$|TURBO_|NEXT_|__NEXT|VERCEL|FORCE_COLOR$)/.test(key)) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir && isAbsolute(dir) && !resolve(dir).startsWith(ROOT))
    .join(':');
  // No colours: the output goes to log files and failure messages.
  return { ...env, NEXT_TELEMETRY_DISABLED: '1', NO_COLOR: '1', ...extra };
}

const running = new Set<ChildProcess>();
// A worker that dies between tests still takes its servers with it.
process.once('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a command in its own process group (so stopping it stops what it started), with
 * its output appended to `logFile` and kept in memory for failure messages.
 */
export function start(command: string, args: string[], options: { cwd: string; env: Record<string, string>; logFile: string }) {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  log.write(`$ ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
    log.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number>((done) => {
    child.once('error', (error) => {
      output += `could not start ${command}: ${error.message}\n`;
      running.delete(child);
      done(127);
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      log.end();
      done(code ?? (signal ? 128 : 1));
    });
  });
  return {
    child,
    exited,
    output: () => output,
    /** Stops the process group: SIGTERM, then SIGKILL after 5 s. */
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export type Started = ReturnType<typeof start>;

/** Runs a command to its end (killing it after `timeoutMs`); answers its exit code and output. */
export async function exec(command: string, args: string[], options: { cwd: string; env: Record<string, string>; logFile: string; timeoutMs: number }) {
  const run = start(command, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void run.stop();
  }, options.timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  const output = run.output() + (timedOut ? `\n(killed after ${options.timeoutMs / 1000} s)\n` : '');
  return { ok: code === 0 && !timedOut, code, output };
}

/** The last `lines` lines of a command's output, for a failure message. */
export function tail(output: string, lines = 60): string {
  const all = output.trimEnd().split('\n');
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n');
}

/** Waits until `url` answers at all (any HTTP status; with `ok`, a 2xx), or fails with the process's output. */
export async function waitForHttp(url: string, server: Started, name: string, timeoutMs = 60_000, ok = false) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${name} exited with code ${server.child.exitCode} before it answered:\n${tail(server.output())}`);
    try {
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      if (!ok || response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not answer at ${url} within ${timeoutMs / 1000} s:\n${tail(server.output())}`);
}

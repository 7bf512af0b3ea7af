// @ts-check
/**
 * What the benchmark runs against: the built demo under `next start` (one instance on the memory
 * store, one on Redis), the dev provider and redis-server — all started through the soak's
 * process helpers, each in its own process group on a free 127.0.0.1 port — plus the CPU time of
 * a process tree, read from /proc.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../soak/workspace.mjs';

const DEMO = join(ROOT, 'apps/demo');
const NEXT_BIN = join(DEMO, 'node_modules/next/dist/bin/next');
/** Present in a build that has the bench's routes (baseline, heap); a build from before them must be redone. */
const BENCH_ROUTES_BUILT = ['bare', 'heap'].map((route) => join(DEMO, `.next/server/app/api/bench/${route}/route.js`));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The newest modification time (ms) under `path`, skipping dependencies, build output and tests. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return /\.test\.tsx?$|\.tsbuildinfo$/.test(path) ? 0 : stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (['node_modules', '.next', 'dist', 'test', '.turbo'].includes(entry)) continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** Whether apps/demo/.next is missing, lacks a bench route, or is older than the demo's or a package's sources. */
export function demoBuildIsStale() {
  if (!BENCH_ROUTES_BUILT.every((path) => existsSync(path))) return true;
  const built = statSync(join(DEMO, '.next/BUILD_ID')).mtimeMs;
  const packages = readdirSync(join(ROOT, 'packages')).map((name) => join(ROOT, 'packages', name, 'src'));
  return Math.max(newest(DEMO), ...packages.map(newest)) > built;
}

/** Builds the packages and the demo with turbo; throws with its last lines when that fails. */
export function buildAll() {
  const result = spawnSync('pnpm', ['-s', 'turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`the build failed (exit ${result.status}):\n${output}`);
  }
}

/**
 * @typedef {object} Demo
 * @property {string} name
 * @property {string} url where the bench sends requests (127.0.0.1)
 * @property {string} origin the demo's APP_ORIGIN (localhost), registered with the provider
 * @property {number} pid the `next start` process; its tree is what CPU figures count
 * @property {import('../soak/processes.mjs').Child} child
 */

/**
 * Starts the built demo with `next start` and waits until `/api/auth/session` answers.
 * @param {import('../soak/processes.mjs').Children} children
 * @param {{ name: string, port: number, env: Record<string, string>, nodeArgs?: string[] }} options `nodeArgs`: flags for Node itself (e.g. `--cpu-prof`, `--expose-gc`)
 * @returns {Promise<Demo>}
 */
export async function startDemo(children, { name, port, env, nodeArgs = [] }) {
  const origin = `http://localhost:${port}`;
  const child = children.spawn(name, process.execPath, [...nodeArgs, NEXT_BIN, 'start', '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: DEMO,
    env: { PORT: String(port), APP_ORIGIN: origin, NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!child.running()) {
      await sleep(100);
      throw new Error(`${name} exited before it answered:\n${child.stderrTail()}`);
    }
    try {
      if ((await fetch(`${url}/api/auth/session`)).status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer within 60 s (see its log)`);
    await sleep(200);
  }
  return { name, url, origin, pid: /** @type {number} */ (child.process.pid), child };
}

const CLOCK_TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(result.stdout?.trim()) || 100;
})();

/**
 * CPU time (user + system, ms) used so far by `pid` and every live descendant, from
 * /proc/<pid>/stat; `NaN` where /proc is missing (not Linux). `next start` may run its server in
 * a child process, hence the tree.
 * @param {number} pid
 */
export function treeCpuMs(pid) {
  if (!existsSync('/proc/self/stat')) return NaN;
  /** @type {Map<number, number[]>} */
  const childrenOf = new Map();
  /** @type {Map<number, number>} */
  const ticks = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name may hold spaces and parentheses: fields are counted from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const self = Number(entry);
    const parent = Number(fields[1]);
    ticks.set(self, Number(fields[11]) + Number(fields[12]));
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), self]);
  }
  let total = 0;
  const queue = [pid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    total += ticks.get(next) ?? 0;
    queue.push(...(childrenOf.get(next) ?? []));
  }
  return (total * 1000) / CLOCK_TICKS;
}

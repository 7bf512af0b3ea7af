import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { exec, newcomerEnv, ROOT, tail } from './processes.ts';
import { MODE_SNIPPETS } from './modeSnippets.ts';
import { readmeFiles } from './readmeFiles.ts';

/** One kind of brand-new app: what create-next-app is asked for, and what it must give. */
export interface Variant {
  id: string;
  /** The create-next-app release line: its newest version is used. */
  createNextApp: '15' | '16';
  /** Flags beyond the ones every variant gets (TypeScript, App Router, npm, `@/*`, no src/). */
  flags: string[];
  /** Whether next.config.ts must turn cacheComponents on (checked, so a changed default is seen). */
  cacheComponents: boolean;
}

export const VARIANTS: Variant[] = [
  // create-next-app 16.4 turns cacheComponents (and partialPrefetching) on by default.
  { id: 'next16', createNextApp: '16', flags: [], cacheComponents: true },
  { id: 'next16-no-cache-components', createNextApp: '16', flags: ['--no-cache-components'], cacheComponents: false },
  { id: 'next15', createNextApp: '15', flags: [], cacheComponents: false },
];

const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'latchkey', 'fresh-apps');
const APP_NAME = 'fresh-app';
export const LOGS = join(ROOT, 'test-results', 'fresh-app');

type Step = { ok: true } | { ok: false; message: string };

/** The newest create-next-app of a release line, from the registry; offline, the newest one cached. */
async function createNextAppVersion(variant: Variant, logFile: string): Promise<string> {
  const view = await exec('npm', ['view', `create-next-app@${variant.createNextApp}`, 'version', '--json'], { cwd: tmpdir(), env: newcomerEnv(), logFile, timeoutMs: 60_000 });
  // One version prints as a JSON string, several as an array.
  const versions = view.ok ? [...view.output.matchAll(/"(\d+)\.(\d+)\.(\d+)"/g)] : [];
  if (versions.length) {
    const newest = versions.map((m) => m.slice(1, 4).map(Number)).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!).at(-1)!;
    return newest.join('.');
  }
  const cached = existsSync(CACHE) ? readdirSync(CACHE).filter((name) => name.startsWith(`${variant.id}@`)) : [];
  if (!cached.length) throw new Error(`could not ask the registry for create-next-app@${variant.createNextApp}:\n${tail(view.output)}`);
  return cached.sort().at(-1)!.slice(variant.id.length + 1);
}

/**
 * The app create-next-app makes for the variant, with its dependencies installed, kept under
 * ~/.cache/latchkey/fresh-apps/<variant>@<version> so later runs skip creating and installing.
 * A newer create-next-app gets a new folder and the older ones of the variant are removed.
 */
async function templateApp(variant: Variant, logFile: string): Promise<{ dir: string; version: string }> {
  const version = await createNextAppVersion(variant, logFile);
  const key = `${variant.id}@${version}`;
  const done = join(CACHE, key);
  if (existsSync(join(done, APP_NAME, 'node_modules'))) return { dir: join(done, APP_NAME), version };
  mkdirSync(CACHE, { recursive: true });
  for (const old of readdirSync(CACHE).filter((name) => name.startsWith(`${variant.id}@`) && name !== key)) {
    rmSync(join(CACHE, old), { recursive: true, force: true });
  }
  const partial = mkdtempSync(join(CACHE, `${key}.partial-`));
  try {
    // Its own config folder: create-next-app remembers earlier answers there and --yes reuses them.
    const config = join(partial, 'config');
    mkdirSync(config);
    const args = ['-y', `create-next-app@${version}`, APP_NAME, '--yes', '--ts', '--app', '--no-src-dir', '--import-alias', '@/*', '--use-npm', '--disable-git', ...variant.flags];
    const created = await exec('npx', args, { cwd: partial, env: newcomerEnv({ XDG_CONFIG_HOME: config }), logFile, timeoutMs: 10 * 60_000 });
    if (!created.ok) throw new Error(`npx ${args.join(' ')} failed (exit ${created.code}):\n${tail(created.output)}`);
    rmSync(config, { recursive: true, force: true });
    try {
      renameSync(partial, done);
    } catch (error) {
      // Another run made the same template meanwhile: use theirs.
      if (!existsSync(join(done, APP_NAME, 'node_modules'))) throw error;
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return { dir: join(done, APP_NAME), version };
}

/** A variant's app under a temp folder, made from the README and built; `dir` stays for `next start`. */
export interface PreparedApp {
  variant: Variant;
  dir: string;
  createNextAppVersion: string;
  nextVersion: string;
  /** Seconds each step took, for the report: slow steps are what the cache is for. */
  seconds: Record<string, number>;
}

/**
 * Makes a brand-new app the way the README tells a newcomer to: create-next-app (from the
 * cache), `npm install` of the packed tarballs and @tanstack/react-query, every README block
 * marked `file=` for its Next major written word for word, then `npm run build` with no
 * OIDC_*, LATCHKEY_* or APP_ORIGIN in the environment. Answers the app, or the step that
 * failed with the tail of its output.
 */
export async function prepareApp(variant: Variant): Promise<{ app?: PreparedApp } & Step> {
  const { work, tarballs } = run();
  const seconds: Record<string, number> = {};
  let since = Date.now();
  const lap = (step: string) => {
    seconds[step] = Math.round((Date.now() - since) / 100) / 10;
    since = Date.now();
  };
  const logs = join(LOGS, variant.id);
  rmSync(logs, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const template = await templateApp(variant, join(logs, 'create-next-app.log'));
  lap('create-next-app (or cache)');
  const dir = join(work, variant.id, APP_NAME);
  rmSync(dirname(dir), { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  // cp -a keeps node_modules/.bin's symlinks; it takes seconds where npm install takes a minute.
  const copied = await exec('cp', ['-a', template.dir, dir], { cwd: work, env: newcomerEnv(), logFile: join(logs, 'copy.log'), timeoutMs: 5 * 60_000 });
  if (!copied.ok) return { ok: false, message: `copying ${template.dir} failed:\n${tail(copied.output)}` };
  rmSync(join(dir, '.next'), { recursive: true, force: true });
  lap('copy');

  const nextConfig = readFileSync(join(dir, 'next.config.ts'), 'utf8');
  if (/cacheComponents:\s*true/.test(nextConfig) !== variant.cacheComponents) {
    return {
      ok: false,
      message: `create-next-app@${template.version} ${variant.flags.join(' ')} ${variant.cacheComponents ? 'no longer turns cacheComponents on' : 'now turns cacheComponents on'}; next.config.ts:\n${nextConfig}`,
    };
  }

  // All five at once, so @latchkey/* dependencies resolve to these tarballs, not the registry.
  const installArgs = ['install', '--no-audit', '--no-fund', ...tarballs, '@tanstack/react-query'];
  const installed = await exec('npm', installArgs, { cwd: dir, env: newcomerEnv(), logFile: join(logs, 'npm-install.log'), timeoutMs: 10 * 60_000 });
  if (!installed.ok) return { ok: false, message: `npm ${installArgs.join(' ')} failed (exit ${installed.code}):\n${tail(installed.output)}` };
  lap('npm install');
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
  // The @latchkey/* packages themselves, wherever npm put them; not their own dependencies (lru-cache
  // nested under @latchkey/resource when the app already has another major of it).
  const fromElsewhere = Object.entries(lock.packages).filter(([path, entry]) => /node_modules\/@latchkey\/[^/]+$/.test(path) && !entry.resolved?.startsWith('file:'));
  if (fromElsewhere.length) {
    return { ok: false, message: `npm took these from somewhere other than the packed tarballs:\n${fromElsewhere.map(([path, e]) => `${path}: ${e.resolved}`).join('\n')}` };
  }

  // The template's layout.tsx loads a font with next/font/google, which `next build` fetches
  // from Google; README.md gives its own layout.tsx, which replaces it. Nothing else of the
  // template needs the network.
  const nextMajor = Number(JSON.parse(readFileSync(join(dir, 'node_modules/next/package.json'), 'utf8')).version.split('.')[0]);
  const files = readmeFiles(readFileSync(join(ROOT, 'README.md'), 'utf8'), nextMajor);
  if (!files.length) return { ok: false, message: 'README.md has no code block marked file=… for this app' };
  // And the calls the README's table of modes names, for `next build` to type-check (see modeSnippets.ts).
  for (const file of [...files, ...MODE_SNIPPETS]) {
    mkdirSync(dirname(join(dir, file.path)), { recursive: true });
    writeFileSync(join(dir, file.path), file.content);
  }

  since = Date.now();
  const built = await exec('npm', ['run', 'build'], { cwd: dir, env: newcomerEnv(), logFile: join(logs, 'next-build.log'), timeoutMs: 10 * 60_000 });
  if (!built.ok) {
    return {
      ok: false,
      message: `next build failed (exit ${built.code}) for create-next-app@${template.version} ${variant.flags.join(' ')} with README.md's ${files.map((f) => f.path).join(', ')} and the modes check's ${MODE_SNIPPETS.map((f) => f.path).join(', ')}:\n${tail(built.output)}`,
    };
  }
  lap('next build');
  const nextVersion = JSON.parse(readFileSync(join(dir, 'node_modules/next/package.json'), 'utf8')).version as string;
  return { ok: true, app: { variant, dir, createNextAppVersion: template.version, nextVersion, seconds } };
}

/** The run's temp folder (made by the global setup) and the packed tarballs in it. */
export function run(): { work: string; tarballs: string[] } {
  const work = process.env.LATCHKEY_FRESH_APP_WORK;
  const tarballs = process.env.LATCHKEY_FRESH_APP_TARBALLS;
  if (!work || !tarballs) throw new Error('run with -c scripts/freshApp/playwright.config.ts: its global setup packs the packages');
  return { work, tarballs: JSON.parse(tarballs) as string[] };
}

const builtFile = (variant: Variant) => join(run().work, variant.id, 'built.json');

/** Notes that the variant's app built in this run, for the tests that use it. */
export function recordBuilt(app: PreparedApp) {
  writeFileSync(builtFile(app.variant), JSON.stringify(app));
}

/** The variant's app if it built in this run. */
export function builtApp(variant: Variant): PreparedApp | undefined {
  return existsSync(builtFile(variant)) ? (JSON.parse(readFileSync(builtFile(variant), 'utf8')) as PreparedApp) : undefined;
}

#!/usr/bin/env node
// @ts-check
/**
 * `pnpm soak [--minutes N]`: a soak test of the BFF's refresh path with fault injection.
 * Starts Redis, the dev provider and two BFF instances (each its own process), signs in
 * 50 sessions per instance through the real login form, drives 2–3 tabs per session for N
 * minutes while hanging the provider, restarting a BFF and stopping Redis on a schedule,
 * then judges the run against its goals. See README.md in this folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Session, runTab, signIn } from './browser.mjs';
import { faultSchedule, runFaults } from './faults.mjs';
import { Metrics, goals } from './metrics.mjs';
import { printSummary } from './summary.mjs';
import { Children, freePorts, startBff, startIdp, startRedis } from './processes.mjs';
import { bffBuildIsStale, buildBff, demoClient, requireFromBff } from './workspace.mjs';

const APP_ORIGIN = 'http://localhost:3000';
const EXIT = { ok: 0, goalMissed: 1, couldNotRun: 2, interrupted: 130 };

const USAGE = `usage: pnpm soak [--minutes N] [--sessions N] [--restart-signal SIGTERM|SIGKILL] [--no-build]
  --minutes N         load duration (default 30; env SOAK_MINUTES)
  --sessions N        sessions per BFF instance (default 50; env SOAK_SESSIONS)
  --restart-signal S  how a BFF restart stops the instance: SIGTERM drains (default), SIGKILL crashes
  --no-build          use packages/bff/dist as it is, even when older than its sources`;

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      sessions: { type: 'string' },
      'restart-signal': { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(EXIT.ok);
  }
  const number = (raw, fallback, name, max) => {
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0 || value > max) throw new Error(`${name} must be a number above 0 and at most ${max}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const restartSignal = values['restart-signal'] ?? process.env.SOAK_RESTART_SIGNAL ?? 'SIGTERM';
  if (restartSignal !== 'SIGTERM' && restartSignal !== 'SIGKILL') throw new Error(`--restart-signal must be SIGTERM or SIGKILL, got ${JSON.stringify(restartSignal)}`);
  return {
    minutes: number(values.minutes ?? process.env.SOAK_MINUTES, 30, '--minutes', 24 * 60),
    sessionsPerInstance: Math.round(number(values.sessions ?? process.env.SOAK_SESSIONS, 50, '--sessions', 1000)),
    restartSignal: /** @type {NodeJS.Signals} */ (restartSignal),
    build: !values['no-build'],
    accessTokenTtl: 60,
    graceMs: 5_000,
    clientTimeoutMs: 60_000,
    focusMeanMs: 30_000,
  };
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    const timer = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
  });
const say = (line) => console.log(`[soak] ${line}`);

/** Runs `work` over `items` with at most `limit` at a time. */
async function pool(items, limit, work) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i], i);
      }
    }),
  );
  return results;
}

/** The rotation a session cookie carries (`family:version`), or the cookie itself when it cannot be opened. */
function rotationKeyOf(secret) {
  const { unsealData } = requireFromBff('iron-session');
  return async (cookie) => {
    try {
      const data = await unsealData(cookie, { password: secret });
      return typeof data?.fid === 'string' && Number.isInteger(data?.v) ? `${data.fid}:${data.v}` : cookie;
    } catch {
      return cookie;
    }
  };
}

/** Distinct rotations the clients saw: new `family:version` pairs beyond each sign-in's. */
async function rotationsSeen(sessions, keyOf) {
  const seen = new Set();
  for (const session of sessions) {
    const initial = await keyOf(session.signInCookie);
    for (const key of await Promise.all([...session.cookiesSeen].map(keyOf))) if (key !== initial) seen.add(key);
  }
  return seen;
}

async function heapOf(instance) {
  try {
    const response = await fetch(`${instance.url}/__soak/heap`, { signal: AbortSignal.timeout(10_000) });
    return (await response.json()).heapUsed;
  } catch {
    return NaN;
  }
}

async function main() {
  const opts = options();
  const interrupted = new AbortController();
  const runDir = mkdtempSync(join(tmpdir(), 'latchkey-soak-'));
  const children = new Children(runDir);
  let stopping = false;
  const onSignal = (signal) => {
    if (stopping) {
      children.killAllNow();
      process.exit(EXIT.interrupted);
    }
    stopping = true;
    say(`${signal}: stopping (again to kill at once)`);
    interrupted.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => children.killAllNow());

  try {
    return await run(opts, children, runDir, interrupted.signal);
  } finally {
    await children.stopAll();
    say(`logs of every process: ${runDir}`);
  }
}

/**
 * @param {ReturnType<typeof options>} opts
 * @param {Children} children
 * @param {string} runDir
 * @param {AbortSignal} interrupted
 */
async function run(opts, children, runDir, interrupted) {
  const faults = faultSchedule(opts.minutes);
  say(`${opts.minutes} min, ${opts.sessionsPerInstance} sessions per instance, access tokens of ${opts.accessTokenTtl} s; faults: ${faults.map((f) => `${f.kind}@${Math.round(f.atMs / 1000)}s`).join(', ')}`);
  if (opts.build && bffBuildIsStale()) {
    say('packages/bff/dist is older than its sources: building');
    buildBff();
  }

  const metrics = new Metrics(opts.graceMs);
  const [redis, idp] = await Promise.all([startRedis(children), startIdp(children, { appOrigin: APP_ORIGIN, accessTokenTtl: opts.accessTokenTtl })]);
  const client = demoClient();
  const secret = `soak-${crypto.randomUUID()}-${crypto.randomUUID()}`;
  const bffEnv = {
    SOAK_APP_ORIGIN: APP_ORIGIN,
    SOAK_ISSUER: idp.issuer,
    SOAK_REDIS_URL: redis.url,
    SOAK_COOKIE_SECRET: secret,
    SOAK_CLIENT_ID: client.id,
    SOAK_CLIENT_SECRET: client.secret,
  };
  /** Instances by name; a restart replaces the entry, the port stays. */
  const bffPorts = await freePorts(2);
  const instances = await Promise.all(
    ['bff-a', 'bff-b'].map((name, i) => startBff(children, { name, port: bffPorts[i], env: bffEnv, onEvent: (e, name) => metrics.event(e, name) })),
  );
  /** @type {Set<string>} instances being restarted on purpose: their exit is no crash */
  const restarting = new Set();
  let stopRequested = false;
  /** @type {string | undefined} why the run could not go as planned */
  let infraFailure;
  /** Ends the load early: interrupted, or the run cannot mean anything any more. */
  const stop = new AbortController();
  interrupted.addEventListener('abort', () => stop.abort(), { once: true });
  const giveUp = (why) => {
    infraFailure ??= why;
    say(`giving up: ${why}`);
    stop.abort();
  };
  const supervise = (instance) => {
    void instance.child.exited.then(async () => {
      if (restarting.has(instance.name) || stopRequested || children.stopping) return;
      const code = instance.child.process.exitCode;
      const signal = instance.child.process.signalCode;
      metrics.unexpectedExits.push({ name: instance.name, at: Date.now(), code, signal });
      say(`${instance.name} exited on its own (code ${code}, signal ${signal}): starting it again, as a supervisor would`);
      await sleep(1000);
      if (stopRequested || children.stopping) return;
      const again = await startBff(children, { name: instance.name, port: instance.port, env: bffEnv, onEvent: (e, name) => metrics.event(e, name) });
      instances[instances.findIndex((i) => i.name === instance.name)] = again;
      supervise(again);
    });
  };
  instances.forEach(supervise);
  for (const infra of [redis.child, idp.child]) {
    void infra.exited.then(() => {
      if (!stopRequested && !children.stopping) giveUp(`${infra.name} exited during the run: ${infra.stderrTail() || `see ${runDir}/${infra.name}.log`}`);
    });
  }

  // Sign in: each instance takes its share through /login and /callback.
  const started = Date.now();
  const sessions = await pool(
    Array.from({ length: 2 * opts.sessionsPerInstance }, (_, i) => i),
    8,
    async (i) => {
      const user = i % 4 < 2 ? 'alice' : 'bob';
      const instance = instances[i % 2];
      if (!instance) throw new Error('no BFF instance');
      return new Session(i, user, await signIn(instance.url, user, APP_ORIGIN));
    },
  );
  say(`${sessions.length} sessions signed in through the provider's login form in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (interrupted.aborted) return EXIT.interrupted;

  const before = await idp.stats(10_000);
  if (!before) throw new Error('the provider did not answer /__dev/stats');
  const heapsBefore = await Promise.all(instances.map(heapOf));
  const redisBefore = await redis.usedMemory();
  const keyOf = rotationKeyOf(secret);

  // Load.
  const endLoad = stop.signal;
  metrics.startedAt = Date.now();
  const runMs = opts.minutes * 60_000;
  const budget = { total: Math.ceil(opts.minutes * 60 * 500), left: Math.ceil(opts.minutes * 60 * 500) };
  const ctx = {
    instances,
    metrics,
    stop: endLoad,
    lifetimeS: opts.accessTokenTtl,
    clientTimeoutMs: opts.clientTimeoutMs,
    focusMeanMs: opts.focusMeanMs,
    budget,
    exhausted: () => giveUp(`the request budget (${budget.total}) ran out: a request storm`),
  };
  const tabs = sessions.flatMap((session) => Array.from({ length: 2 + (Math.random() < 0.5 ? 1 : 0) }, () => runTab(session, ctx)));
  say(`load: ${tabs.length} tabs over ${sessions.length} sessions, to both instances at random`);

  const faultRun = runFaults(faults, {
    metrics,
    stop: endLoad,
    interrupted,
    say,
    pauseProvider: () => idp.child.pause(),
    resumeProvider: () => idp.child.resume(),
    pauseRedis: () => redis.child.pause(),
    resumeRedis: () => redis.child.resume(),
    async restartBff() {
      const name = 'bff-b';
      const index = instances.findIndex((i) => i.name === name);
      const old = instances[index];
      if (!old) return;
      restarting.add(name);
      const t0 = Date.now();
      await old.child.stop(opts.restartSignal, 15_000);
      const stopped = Date.now() - t0;
      const fresh = await startBff(children, { name, port: old.port, env: bffEnv, onEvent: (e, name) => metrics.event(e, name) });
      instances[index] = fresh;
      restarting.delete(name);
      supervise(fresh);
      say(`${metrics.clock()} ${name} restarted (${opts.restartSignal}: stopped in ${stopped} ms, up again after ${Date.now() - t0} ms)`);
    },
  });

  let lastLine = 0;
  const minuteLine = async () => {
    lastLine = Date.now();
    const stats = await idp.stats(2000);
    const byStatus = (s) => metrics.byStatus.get(s) ?? 0;
    const unexplained = metrics.unexplained().length;
    const rotations = sessions.reduce((sum, s) => sum + s.cookiesSeen.size - 1, 0);
    const lat = metrics.latency();
    say(
      `${metrics.clock()} requests ${metrics.requests} · 200 ${byStatus('200')} · 503 ${byStatus('503')} · 5xx/no answer unexplained ${unexplained} · ` +
        `rotations seen ${rotations} · refresh grants ${stats ? stats.grants.refresh_token - before.grants.refresh_token : '? (provider not answering)'} · ` +
        `lost ${metrics.losses.length} · reuse ${stats ? stats.reuseDetected - before.reuseDetected : '?'} · p99 ${lat.p99} ms, max ${lat.max} ms` +
        (metrics.activeFaults().length ? ` · now: ${metrics.activeFaults().join(', ')}` : ''),
    );
  };
  const ticker = setInterval(() => void minuteLine(), 60_000);

  await sleep(runMs, stop.signal);
  stop.abort();
  clearInterval(ticker);
  say(`${metrics.clock()} load stopped; waiting for requests under way`);
  await Promise.all(tabs);
  await faultRun;
  stopRequested = true;
  if (Date.now() - lastLine > 5000) await minuteLine();

  // Final figures, with the provider's late answers settled.
  await sleep(1000);
  const after = await idp.stats(10_000);
  const heapsAfter = await Promise.all(instances.map(heapOf));
  const redisAfter = await redis.usedMemory().catch(() => NaN);
  const seen = await rotationsSeen(sessions, keyOf);
  const rotations = seen.size;
  // Rotations the BFF reported that no client ever received: where a refresh grant went unused.
  const unseen = [...metrics.refreshes].filter(([key]) => !seen.has(key));
  const revokedSessions = metrics.losses.filter((l) => l.reason === 'session_revoked').length;
  const results = goals({
    metrics,
    sessions,
    rotations,
    grants: after && after.grants.refresh_token - before.grants.refresh_token,
    providerReuse: after && after.reuseDetected - before.reuseDetected,
    revokedSessions,
  });

  printSummary({
    title: `${opts.minutes} min, ${sessions.length} sessions, ${tabs.length} tabs, ${metrics.requests} requests${interrupted.aborted ? ' (INTERRUPTED)' : ''}`,
    metrics,
    results,
    graceMs: opts.graceMs,
    provider: before && after && { before, after },
    heaps: instances.map((instance, i) => ({ name: instance.name, before: heapsBefore[i] ?? NaN, after: heapsAfter[i] ?? NaN })),
    redis: { before: redisBefore, after: redisAfter },
    unseen,
    infraFailure,
  });


  if (interrupted.aborted) return EXIT.interrupted;
  if (infraFailure) return EXIT.couldNotRun;
  return results.every((r) => r.met) ? EXIT.ok : EXIT.goalMissed;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[soak] could not run: ${error instanceof Error ? error.message : error}`);
    process.exit(EXIT.couldNotRun);
  },
);

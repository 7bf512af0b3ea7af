// @ts-check
/**
 * The bench's leak soak (`pnpm bench --soak [minutes]`): a steady, modest mix on every demo at
 * once — cached `/token` calls, `/token` calls that refresh (some from two tabs at once), sign-ins
 * through the provider's login form with a logout of the oldest session each time, anonymous
 * calls — while the demo's heap after full GCs (`GET /api/bench/heap`) and, for the Redis store,
 * Redis's `used_memory` and key count are sampled. A leak shows up as growth between the first
 * sample after warm-up and the last; nothing here decides whether growth is acceptable.
 */
import { requireFromBff } from '../soak/workspace.mjs';
import { signInMany } from './sessions.mjs';
import { sleep } from '../soak/browser.mjs';
import { Load, SOAK_MIX } from './soakLoad.mjs';

/** The first sample counted as the start: JIT, Next's caches and the pools grow at first. */
export const WARM_UP_SHARE = 0.1;
/** When samples are taken, as shares of the soak: before the load, after warm-up, three between, at the end. */
const SAMPLE_AT = [0, WARM_UP_SHARE, 0.325, 0.55, 0.775, 1];

/**
 * @typedef {import('./soakLoad.mjs').Kind} Kind
 * @typedef {object} SoakSample
 * @property {number} atMs since the load began
 * @property {number} heapUsed bytes, after full GCs
 * @property {number} external
 * @property {number} rss
 * @property {boolean} gc whether the demo could run a full GC (`--expose-gc`)
 * @property {number} [redisUsed] Redis `used_memory`, bytes
 * @property {number} [redisKeys] Redis `DBSIZE`
 * @property {Record<string, number>} [redisKeysByKind] keys by what precedes their last `:` (`latchkey:fam`, `latchkey:deny`, …)
 * @property {number} [indexMembers] members stored in every per-user index together (`…:user:<sub>`, a set or sorted set), expired ones not yet dropped included
 * @property {number} requests so far
 * @property {number} signIns so far
 * @property {number} refreshes so far (two tabs at once count as one)
 * @typedef {object} SoakResult
 * @property {string} store
 * @property {SoakSample[]} samples the first before the load, the second the start of the window
 * @property {Record<Kind, Record<string, number>>} answers kind → answer → count
 * @property {string[]} failures 5xx, connection errors, timeouts and failed sign-ins: the first 10, with when and what
 * @property {number} failureCount
 * @property {string[]} surprises other answers than a kind expects (below 500): the first 5, with when and what
 */

/**
 * Runs the soak on every store at once for `minutes`, sampling memory at {@link SAMPLE_AT}.
 * Stops early (and says so in `stoppedEarly`) when `signal` aborts or a sample fails.
 * @param {{ stores: { name: string, demo: import('./stack.mjs').Demo, redisUrl?: string }[],
 *   minutes: number, lifetimeS: number, signal: AbortSignal, alive: () => void, say: (line: string) => void }} options
 * @returns {Promise<{ results: SoakResult[], stoppedEarly?: string, durationMs: number }>}
 */
export async function leakSoak({ stores, minutes, lifetimeS, signal, alive, say }) {
  const durationMs = minutes * 60_000;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const loads = await Promise.all(
    stores.map(async (store) => ({
      store,
      load: new Load(store.demo, await signInMany(store.demo, SOAK_MIX.liveSessions), lifetimeS),
      redis: store.redisUrl ? await redisProbe(store.redisUrl) : undefined,
    })),
  );
  let began = performance.now();
  /** @type {SoakResult[]} */
  const results = loads.map(({ store, load }) => ({ store: store.name, samples: [], answers: load.answers, failures: load.failures, failureCount: 0, surprises: load.surprises }));
  const sampleAll = () =>
    Promise.all(
      loads.map(async ({ store, load, redis }, i) => {
        const atMs = performance.now() - began;
        const [heap, figures] = await Promise.all([heapOf(store.demo), redis?.figures()]);
        /** @type {SoakSample} */
        const sample = { atMs, ...heap, ...figures, requests: load.requests, signIns: load.signIns, refreshes: load.refreshes };
        results[i]?.samples.push(sample);
        return sample;
      }),
    );
  /** @type {string | undefined} */
  let stoppedEarly;
  const tasks = [];
  try {
    for (const [n, share] of SAMPLE_AT.entries()) {
      await sleep(began + share * durationMs - performance.now(), stop.signal);
      if (stop.signal.aborted) {
        stoppedEarly = 'interrupted';
        // The figures so far still mean something: one last sample, without the load, ends them.
        if (n > 1) await sampleAll();
        break;
      }
      alive();
      const samples = await sampleAll();
      if (n === 0) {
        began = performance.now();
        for (const { load } of loads) tasks.push(load.run(stop.signal));
      }
      const figures = samples.map((s, i) => `${results[i]?.store} heap ${mb(s.heapUsed)}, RSS ${mb(s.rss)}${s.redisUsed === undefined ? '' : `, Redis ${mb(s.redisUsed)} / ${s.redisKeys} keys`}`);
      const label = n === 0 ? 'before the load' : n === 1 ? 'start (after warm-up)' : n === SAMPLE_AT.length - 1 ? 'end' : `${Math.round(share * 100)} %`;
      say(`soak ${label}: ${figures.join('; ')}; ${loads.reduce((sum, l) => sum + l.load.requests, 0).toLocaleString('en-US')} requests, ${loads.reduce((sum, l) => sum + l.load.failureCount, 0)} failed`);
      if (samples.some((s) => !s.gc)) say('WARNING the demo has no gc() (started without --expose-gc?): heap figures include garbage');
    }
  } catch (error) {
    stoppedEarly = error instanceof Error ? error.message : String(error);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop.abort();
    await Promise.all(tasks);
    await Promise.all(loads.map(({ redis }) => redis?.close()));
  }
  for (const [i, { load }] of loads.entries()) if (results[i]) results[i].failureCount = load.failureCount;
  return { results, stoppedEarly, durationMs };
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * The demo's memory after full GCs, from its bench-only route.
 * @param {import('./stack.mjs').Demo} demo
 */
async function heapOf(demo) {
  const response = await fetch(`${demo.url}/api/bench/heap`, { signal: AbortSignal.timeout(30_000) });
  if (response.status === 404) throw new Error(`${demo.name}: GET /api/bench/heap answered 404 (a build without the route, or LATCHKEY_BENCH=1 not set)`);
  if (!response.ok) throw new Error(`${demo.name}: GET /api/bench/heap answered ${response.status}`);
  const { heapUsed, external, rss, gc } = await response.json();
  return { heapUsed, external, rss, gc: gc === true };
}

/**
 * Redis's own figures through a client of its own: `INFO memory` used_memory, `DBSIZE`, and a
 * SCAN of every key grouped by kind, so growth can be told apart (ledgers and denylist entries
 * that live as long as a session could, against anything that should not be there).
 * @param {string} url
 */
async function redisProbe(url) {
  const { createClient } = requireFromBff('redis');
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return {
    async figures() {
      const info = await client.info('memory');
      /** @type {Record<string, number>} */
      const redisKeysByKind = {};
      /** @type {string[]} */
      const indexes = [];
      for await (const batch of client.scanIterator({ COUNT: 1000 })) {
        // node-redis 5 yields a batch of keys per SCAN call; 4 yielded one key at a time.
        for (const key of Array.isArray(batch) ? batch : [batch]) {
          const kind = key.slice(0, key.lastIndexOf(':')) || key;
          redisKeysByKind[kind] = (redisKeysByKind[kind] ?? 0) + 1;
          if (kind.endsWith(':user')) indexes.push(key);
        }
      }
      // A plain set in older versions of the store, a sorted set scored by expiry since: count either.
      const sizes = await Promise.all(indexes.map(async (key) => ((await client.type(key)) === 'zset' ? client.zCard(key) : client.sCard(key))));
      return {
        redisUsed: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN),
        redisKeys: Number(await client.dbSize()),
        redisKeysByKind,
        indexMembers: sizes.reduce((sum, n) => sum + Number(n), 0),
      };
    },
    close: () => client.quit().catch(() => {}),
  };
}

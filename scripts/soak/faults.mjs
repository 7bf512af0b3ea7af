// @ts-check
/**
 * The fault schedule of a soak run: a pure function of its duration, so a 3-minute run and a
 * 30-minute run see the same kinds of trouble, scaled.
 */

/** @typedef {'provider-hang' | 'bff-restart' | 'redis-stop'} FaultKind */
/** @typedef {{ kind: FaultKind, atMs: number, durationMs: number }} Fault */

/** How long each fault lasts (a restart lasts as long as the instance takes to drain and start). */
export const FAULT_DURATION_MS = /** @type {const} */ ({ 'provider-hang': 10_000, 'bff-restart': 0, 'redis-stop': 5_000 });

/**
 * Faults for a run of `minutes`: the provider hung every ~4 minutes, one BFF restart per
 * ~10 minutes, Redis stopped once per ~15 minutes, each at least once. They sit on evenly
 * spaced slots between 10 % and 85 % of the run (never overlapping, a quiet start to warm up
 * and a quiet end in which every session must have recovered), kinds interleaved.
 * @param {number} minutes
 * @returns {Fault[]}
 */
export function faultSchedule(minutes) {
  /** @type {Record<FaultKind, number>} */
  const counts = {
    'provider-hang': Math.max(1, Math.round(minutes / 4)),
    'bff-restart': Math.max(1, Math.round(minutes / 10)),
    'redis-stop': Math.max(1, Math.round(minutes / 15)),
  };
  const kinds = /** @type {FaultKind[]} */ (Object.keys(counts));
  const total = kinds.reduce((sum, kind) => sum + counts[kind], 0);
  const runMs = minutes * 60_000;
  const start = 0.1 * runMs;
  const slot = (0.75 * runMs) / total;
  /** @type {Record<FaultKind, number>} */
  const used = { 'provider-hang': 0, 'bff-restart': 0, 'redis-stop': 0 };
  const faults = [];
  for (let i = 0; i < total; i++) {
    // The kind furthest behind its even share so far goes next.
    const kind = kinds.reduce((best, k) => ((counts[k] * (i + 1)) / total - used[k] > (counts[best] * (i + 1)) / total - used[best] ? k : best));
    used[kind] += 1;
    faults.push({ kind, atMs: Math.round(start + (i + 0.5) * slot), durationMs: FAULT_DURATION_MS[kind] });
  }
  return faults;
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    const timer = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
  });

/**
 * @typedef {object} FaultActions
 * @property {import('./metrics.mjs').Metrics} metrics where each fault's window is recorded
 * @property {AbortSignal} stop no fault starts after this
 * @property {AbortSignal} interrupted a fault under way ends at once (the provider or Redis resumes)
 * @property {(line: string) => void} say
 * @property {() => void} pauseProvider
 * @property {() => void} resumeProvider
 * @property {() => void} pauseRedis
 * @property {() => void} resumeRedis
 * @property {() => Promise<void>} restartBff resolves once the restarted instance listens again
 */

/**
 * Injects the scheduled faults, timed from `metrics.startedAt`, each recorded as a window
 * that may explain a 503.
 * @param {Fault[]} faults
 * @param {FaultActions} actions
 */
export async function runFaults(faults, actions) {
  const { metrics, stop, interrupted, say } = actions;
  for (const fault of faults) {
    await sleep(metrics.startedAt + fault.atMs - Date.now(), stop);
    if (stop.aborted) return;
    const close = metrics.openFault(fault.kind);
    say(`${metrics.clock()} fault: ${fault.kind}`);
    try {
      if (fault.kind === 'provider-hang') {
        actions.pauseProvider();
        await sleep(fault.durationMs, interrupted);
        actions.resumeProvider();
      } else if (fault.kind === 'redis-stop') {
        actions.pauseRedis();
        await sleep(fault.durationMs, interrupted);
        actions.resumeRedis();
      } else {
        await actions.restartBff();
      }
    } finally {
      close();
      say(`${metrics.clock()} fault over: ${fault.kind}`);
    }
  }
}

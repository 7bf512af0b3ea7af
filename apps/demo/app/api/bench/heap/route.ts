// The benchmark's leak soak (`pnpm bench --soak`): this process's memory after a full GC, so
// growth over a long run shows up as a leak rather than as garbage not yet collected. Answers
// 404 unless LATCHKEY_BENCH=1 (the bench sets it): a deployed demo must not expose its memory.
export const dynamic = 'force-dynamic';

/** A heap that shrinks by less than this in one more pass has been collected. */
const SETTLED_BYTES = 256 * 1024;
const MAX_PASSES = 5;

export async function GET() {
  if (process.env.LATCHKEY_BENCH !== '1') return new Response('Not Found', { status: 404 });
  // `gc` exists only under `node --expose-gc`; without it the figures include garbage, and say so.
  const gc = (globalThis as { gc?: () => void }).gc;
  // One full GC leaves garbage that only a later one frees (what finalizers and weak references
  // held until the turn ended), a megabyte or two under load: collect again, a turn apart, until
  // the heap stops shrinking.
  let passes = 0;
  for (let last = Infinity; gc && passes < MAX_PASSES; ) {
    gc();
    passes += 1;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const used = process.memoryUsage().heapUsed;
    if (last - used < SETTLED_BYTES) break;
    last = used;
  }
  return Response.json({ ...process.memoryUsage(), gc: gc !== undefined, gcPasses: passes, pid: process.pid }, { headers: { 'cache-control': 'no-store' } });
}

// The benchmark's baseline (scripts/bench): the cheapest route this Next server can answer, so
// `pnpm bench` can tell what /api/auth/token costs on top of Next itself, in the same process.
export const dynamic = 'force-dynamic';

export const POST = () => Response.json({ ok: true });

import { verifier } from '../../../lib/auth';

export const dynamic = 'force-dynamic';

const NOTES: Record<string, string[]> = {
  alice: ['Buy milk', 'Follow the white rabbit', 'Tea at six'],
  bob: ['Fix the roof', 'Order bricks'],
};

/** An example resource API: verifies the bearer token, then answers the caller's own notes. */
export async function GET(request: Request) {
  const result = await verifier.verify(request);
  if (!result.ok) {
    // A 503 means the provider's keys could not be fetched; the cause names the URL and why.
    if (result.response.status === 503) console.error('[demo] /api/notes:', (result.error.cause as Error | undefined)?.message ?? result.error.message);
    return result.response;
  }
  const notes = (NOTES[result.claims.sub] ?? []).map((text, id) => ({ id, text }));
  return Response.json({ owner: result.claims.sub, notes, servedAt: new Date().toISOString() }, { headers: { 'cache-control': 'no-store' } });
}

import { verifier } from '../../../lib/auth';

export const dynamic = 'force-dynamic';

const NOTES: Record<string, string[]> = {
  alice: ['Buy milk', 'Follow the white rabbit', 'Tea at six'],
  bob: ['Fix the roof', 'Order bricks'],
};

/** An example resource API: verifies the bearer token, then answers the caller's own notes. */
export async function GET(request: Request) {
  const result = await verifier.verify(request);
  if (!result.ok) return result.response;
  const notes = (NOTES[result.claims.sub] ?? []).map((text, id) => ({ id, text }));
  return Response.json({ owner: result.claims.sub, notes, servedAt: new Date().toISOString() }, { headers: { 'cache-control': 'no-store' } });
}

import { authorize } from './resource';

const NOTES: Record<string, string[]> = {
  alice: ['Buy milk', 'Follow the white rabbit', 'Tea at six'],
  bob: ['Fix the roof', 'Order bricks'],
};

/**
 * `GET /api/notes` and `/api/notes/items`, an example resource API: verifies the bearer token,
 * then answers the caller's own notes. The page reaches it with its own token (token mode) or
 * through the BFF's proxy, which attaches the token (proxy mode); the API cannot tell.
 */
export async function listNotes(request: Request): Promise<Response> {
  const result = await authorize(request);
  if (!result.ok) return result.response;
  const notes = (NOTES[result.claims.sub] ?? []).map((text, id) => ({ id, text }));
  return Response.json(
    { owner: result.claims.sub, notes, servedAt: new Date().toISOString(), ...(result.hook && { hook: result.hook }) },
    { headers: { 'cache-control': 'no-store' } },
  );
}

const encoder = new TextEncoder();

/**
 * `GET /api/notes/events`: server-sent events, one of the caller's notes every `intervalMs`
 * (default 400, 50 to 2000) until `count` (default 5, up to 20) have gone, then the stream ends.
 * Each event is written as it happens, so a client (or a proxy in between) that buffered the
 * stream would show them all at once at the end. `no-transform` keeps compression off it.
 */
export async function streamNotes(request: Request): Promise<Response> {
  const result = await authorize(request);
  if (!result.ok) return result.response;
  const params = new URL(request.url).searchParams;
  const count = clamp(params.get('count'), 5, 1, 20);
  const intervalMs = clamp(params.get('intervalMs'), 400, 50, 2000);
  const texts = NOTES[result.claims.sub] ?? ['(no notes)'];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let sent = 0;
      const tick = () => {
        const event = { n: sent + 1, of: count, text: texts[sent % texts.length], at: new Date().toISOString() };
        controller.enqueue(encoder.encode(`id: ${sent + 1}\nevent: note\ndata: ${JSON.stringify(event)}\n\n`));
        sent++;
        if (sent < count) timer = setTimeout(tick, intervalMs);
        else controller.close();
      };
      // A comment first, so the headers and the stream's start reach the client at once.
      controller.enqueue(encoder.encode(': notes for ' + result.claims.sub + '\n\n'));
      timer = setTimeout(tick, intervalMs);
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no' },
  });
}

function clamp(raw: string | null, fallback: number, min: number, max: number): number {
  const value = raw === null ? NaN : Number(raw);
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : fallback;
}

/**
 * The answer of a successful sign-in: a tiny page that moves on to `target` itself, instead of
 * a 302. The way back from the provider is a cross-site navigation, and a browser sends no
 * SameSite=Strict cookie on any redirect in a chain a cross-site page started, so a 302 would
 * land on `target` without the session cookie just set: a server-rendered or proxy-protected
 * page would see nobody signed in and send the person to sign in again, in a loop. A
 * navigation this page starts is same-site, and carries the cookie.
 */
export function landingResponse(target: URL, headers: Headers): Response {
  const href = escapeHtml(target.href);
  headers.set('content-type', 'text/html; charset=utf-8');
  // The callback's URL holds the code and state: send it nowhere, not even as a Referer.
  headers.set('referrer-policy', 'no-referrer');
  headers.set('content-security-policy', "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  const html = `<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta http-equiv="refresh" content="0;url=${href}"><title>Signed in</title></head><body><p>Signed in. <a href="${href}">Continue</a></p></body></html>`;
  return new Response(html, { status: 200, headers });
}

/** Where a landing page goes next, for tests and scripts that follow it without a browser. */
export function landingTarget(html: string): string | undefined {
  const match = /<meta http-equiv="refresh" content="0;url=([^"]*)">/.exec(html);
  return match?.[1]?.replace(/&quot;|&#39;|&lt;|&gt;|&amp;/g, (entity) => ENTITIES[entity]!);
}

const ENTITIES: Record<string, string> = { '&quot;': '"', '&#39;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };

const ESCAPES: Record<string, string> = Object.fromEntries(Object.entries(ENTITIES).map(([entity, c]) => [c, entity]));

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

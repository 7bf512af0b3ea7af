import type { AccessTokenClaims } from '@latchkey/resource';
import { getVerifier } from './auth';
import { testHooksFromEnv } from './config';

/** What a test hook did with a request, sent back in the answer so a test can count. */
export interface HookReport {
  label: string;
  /** Requests the notes API received under this label, this one included. */
  requests: number;
  /** How many of them it refused. */
  refused: number;
}

export type Authorized = { ok: true; claims: AccessTokenClaims; hook?: HookReport } | { ok: false; response: Response };

/**
 * Checks a request to the demo's notes API: the bearer token is verified (signature, issuer,
 * audience, `notes:read`) whichever way it came, straight from the page or attached by the BFF's
 * proxy. With LATCHKEY_DEMO_TEST_HOOKS=1, a request may then ask for its token to be refused:
 * see {@link refuseOnRequest}.
 */
export async function authorize(request: Request): Promise<Authorized> {
  const result = await getVerifier().verify(request);
  if (!result.ok) {
    // A 503 means the provider's keys could not be fetched; the cause names the URL and why.
    if (result.response.status === 503) console.error('[demo] notes API:', (result.error.cause as Error | undefined)?.message ?? result.error.message);
    return result;
  }
  const label = new URL(request.url).searchParams.get('refuse');
  if (label === null || !testHooksFromEnv()) return { ok: true, claims: result.claims };
  return refuseOnRequest(request, label, result.claims);
}

interface Refusal {
  token: string | undefined;
  requests: number;
  refused: number;
}

const MAX_LABELS = 1000;
/** On globalThis: Next bundles route modules apart, and each bundle would get its own copy. */
const refusals: Map<string, Refusal> = ((globalThis as { [key: symbol]: Map<string, Refusal> })[Symbol.for('latchkey.demo.refusals')] ??= new Map());

/**
 * The test hook `?refuse=<label>`: the first valid token presented under a label is refused with
 * 401 `WWW-Authenticate: Bearer error="invalid_token"`, as an API refuses a token it has learned
 * is revoked, and so is that same token every time it comes back under the label; any other
 * token passes. The answer reports how many requests the label has seen, so a test can tell a
 * client that retried once with a new token from one that retried with the old one, or kept
 * retrying.
 */
function refuseOnRequest(request: Request, label: string, claims: AccessTokenClaims): Authorized {
  if (!/^[\w-]{1,64}$/.test(label)) return { ok: false, response: Response.json({ error: 'invalid_request', error_description: `refuse must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(label.slice(0, 80))}.` }, { status: 400 }) };
  const token = request.headers.get('authorization')?.replace(/^Bearer\s+/i, '');
  let entry = refusals.get(label);
  if (!entry) {
    if (refusals.size >= MAX_LABELS) refusals.delete(refusals.keys().next().value!);
    entry = { token: undefined, requests: 0, refused: 0 };
    refusals.set(label, entry);
  }
  entry.requests++;
  entry.token ??= token;
  const report = (): HookReport => ({ label, requests: entry.requests, refused: entry.refused });
  if (entry.token !== token) return { ok: true, claims, hook: report() };
  entry.refused++;
  const description = 'The token was refused on request (test hook).';
  return {
    ok: false,
    response: Response.json(
      { error: 'invalid_token', error_description: description, hook: report() },
      { status: 401, headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"`, 'cache-control': 'no-store' } },
    ),
  };
}

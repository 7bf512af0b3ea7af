import { cookieJar, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, startIdp, throughLoginForm, type CookieJar, type IdpStats, type StartIdpOptions } from '@latchkey/idp';
import { unsealData } from 'iron-session';
import { createBff, type Bff } from '../createBff.js';
import type { BffConfig } from '../config.js';
import type { BffEvent } from '../events.js';
import { memoryAuditSink } from '../audit.js';

export const APP = 'http://localhost:3000';
export const SECRET = 'test-cookie-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** A cookie jar for talking to the provider as a browser would (paths ignored). */
export class Jar implements CookieJar {
  readonly #jar = cookieJar();
  store(response: Response) {
    this.#jar.store(response);
  }
  header() {
    return this.#jar.header();
  }
}

/** What the harness needs of a provider: in-process or in its own process. */
export interface HarnessIdp {
  issuer: string;
  stats(): Promise<IdpStats>;
  close(): Promise<void>;
}

export interface Harness {
  idp: HarnessIdp;
  bff: Bff;
  /** Another BFF instance on the same provider (same secret and settings unless overridden). */
  instance(options?: Partial<BffConfig>): { bff: Bff; token: Harness['token'] };
  events: BffEvent[];
  /** The events of one session family only (found from its cookie), so a test never reads another test's. */
  eventsOf(cookie: string): Promise<BffEvent[]>;
  /** Moves the clock of every BFF instance of this harness forward, e.g. past the access tokens' lifetime. */
  age(seconds: number): void;
  /**
   * Walks /login and the provider's form; answers the callback URL and transaction cookie, not
   * yet used. Pass a `providerJar` to keep the provider's session across sign-ins, as one browser does.
   */
  authorize(user?: string, providerJar?: Jar, appCookie?: string): Promise<{ callbackUrl: string; txCookie: string; login: Response }>;
  /** Signs in as a dev user through the real provider; answers the session cookie value. */
  signIn(user?: string, extraCookie?: string, providerJar?: Jar): Promise<string>;
  /** Calls `POST /token` like the SPA does. */
  token(cookie: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  post(path: string, cookie: string | undefined, body?: string, headers?: Record<string, string>): Promise<Response>;
  get(path: string, cookie?: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

async function inProcessIdp(options: StartIdpOptions): Promise<HarnessIdp> {
  const running = await startIdp({ port: 0, appOrigins: [APP], ...options });
  return { issuer: running.issuer, stats: async () => running.stats(), close: () => running.close() };
}

/** Starts a real dev provider on a free port (or uses the one given) and a BFF talking to it. */
export async function startHarness(
  idpOptions: StartIdpOptions | HarnessIdp = {},
  bffOptions: Partial<BffConfig> = {},
): Promise<Harness> {
  const idp: HarnessIdp = 'issuer' in idpOptions ? idpOptions : await inProcessIdp(idpOptions);
  const events: BffEvent[] = [];
  let offsetMs = 0;
  const make = (options: Partial<BffConfig>) =>
    createBff({
      now: () => Date.now() + offsetMs,
      issuer: idp.issuer,
      clientId: DEMO_CLIENT_ID,
      clientSecret: DEMO_CLIENT_SECRET,
      appOrigin: APP,
      cookieSecret: SECRET,
      allowInsecureHttp: true,
      scope: 'openid profile email offline_access notes:read',
      onEvent: (e) => events.push(e),
      // The audit trail runs in every test, into memory rather than the test output.
      audit: memoryAuditSink({ write: false }),
      ...bffOptions,
      ...options,
    });
  const bff = make({});

  const get = (path: string, cookie?: string, headers: Record<string, string> = {}) =>
    bff.handle(new Request(`${APP}${path}`, { headers: { ...headers, ...(cookie ? { cookie } : {}) } }));
  const post = (path: string, cookie: string | undefined, body?: string, headers?: Record<string, string>) => postTo(bff, path, cookie, body, headers);

  /** Goes through /login and the provider's login form; answers the callback URL and the transaction cookie, unused. */
  async function authorize(user = 'alice', jar = new Jar(), appCookie?: string): Promise<{ callbackUrl: string; txCookie: string; login: Response }> {
    // What a browser sends when a person follows a sign-in link.
    const login = await get('/api/auth/login?returnTo=/notes', appCookie, { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'same-origin' });
    if (login.status !== 302) throw new Error(`login answered ${login.status}`);
    const txCookie = login.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-tx-'))!.split(';')[0]!;
    const callbackUrl = await throughProvider(login.headers.get('location')!, user, jar);
    return { callbackUrl, txCookie, login };
  }

  async function signIn(user = 'alice', extraCookie?: string, providerJar?: Jar): Promise<string> {
    const { callbackUrl, txCookie } = await authorize(user, providerJar);
    const cookie = [txCookie, extraCookie].filter(Boolean).join('; ');
    const callback = await bff.handle(new Request(callbackUrl, { headers: { cookie } }));
    if (callback.status !== 200) throw new Error(`callback answered ${callback.status}: ${await callback.text()}`);
    return sessionCookieFrom(callback)!;
  }

  return {
    idp,
    bff,
    events,
    age: (seconds) => void (offsetMs += seconds * 1000),
    async eventsOf(cookie) {
      const { fid } = await unsealData<{ fid: string }>(cookie, { password: { 1: SECRET } });
      return events.filter((e) => 'familyId' in e && e.familyId === fid);
    },
    authorize,
    signIn,
    token: (cookie, body = {}, headers = {}) => post('/api/auth/token', cookie, JSON.stringify(body), headers),
    instance(options = {}) {
      const other = make(options);
      return { bff: other, token: (cookie, body = {}, headers = {}) => postTo(other, '/api/auth/token', cookie, JSON.stringify(body), headers) };
    },
    post,
    get,
    close: () => idp.close(),
  };
}

/** Sends a POST to a BFF as the SPA does: CSRF header, JSON, same-origin Fetch Metadata, and the session cookie. */
export function postTo(target: Pick<Bff, 'handle'>, path: string, cookie: string | undefined, body: BodyInit = '{}', headers: Record<string, string> = {}) {
  return target.handle(
    new Request(`${APP}${path}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-latchkey': '1',
        'sec-fetch-site': 'same-origin',
        ...(cookie ? { cookie: `__Host-latchkey=${cookie}` } : {}),
        ...headers,
      },
      // Node needs this for a streamed body.
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit),
  );
}

/** The session cookie value a response sets, if any. */
export function sessionCookieFrom(response: Response): string | undefined {
  const line = response.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey='));
  return line?.split(';')[0]!.slice('__Host-latchkey='.length) || undefined;
}

/**
 * Walks the provider from an authorization URL — its redirects and its login form — until it
 * sends the browser back to `<appOrigin>/api/auth/callback`; answers that callback URL, unused.
 */
export function throughProvider(authorizationUrl: string, user = 'alice', jar = new Jar(), appOrigin = APP): Promise<string> {
  return throughLoginForm(authorizationUrl, { until: `${appOrigin}/api/auth/callback`, user, jar });
}

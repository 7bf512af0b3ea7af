import {
  CSRF_HEADER,
  DEFAULT_REFRESH_POLICY,
  IDLE_HEADER,
  isTerminalCode,
  refreshDueAt,
  refreshLeadSeconds,
  responseError,
  remainingSeconds,
  tokenTiming,
  type LatchkeyErrorCode,
  type RefreshPolicy,
  type SessionUser,
  type SignedOutReason,
  type TokenResponseBody,
} from '@latchkey/core';
import { AuthClientError } from './errors.js';
import { browserChannel, browserLocks, type AccessToken, type TabChannel, type TabLocks, type TabMessage } from './tabs.js';
import { browserActivity, browserTriggers, type TriggerManager, type TriggerSetup } from './triggerManager.js';

export type { AccessToken } from './tabs.js';
export type AuthStatus = 'loading' | 'authenticated' | 'unauthenticated';

/** What the UI renders from; a new object only when something changed. */
export interface AuthSnapshot {
  status: AuthStatus;
  user: SessionUser | undefined;
  /** Present while authenticated. Read it for display only; use `getAccessToken()` to call APIs. */
  token: AccessToken | undefined;
  /** The last failure, cleared on the next success. Temporary trouble sets it without signing out. */
  lastError: AuthClientError | undefined;
  /** Why the client is signed out. */
  reason: SignedOutReason | undefined;
}


export interface AuthClientOptions {
  /** Where the BFF's routes are (default `/api/auth`). */
  baseUrl?: string;
  /** When a refresh is due (default: max(60 s, 20 %) before expiry, capped at half the lifetime). */
  policy?: RefreshPolicy;
  /** Called once when the session ends (terminal answer, sign-out, or either in another tab). */
  onSessionEnded?: (reason: SignedOutReason) => void;
  fetch?: typeof fetch;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
  /** Source of "check now" moments: a `TriggerManager` or a bare setup (default: visibility, focus, online, pageshow). */
  triggers?: TriggerManager | TriggerSetup;
  /** Source of user activity for the BFF's idle timeout, as `triggers` (default: pointer, keys, touch, wheel). */
  activity?: TriggerManager | TriggerSetup;
  /** Whether the browser thinks it is online (default `navigator.onLine`); offline, retries wait for `online`. */
  isOnline?: () => boolean;
  /** Web Locks for one refresh across tabs (default `navigator.locks`; `null` to turn off). */
  locks?: TabLocks | null;
  /** Opens the channel tabs share tokens and sign-outs on (default `BroadcastChannel`; `null` to turn off). */
  channel?: ((name: string) => TabChannel | undefined) | null;
  /** Full-page navigation (default `location.assign`). */
  navigate?: (url: string) => void;
  /** The current in-app path for `login()`'s default returnTo. */
  currentPath?: () => string;
  /**
   * Origins besides the page's own that `fetch` sends the access token to, as `URL.origin`
   * spells them (`['https://api.example.com']`). Every other URL is fetched as it is, without the
   * token. In development, an entry spelled otherwise throws `configuration_error`.
   */
  apiOrigins?: string[];
  /** The page's origin, whose URLs get the token too (default `location.origin`, read on each call). */
  pageOrigin?: () => string | undefined;
  /**
   * Who is signed in as the server rendered the page (`null`: nobody), so the first paint
   * needs no request: signed out, none is made; signed in, the token is fetched on mount.
   * Left out, the client asks the BFF on mount.
   */
  initialSession?: SessionUser | null;
  /**
   * Left out, token mode: the access token is held here, in memory, and `fetch(url)` attaches it.
   * `proxyMode()` from `@latchkey/client/proxy`: the browser holds no token at all, and the BFF
   * attaches it to calls made through `fetch(api, path)`.
   */
  mode?: AuthMode;
  /**
   * `dpop()` from `@latchkey/client/dpop`: the BFF binds access tokens to a key held in this
   * browser (RFC 9449), and each call that carries one is sent with a proof signed by that key.
   */
  dpop?: TokenBinding;
}

/**
 * Binds access tokens to a key (`dpop()`): given the client's options, it returns the `fetch`
 * the client sends through, which signs what needs a proof. The client calls nothing else of it.
 */
export type TokenBinding = (options: BindingOptions, client: AuthClient) => typeof fetch;

/** The client's options a `TokenBinding` works with, browser defaults filled in. */
export type BindingOptions = Readonly<
  Required<Pick<AuthClientOptions, 'fetch' | 'baseUrl' | 'now' | 'pageOrigin'>> & Pick<AuthClientOptions, 'locks' | 'channel'>
>;

/**
 * An opt-in way of reaching the session, such as `proxyMode()` from `@latchkey/client/proxy`, so
 * an app in token mode does not ship it. Each member replaces one step of token mode.
 */
export interface AuthMode {
  /**
   * Asks the BFF for the session in place of `POST /token`, in a mode that holds no token: the
   * answer reads as `/token`'s, but with the `user` alone (200), 204 when signed out, or an error.
   */
  load?(bff: BffCall): Promise<Response>;
  /** Throws why this mode holds no access token (`getAccessToken()` rejects with it). */
  noToken?(): void;
  /**
   * `fetch(api, path, init)`, called once the session is loaded and while signed in: a call
   * through the BFF's proxy. It passes an error of the BFF's own that is a verdict on the session
   * to `failed` (a terminal code ends it in every tab, anything else is kept in `lastError`).
   */
  fetch?(bff: BffCall, failed: (response: Response, verdict: BffError) => void, api: string, path: `/${string}`, init?: RequestInit): Promise<Response>;
}

/** Calls one of the BFF's routes with the cookie, the CSRF header and the idle seconds (by default a `POST`). */
export type BffCall = (route: string, init?: RequestInit) => Promise<Response>;

/** An error a BFF answered with, as core's `responseError()` reads it. */
export type BffError = ReturnType<typeof responseError>;

/**
 * The authed `fetch`. `fetch(url, init)` sends the access token along (token mode); `fetch(api,
 * path, init)` goes through the BFF's proxy, `${baseUrl}/proxy/${api}${path}`, which attaches it
 * on the server (with `mode: proxyMode()`).
 */
export interface AuthFetch {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  (api: string, path: `/${string}`, init?: RequestInit): Promise<Response>;
}

const MAX_TIMER_MS = 3_600_000;
const MAX_BACKOFF_MS = 60_000;
/** Signed in with no token (proxy mode): how often a mounted client asks the BFF whether the session still lives. */
const SESSION_POLL_MS = 60_000;
/** How the client calls its own BFF routes: parameters in the query, no body to read. */
const POST: RequestInit = { method: 'POST', cache: 'no-store', headers: { 'content-type': 'application/json' } };

/**
 * The browser's session manager: keeps the access token in this closure only, refreshes it
 * before expiry and when the tab comes back, one refresh at a time across all tabs, and hands
 * out a `fetch` that attaches the token and retries once when an API says it expired. A `mode`
 * (`proxyMode()`) replaces the token steps with its own.
 */
export class AuthClient {
  /** The `BroadcastChannel` name tabs of this app share (devtools listen on it too). */
  readonly channelName: string;
  /** The options with browser defaults filled in. */
  readonly #o: Required<Omit<AuthClientOptions, 'onSessionEnded' | 'locks' | 'channel' | 'initialSession' | 'mode' | 'dpop'>> & AuthClientOptions;
  readonly #subscribers = new Set<(trigger?: string) => void>();
  #snapshot: AuthSnapshot;
  #flight: Promise<void> | undefined;
  #timer: unknown;
  #mounts = 0;
  #detach: (() => void) | undefined;
  #channel: TabChannel | undefined;
  #failures = 0;
  #started = false;
  /** Counts sign-outs: a /token answer that left before the latest one is stale news. */
  #ends = 0;
  /** Last input in any tab (local ms); opening the page (the first mount) counts as use. */
  #input = 0;

  constructor(options: AuthClientOptions = {}) {
    const o = (this.#o = {
      baseUrl: '/api/auth',
      policy: DEFAULT_REFRESH_POLICY,
      fetch: (...args) => fetch(...args),
      now: () => Date.now(),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id as number),
      triggers: browserTriggers,
      activity: browserActivity,
      isOnline: () => globalThis.navigator?.onLine !== false,
      locks: browserLocks(),
      channel: browserChannel,
      navigate: (url) => location.assign(url),
      currentPath: () => location.pathname + location.search,
      apiOrigins: [] as string[],
      pageOrigin: () => globalThis.location?.origin,
    });
    // Only options actually given replace a default; `null` turns locks or the channel off.
    for (const [key, value] of Object.entries(options)) if (value !== undefined) (o as Record<string, unknown>)[key] = value;
    o.baseUrl = o.baseUrl.replace(/\/+$/, '');
    // Entries are compared as they are, so one spelled otherwise than `URL.origin` never matches
    // (the token is not sent). Development builds say so at once; production ones skip the check.
    if (process.env.NODE_ENV !== 'production') o.apiOrigins.forEach(checkOrigin);
    this.channelName = `latchkey:${o.baseUrl}`;
    // DPoP signs requests on their way out: the token request, and calls carrying a DPoP token.
    if (options.dpop) o.fetch = options.dpop(o, this);
    // No clock or randomness here: a server render (prerendering in Next) constructs clients too.
    const initial = options.initialSession;
    const status = initial === undefined ? 'loading' : initial ? 'authenticated' : 'unauthenticated';
    this.#snapshot = { status, user: initial ?? undefined, token: undefined, lastError: undefined, reason: undefined };
  }

  /**
   * Calls `listener` on every snapshot change until the returned function is called, with what
   * started the change when it is known (`timer`, `focus`, `request`, `tab`: another tab's
   * refresh…). `on()` from `@latchkey/client/extras` turns these calls into named events.
   */
  subscribe = (listener: (trigger?: string) => void): (() => void) => {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  };

  /** The current state; the same object until something changes. */
  getSnapshot = (): AuthSnapshot => this.#snapshot;

  /**
   * Starts the client: loads the session once, then attaches timers, triggers and the tab
   * channel. Mounts are counted; the returned function unmounts, and the last unmount
   * detaches everything.
   */
  mount(): () => void {
    if (++this.#mounts === 1) {
      this.#input ||= this.#o.now();
      const channel = (this.#channel = this.#o.channel?.(this.channelName));
      if (channel) channel.onmessage = (event) => this.#onMessage(event.data);
      const offTriggers = listen(this.#o.triggers, (source) => this.#check(source));
      const offActivity = listen(this.#o.activity, () => {
        const at = this.#o.now();
        // Tell the other tabs now and then, so whichever tab refreshes reports it.
        if (at - this.#input > 1e4) this.#broadcast({ t: 'input', at });
        this.#input = at;
      });
      this.#detach = () => {
        offTriggers?.();
        offActivity?.();
        channel?.close();
      };
      if (this.#started) this.#schedule();
      else {
        this.#started = true;
        // Known signed out by the server: nothing to ask until someone signs in.
        if (this.#snapshot.status !== 'unauthenticated') void this.refresh('initial');
      }
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#mounts === 0) {
        this.#detach!();
        this.#channel = undefined;
        this.#cancelTimer();
      }
    };
  }

  /**
   * A usable access token: the one in memory, or, when it is due, a fresh one (every caller
   * awaits the same refresh, including one a focus or wake started). Rejects with
   * `login_required` when signed out. Bound, so it can be passed around.
   */
  getAccessToken = (): Promise<string> => this.#token().then((token) => token.value);

  async #token(): Promise<AccessToken> {
    this.#o.mode?.noToken?.();
    // Starts a refresh when one is due, or joins the one under way.
    this.#check('request');
    await this.#ready();
    const { token, lastError } = this.#snapshot;
    if (!token || token.expiresAt <= this.#o.now()) throw lastError ?? new AuthClientError('network_error', 'No access token.');
    return token;
  }

  /** Waits for a session check under way; rejects with the reason when signed out. */
  async #ready(): Promise<number> {
    await this.#flight;
    const { status, reason } = this.#snapshot;
    if (status === 'unauthenticated') throw new AuthClientError(reason ?? 'login_required', 'Not signed in.');
    return this.#ends;
  }

  /**
   * Refreshes now unless a refresh is already under way, in which case it joins that one. Never
   * rejects. `minValidity` asks the BFF for a token valid that many seconds (`ensureFresh()` in
   * `@latchkey/client/extras`).
   */
  refresh(trigger = 'manual', minValidity?: number): Promise<void> {
    return (this.#flight ??= this.#runRefresh(trigger, minValidity).finally(() => (this.#flight = undefined)));
  }

  /**
   * `fetch(url, init)`: `fetch` with the access token attached. On a 401 that says the token is
   * no good it refreshes once (or takes a token another caller already refreshed) and retries
   * once, when the body can be sent again. It never loops.
   *
   * `fetch(api, path, init)`: through the BFF's proxy (see {@link AuthFetch}); a terminal answer
   * of the BFF ends the session, and every other answer is the API's own, returned as it is.
   */
  fetch: AuthFetch = async (input: RequestInfo | URL, init: RequestInit | string = {}, proxied?: RequestInit): Promise<Response> => {
    if (typeof init === 'string') {
      // Like a token: wait for the session's first load (or a check under way), and refuse while signed out.
      const ends = await this.#ready();
      // A verdict that comes back after the session ended is stale news.
      const failed = (response: Response, verdict: BffError) => ends === this.#ends && this.#failed(response, verdict, 'proxy');
      return this.#o.mode!.fetch!(this.#post, failed, input as string, init as `/${string}`, proxied);
    }
    // Any other origin is fetched as it is: no token, and so no refresh or retry for it.
    if (!this.#trusts(input)) return this.#o.fetch(input, init);
    // What a retry sends: a Request is replayed from its clone; a stream body is gone once sent.
    const replay = !(init.body instanceof ReadableStream) && (input instanceof Request ? !input.bodyUsed && input.clone() : input);
    const token = await this.#token();
    const response = await this.#send(input, init, token);
    if (response.status !== 401 || !replay || !(await tokenRejected(response))) return response;

    // Someone else may have refreshed while this request was out: use theirs. Otherwise ask
    // for more validity than the rejected token has, so the BFF cannot answer with it again.
    if (this.#snapshot.token === token) await this.refresh('rejected', Math.ceil(this.remainingSeconds()) + 1);
    // Signed out meanwhile, or no newer token: the 401 stands.
    const fresh = await this.#token().catch(() => token);
    if (fresh === token) return response;
    const retried = await this.#send(replay, init, fresh);
    if (retried.status === 401) {
      const { description } = await readError(retried);
      this.#set({ lastError: new AuthClientError('invalid_token', description ?? 'The API refused the new token too.', { status: 401 }) }, 'rejected');
    }
    return retried;
  };

  /**
   * Sends the browser to the BFF's sign-in route; `returnTo` defaults to the current path.
   * `params` are authorization parameters for this sign-in (`prompt`, `login_hint`…) that the
   * BFF allows. Bound, so it can be passed around.
   */
  login = (returnTo?: string, params?: Record<string, string>): void => {
    const query = new URLSearchParams({ ...params, returnTo: returnTo ?? this.#o.currentPath() });
    this.#o.navigate(`${this.#o.baseUrl}/login?${query}`);
  };

  /**
   * Signs out here and in every other tab: the BFF revokes the refresh token and clears the
   * cookie. The token in memory is dropped even when the BFF cannot be reached. With
   * `endProviderSession`, the browser then goes to the provider's logout page so the next
   * sign-in asks for credentials again.
   */
  logout = async (options: { endProviderSession?: boolean } = {}): Promise<void> => {
    // Signed out here all the same when the BFF cannot be reached; the cookie ends with its lifetime.
    const url: unknown = await this.#post('logout')
      .then((response) => response.ok && response.json())
      .then((body) => body?.endSessionUrl, () => undefined);
    this.#end('logged_out', undefined, true);
    if (options.endProviderSession && typeof url === 'string') this.#o.navigate(url);
  };

  /** Seconds since the last input in any tab; before the first mount the page has only just opened: 0. */
  #idle(): string {
    const now = this.#o.now();
    return String(Math.max(0, Math.floor((now - (this.#input || now)) / 1000)));
  }

  /** Seconds the current token has left (0 when there is none). */
  remainingSeconds(): number {
    const token = this.#snapshot.token;
    return token ? remainingSeconds(token, this.#o.now()) : 0;
  }

  /**
   * A call to the BFF, with its cookie, the CSRF header and the idle seconds; by default a
   * `POST` whose parameters go in the query: the BFF answers sooner with no request stream to read.
   */
  #post = (route: string, init: RequestInit = POST): Promise<Response> =>
    this.#o.fetch(`${this.#o.baseUrl}/${route}`, { ...init, headers: { ...(init.headers as object), [CSRF_HEADER]: '1', [IDLE_HEADER]: this.#idle() } });
  /** Whether a URL may be sent the token: it is on the page's origin or on one of `apiOrigins`. */
  #trusts(input: RequestInfo | URL): boolean {
    const page = this.#o.pageOrigin();
    try {
      // Relative URLs resolve against the page; without one (no `location`) they are trusted nowhere.
      const { origin } = new URL(input instanceof Request ? input.url : input, page);
      return origin === page || this.#o.apiOrigins.includes(origin);
    } catch {
      return false;
    }
  }

  /** Sends with `Authorization: <scheme> <token>`, the scheme the BFF named (`Bearer`, or `DPoP`, whose proof `dpop` adds). */
  #send(input: RequestInfo | URL, init: RequestInit, token: AccessToken): Promise<Response> {
    const headers = new Headers(init.headers ?? (input as Request).headers);
    headers.set('authorization', `${token.type} ${token.value}`);
    return this.#o.fetch(input, { ...init, headers });
  }

  /** One refresh under the cross-tab lock: a tab that waited behind another uses its broadcast token. */
  async #runRefresh(trigger: string, minValidityOverride: number | undefined): Promise<void> {
    const before = this.#snapshot.token;
    // Ask for more validity than the due threshold, so the BFF cannot answer with the due token.
    const minValidity =
      minValidityOverride ?? (before ? Math.ceil(refreshLeadSeconds((before.expiresAt - before.receivedAt) / 1000, this.#o.policy)) + 1 : undefined);
    const run = async () => {
      const current = this.#snapshot.token;
      if (current && current !== before && this.remainingSeconds() > (minValidity ?? 0)) return;
      await this.#callBff(trigger, minValidity);
    };
    // Where locks are refused (a sandboxed frame, say), go without: the BFF dedupes.
    await (this.#o.locks?.request(this.channelName, run).catch(run) ?? run());
  }

  async #callBff(trigger: string, minValidity: number | undefined): Promise<void> {
    // TokenRequestBody's fields, as query parameters.
    const query = new URLSearchParams({ idle: this.#idle() });
    if (minValidity) query.set('minValidity', String(Math.min(86_400, minValidity)));
    // Not known to be signed in yet: no cookie is a 204, not a 401 error in the console.
    const probing = this.#snapshot.status === 'loading';
    if (probing) query.set('optional', '1');
    const ends = this.#ends;
    const mode = this.#o.mode;
    let response: Response;
    try {
      response = await (mode?.load ? mode.load(this.#post) : this.#post(`token?${query}`));
    } catch (cause) {
      return this.#temporaryFailure(new AuthClientError('network_error', 'Sign-in service could not be reached.', { cause }), trigger);
    }
    const json = (await response.json().catch(() => undefined)) as Partial<TokenResponseBody> | undefined;
    // Signed out (here or in another tab) while this was under way: neither its token nor its 401 may undo or re-word that.
    if (ends !== this.#ends) return;
    // No session: the answer to a probe (`optional`), or a mode's session gone. Only a session that was known here is news for other tabs.
    if (response.status === 204) return this.#end('login_required', undefined, true);
    // In a mode that loads the session itself, the answer carries the user alone.
    if (response.ok && json?.user && (mode?.load || (typeof json.accessToken === 'string' && typeof json.expiresIn === 'number'))) {
      const token: AccessToken | undefined = json.accessToken ? { value: json.accessToken, type: json.tokenType!, ...tokenTiming(this.#o.now(), json.expiresIn!), scope: json.scope! } : undefined;
      if (token) this.#broadcast({ t: 'token', token, user: json.user });
      this.#adopt(token, json.user, trigger);
      return;
    }
    this.#failed(response, responseError(response.headers, json), trigger);
  }

  /** A failed answer of the BFF: a terminal code ends the session in every tab; anything else is temporary trouble. */
  #failed(response: Response, verdict: BffError, trigger: string) {
    const error = new AuthClientError(
      (verdict.code ?? (response.ok ? 'unexpected_response' : 'server_error')) as LatchkeyErrorCode,
      verdict.description ?? `Sign-in service answered ${response.status}.`,
      { status: response.status, retryAfter: verdict.retryAfter },
    );
    if (isTerminalCode(verdict.code)) return this.#end(verdict.code, error, true, trigger);
    this.#temporaryFailure(error, trigger);
  }

  /** Signed in with this user, and with this token in token mode (none in proxy mode: no event either). */
  #adopt(token: AccessToken | undefined, user: SessionUser, trigger: string) {
    this.#failures = 0;
    this.#set({ status: 'authenticated', user, token, lastError: undefined, reason: undefined }, trigger);
    this.#schedule();
  }

  #onMessage(message: TabMessage) {
    if (message.t === 'token') {
      // Adopt only what is not older than ours: messages from several tabs may cross.
      const held = this.#snapshot.token;
      if (!held || (message.token.value !== held.value && message.token.expiresAt >= held.expiresAt)) {
        this.#adopt(message.token, message.user, 'tab');
      }
    } else if (message.t === 'end') this.#end(message.reason);
    else if (message.t === 'input') this.#input = Math.max(this.#input, message.at);
  }

  /** Trouble that is not a verdict on the session: keep the token, say what happened, try again later. */
  #temporaryFailure(error: AuthClientError, trigger: string) {
    this.#set({ lastError: error }, trigger);
    // Offline, the `online` trigger retries; a timer would only spin. A 500 (the BFF is
    // misconfigured, `configuration_error`) does not pass by waiting: no retry loop in every tab.
    if (!this.#o.isOnline() || error.status === 500) return this.#cancelTimer();
    // Equal jitter: wait between half and all of the step (1 s, 2 s, 4 s… up to 60 s), so
    // clients that failed together spread out, yet none retries at once (full jitter may wait
    // 0 ms). A Retry-After is the least wait, never cut short by the jitter.
    const step = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.#failures++);
    this.#arm(Math.max((error.retryAfter ?? 0) * 1000, (step * (1 + Math.random())) / 2), 'retry');
  }

  /** Ends the session here; `tell` other tabs too unless the news came from one of them. */
  #end(reason: SignedOutReason, error?: AuthClientError, tell?: boolean, trigger?: string) {
    this.#ends++;
    // Only a session that ended here is news for other tabs; a page that found none (a tab
    // reopened after sign-out) must not re-word the reason they show.
    if (tell && this.#snapshot.user) this.#broadcast({ t: 'end', reason });
    this.#cancelTimer();
    const { status } = this.#snapshot;
    this.#set({ status: 'unauthenticated', user: undefined, token: undefined, lastError: error, reason }, trigger);
    // Nothing ended for a visitor who was never signed in (a first load without a session).
    if (status !== 'unauthenticated' && !(status === 'loading' && reason === 'login_required')) safely(() => this.#o.onSessionEnded?.(reason));
  }

  #broadcast(message: TabMessage) {
    this.#channel?.postMessage(message);
  }

  #isDue(token: AccessToken): boolean {
    return this.#o.now() >= refreshDueAt(token, this.#o.policy);
  }

  /** Refreshes now when the session is still loading or the token is due (or, back online, after a failure). */
  #check(source: string) {
    const { token, status, lastError } = this.#snapshot;
    if (status === 'loading' || (status === 'authenticated' && (!token || this.#isDue(token))) || (lastError && source === 'online')) {
      void this.refresh(source);
    }
  }

  /** Arms the timer: at the token's due time, or (signed in with no token) at the next look at the session. */
  #schedule() {
    const { token, status } = this.#snapshot;
    if (status === 'authenticated') this.#arm(token ? refreshDueAt(token, this.#o.policy) - this.#o.now() : SESSION_POLL_MS, 'timer');
  }

  #arm(delayMs: number, trigger: string) {
    this.#cancelTimer();
    if (this.#mounts === 0) return;
    // Long delays are clamped and re-armed: timers overflow past 2^31 ms and drift in sleep.
    this.#timer = this.#o.setTimeout(
      () => {
        this.#timer = undefined;
        const token = this.#snapshot.token;
        if (trigger === 'retry' || !token || this.#isDue(token)) void this.refresh(trigger);
        else this.#schedule();
      },
      Math.max(0, Math.min(delayMs, MAX_TIMER_MS)),
    );
  }

  #cancelTimer() {
    if (this.#timer !== undefined) this.#o.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(patch: Partial<AuthSnapshot>, trigger?: string) {
    if ((Object.keys(patch) as (keyof AuthSnapshot)[]).every((k) => patch[k] === this.#snapshot[k])) return;
    this.#snapshot = { ...this.#snapshot, ...patch };
    for (const listener of this.#subscribers) safely(() => listener(trigger));
  }

}

/**
 * Runs app code (listeners, `onSessionEnded`). Its error is rethrown in a microtask, so it
 * reaches the console and `window.onerror` like any uncaught error, but never unwinds into
 * the refresh: the timer is still re-armed, the lock callback does not fail (and so is not
 * run a second time), and `refresh()` still never rejects.
 */
function safely(run: () => void) {
  try {
    run();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Refuses an `apiOrigins` entry that is not an origin as `URL.origin` spells it, naming that spelling when there is one. */
function checkOrigin(entry: string): void {
  let origin: string | undefined;
  try {
    const url = new URL(entry);
    // Anything but scheme, host and port (a path, a query, credentials) makes it no origin.
    if (url.href === `${url.origin}/`) origin = url.origin;
  } catch {
    // Not a URL at all.
  }
  if (origin !== entry) {
    throw new AuthClientError('configuration_error', `apiOrigins: "${entry}" is not an origin${origin ? `; write "${origin}"` : ''}.`);
  }
}

/** The error an answer names, reading its JSON body from a clone so the caller can still read it. */
async function readError(response: Response) {
  return responseError(response.headers, await response.clone().json().catch(() => undefined));
}

/**
 * Whether an API's 401 says the token is no good, so a new one may pass: RFC 6750's
 * `invalid_token` (or a JSON `token_expired`), or a `Bearer` challenge that names no error
 * (the token was missing or unusable). Any other 401 stands.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
async function tokenRejected(response: Response): Promise<boolean> {
  const { code, bearer } = await readError(response);
  return code === 'invalid_token' || code === 'token_expired' || (bearer && !code);
}

/** Subscribes to a trigger source: a `TriggerManager`, or a bare setup run for this client alone. */
function listen(source: TriggerManager | TriggerSetup, listener: (source: string) => void): (() => void) | void {
  return typeof source === 'function' ? source(listener) : source.subscribe(listener);
}

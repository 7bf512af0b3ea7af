import {
  CSRF_HEADER,
  DEFAULT_REFRESH_POLICY,
  classifyResponse,
  isErrorBody,
  isTerminalCode,
  refreshDueAt,
  refreshLeadSeconds,
  remainingSeconds,
  tokenTiming,
  type LatchkeyErrorCode,
  type RefreshPolicy,
  type SessionUser,
  type SignedOutReason,
  type TokenResponseBody,
} from '@latchkey/core';
import { AuthClientError } from './errors.js';
import { TriggerManager } from './triggerManager.js';

export type AuthStatus = 'loading' | 'authenticated' | 'unauthenticated';

/** An access token as the client holds it; `expiresAt` is on the local clock (ms). */
export interface AccessToken {
  value: string;
  receivedAt: number;
  expiresAt: number;
  scope: string;
}

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

export interface AuthEvents {
  tokenRefreshed: { token: AccessToken; trigger: string };
  sessionEnded: { reason: SignedOutReason };
  refreshFailed: { error: AuthClientError; trigger: string };
}

export interface AuthClientOptions {
  /** Where the BFF's routes are (default `/api/auth`). */
  baseUrl?: string;
  /** When a refresh is due (default: max(60 s, 20 %) before expiry, capped at half the lifetime). */
  policy?: RefreshPolicy;
  /** Called once when the session ends (terminal answer or logout). */
  onSessionEnded?: (reason: SignedOutReason) => void;
  fetch?: typeof fetch;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
  /** Source of "check now" moments (default: visibility, focus, online, pageshow). */
  triggers?: TriggerManager;
  /** Full-page navigation (default `location.assign`). */
  navigate?: (url: string) => void;
  /** The current in-app path for `login()`'s default returnTo. */
  currentPath?: () => string;
}

const MAX_TIMER_MS = 60 * 60 * 1000;
const MAX_BACKOFF_MS = 60_000;

/**
 * The browser's session manager: keeps the access token in this closure only, refreshes it
 * before expiry and when the tab comes back, one refresh at a time, and hands out a `fetch`
 * that attaches the token and retries once when an API says it expired.
 */
export class AuthClient {
  readonly #baseUrl: string;
  readonly #policy: RefreshPolicy;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #setTimeout: (fn: () => void, ms: number) => unknown;
  readonly #clearTimeout: (id: unknown) => void;
  readonly #triggers: TriggerManager;
  readonly #navigate: (url: string) => void;
  readonly #currentPath: () => string;
  readonly #onSessionEnded: ((reason: SignedOutReason) => void) | undefined;
  readonly #subscribers = new Set<() => void>();
  readonly #events: { [K in keyof AuthEvents]: Set<(payload: AuthEvents[K]) => void> } = {
    tokenRefreshed: new Set(),
    sessionEnded: new Set(),
    refreshFailed: new Set(),
  };
  #snapshot: AuthSnapshot = { status: 'loading', user: undefined, token: undefined, lastError: undefined, reason: undefined };
  #flight: Promise<void> | undefined;
  #timer: unknown;
  #mounts = 0;
  #unsubscribeTriggers: (() => void) | undefined;
  #failures = 0;
  #started = false;

  constructor(options: AuthClientOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? '/api/auth').replace(/\/+$/, '');
    this.#policy = options.policy ?? DEFAULT_REFRESH_POLICY;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#now = options.now ?? (() => Date.now());
    this.#setTimeout = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.#clearTimeout = options.clearTimeout ?? ((id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>));
    this.#triggers = options.triggers ?? new TriggerManager();
    this.#navigate = options.navigate ?? ((url) => globalThis.location.assign(url));
    this.#currentPath = options.currentPath ?? (() => `${globalThis.location.pathname}${globalThis.location.search}`);
    this.#onSessionEnded = options.onSessionEnded;
  }

  /** Calls `listener` on every snapshot change until the returned function is called. */
  subscribe = (listener: () => void): (() => void) => {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  };

  /** The current state; the same object until something changes. */
  getSnapshot = (): AuthSnapshot => this.#snapshot;

  /** Listens to one kind of event; returns the unsubscribe function. */
  on<K extends keyof AuthEvents>(type: K, listener: (payload: AuthEvents[K]) => void): () => void {
    this.#events[type].add(listener);
    return () => this.#events[type].delete(listener);
  }

  /**
   * Starts the client: loads the session once, then attaches timers and triggers. Mounts are
   * counted; the returned function unmounts, and the last unmount detaches everything.
   */
  mount(): () => void {
    this.#mounts += 1;
    if (this.#mounts === 1) {
      this.#unsubscribeTriggers = this.#triggers.subscribe((source) => this.#onTrigger(source));
      if (!this.#started) {
        this.#started = true;
        void this.refresh('initial').catch(() => {});
      } else {
        this.#schedule();
      }
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#mounts -= 1;
      if (this.#mounts === 0) {
        this.#unsubscribeTriggers?.();
        this.#unsubscribeTriggers = undefined;
        this.#cancelTimer();
      }
    };
  }

  /**
   * A usable access token: the one in memory, or, when it is due, a fresh one (every caller
   * awaits the same refresh). Rejects with `login_required` when signed out.
   */
  async getAccessToken(): Promise<string> {
    if (this.#snapshot.status === 'loading' || (this.#snapshot.token && this.#isDue(this.#snapshot.token))) {
      await this.refresh('request').catch(() => {});
    }
    const { token, status, reason, lastError } = this.#snapshot;
    if (status === 'authenticated' && token && token.expiresAt > this.#now()) return token.value;
    if (status === 'unauthenticated') {
      throw new AuthClientError(reason === 'logged_out' ? 'logged_out' : (reason ?? 'login_required'), 'Not signed in.');
    }
    throw lastError ?? new AuthClientError('network_error', 'No access token could be obtained.');
  }

  /** Refreshes now unless a refresh is already under way, in which case it joins that one. */
  refresh(trigger = 'manual'): Promise<void> {
    return this.#refreshWith(trigger, undefined);
  }

  #refreshWith(trigger: string, minValidity: number | undefined): Promise<void> {
    this.#flight ??= this.#runRefresh(trigger, minValidity).finally(() => {
      this.#flight = undefined;
    });
    return this.#flight;
  }

  /**
   * `fetch` with the access token attached. On a 401 that says the token is no good it
   * refreshes once (or takes a token another caller already refreshed) and retries once, when
   * the body can be sent again. It never loops.
   */
  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const replay = input instanceof Request && !input.bodyUsed ? input.clone() : undefined;
    // A stream body is gone once sent; a Request is replayed from its clone.
    const canRetry = !(init.body instanceof ReadableStream) && (!(input instanceof Request) || replay !== undefined);
    const token = await this.getAccessToken();
    const response = await this.#send(input, init, token);
    if (response.status !== 401 || !canRetry) return response;
    const body = await response.clone().json().catch(() => undefined);
    const verdict = classifyResponse(response.status, response.headers, body);
    if (verdict.kind !== 'refresh') return response;

    let fresh: string;
    try {
      // Someone else may have refreshed while this request was out: use theirs.
      const current = this.#snapshot.token?.value;
      // Ask for more validity than the rejected token has, so the BFF cannot answer with it again.
      if (current === token) await this.#refreshWith('rejected', Math.min(86_400, Math.ceil(this.remainingSeconds()) + 1));
      fresh = await this.getAccessToken();
    } catch {
      return response;
    }
    if (fresh === token) return response;
    const retried = await this.#send(replay ?? input, init, fresh);
    if (retried.status === 401) {
      const again = classifyResponse(401, retried.headers, await retried.clone().json().catch(() => undefined));
      this.#set({
        lastError: new AuthClientError('invalid_token', again.description ?? 'The API refused a freshly refreshed access token.', { status: 401 }),
      });
    }
    return retried;
  };

  /** Sends the browser to the BFF's sign-in route; `returnTo` defaults to the current path. */
  login(returnTo?: string): void {
    const target = returnTo ?? this.#currentPath();
    this.#navigate(`${this.#baseUrl}/login?returnTo=${encodeURIComponent(target)}`);
  }

  /**
   * Signs out: the BFF revokes the refresh token and clears the cookie. The token in memory is
   * dropped even when the BFF cannot be reached. With `endProviderSession`, the browser then
   * goes to the provider's logout page so the next sign-in asks for credentials again.
   */
  async logout(options: { endProviderSession?: boolean } = {}): Promise<void> {
    let endSessionUrl: string | undefined;
    try {
      const response = await this.#fetch(`${this.#baseUrl}/logout`, this.#postInit({}));
      const body: unknown = await response.json().catch(() => undefined);
      if (response.ok && typeof body === 'object' && body && typeof (body as { endSessionUrl?: unknown }).endSessionUrl === 'string') {
        endSessionUrl = (body as { endSessionUrl: string }).endSessionUrl;
      }
    } finally {
      this.#end('logged_out');
    }
    if (options.endProviderSession && endSessionUrl) this.#navigate(endSessionUrl);
  }

  #postInit(body: object): RequestInit {
    return {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
      body: JSON.stringify(body),
    };
  }

  #send(input: RequestInfo | URL, init: RequestInit, token: string): Promise<Response> {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token}`);
    return this.#fetch(input, { ...init, headers });
  }

  async #runRefresh(trigger: string, minValidityOverride: number | undefined): Promise<void> {
    const previous = this.#snapshot.token;
    const minValidity = minValidityOverride ?? (previous ? Math.ceil(this.#lead(previous)) + 1 : undefined);
    let response: Response;
    try {
      response = await this.#fetch(`${this.#baseUrl}/token`, this.#postInit(minValidity === undefined ? {} : { minValidity }));
    } catch (cause) {
      return this.#temporaryFailure(new AuthClientError('network_error', 'The sign-in service could not be reached.', { cause }), trigger);
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok && isTokenBody(body)) {
      const now = this.#now();
      const timing = tokenTiming(now, body.expiresIn);
      const token: AccessToken = { value: body.accessToken, receivedAt: timing.receivedAt, expiresAt: timing.expiresAt, scope: body.scope };
      this.#failures = 0;
      this.#set({ status: 'authenticated', user: body.user, token, lastError: undefined, reason: undefined });
      this.#emit('tokenRefreshed', { token, trigger });
      this.#schedule();
      return;
    }
    const verdict = classifyResponse(response.status, response.headers, body);
    const code = (verdict.code ?? (response.ok ? 'unexpected_response' : 'server_error')) as LatchkeyErrorCode;
    const message = verdict.description ?? (isErrorBody(body) ? body.error_description : `The sign-in service answered ${response.status}.`);
    const error = new AuthClientError(code, message, { status: response.status, ...(verdict.retryAfter !== undefined && { retryAfter: verdict.retryAfter }) });
    if (isTerminalCode(verdict.code)) {
      this.#emit('refreshFailed', { error, trigger });
      this.#end(verdict.code, error);
      return;
    }
    return this.#temporaryFailure(error, trigger);
  }

  /** Trouble that is not a verdict on the session: keep the token, say what happened, try again later. */
  #temporaryFailure(error: AuthClientError, trigger: string) {
    this.#failures += 1;
    this.#set({ lastError: error });
    this.#emit('refreshFailed', { error, trigger });
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.#failures - 1));
    const jittered = backoff / 2 + Math.random() * (backoff / 2);
    const delay = Math.max(error.retryAfter !== undefined ? error.retryAfter * 1000 : 0, jittered);
    this.#arm(delay, 'retry');
  }

  #end(reason: SignedOutReason, error?: AuthClientError) {
    const wasEnded = this.#snapshot.status === 'unauthenticated';
    this.#cancelTimer();
    this.#set({ status: 'unauthenticated', user: undefined, token: undefined, reason, lastError: error });
    if (!wasEnded) {
      this.#emit('sessionEnded', { reason });
      this.#onSessionEnded?.(reason);
    }
  }

  #lead(token: AccessToken): number {
    return refreshLeadSeconds((token.expiresAt - token.receivedAt) / 1000, this.#policy);
  }

  #isDue(token: AccessToken): boolean {
    return this.#now() >= refreshDueAt(token, this.#policy);
  }

  #onTrigger(source: string) {
    const { token, status } = this.#snapshot;
    if (status === 'authenticated' && token && this.#isDue(token)) void this.refresh(source).catch(() => {});
    else if (status === 'loading' && source === 'online') void this.refresh(source).catch(() => {});
  }

  #schedule() {
    const token = this.#snapshot.token;
    if (!token || this.#mounts === 0) return;
    this.#arm(refreshDueAt(token, this.#policy) - this.#now(), 'timer');
  }

  #arm(delayMs: number, trigger: string) {
    this.#cancelTimer();
    if (this.#mounts === 0) return;
    // Long delays are clamped and re-armed: timers overflow past 2^31 ms and drift in sleep.
    const clamped = Math.max(0, Math.min(delayMs, MAX_TIMER_MS));
    this.#timer = this.#setTimeout(() => {
      this.#timer = undefined;
      const token = this.#snapshot.token;
      if (trigger === 'retry' || !token || this.#isDue(token)) void this.refresh(trigger).catch(() => {});
      else this.#schedule();
    }, clamped);
  }

  #cancelTimer() {
    if (this.#timer !== undefined) this.#clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(patch: Partial<AuthSnapshot>) {
    const next = { ...this.#snapshot, ...patch };
    const changed = (Object.keys(next) as (keyof AuthSnapshot)[]).some((k) => next[k] !== this.#snapshot[k]);
    if (!changed) return;
    this.#snapshot = next;
    for (const listener of this.#subscribers) listener();
  }

  #emit<K extends keyof AuthEvents>(type: K, payload: AuthEvents[K]) {
    for (const listener of this.#events[type]) listener(payload);
  }

  /** Seconds the current token has left (0 when there is none). */
  remainingSeconds(): number {
    const token = this.#snapshot.token;
    return token ? remainingSeconds(token, this.#now()) : 0;
  }
}

function isTokenBody(body: unknown): body is TokenResponseBody {
  const b = body as TokenResponseBody;
  return typeof b === 'object' && b !== null && typeof b.accessToken === 'string' && typeof b.expiresIn === 'number' && typeof b.user?.sub === 'string';
}

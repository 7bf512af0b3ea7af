import { DPOP_HTU_HEADER } from '@latchkey/core';
import type { AuthClient, BindingOptions, TokenBinding } from '../AuthClient.js';
import { createDpopKey, DpopProver, isDpopNonceError, nonceOf, type DpopKey } from '../dpop.js';
import type { TabChannel, TabMessage } from '../tabs.js';

export interface DpopOptions {
  /** WebCrypto to make the key and sign with (default `globalThis.crypto`, read when used). */
  crypto?: Crypto;
  /** How long a tab that needs a key waits for another tab to offer one before it makes its own (ms, default 100). */
  keyWaitMs?: number;
}

/** Where each client's binding is, for {@link authHeaders}. */
const bindings = new WeakMap<AuthClient, Binding>();

/**
 * DPoP for the browser (RFC 9449): the BFF binds each access token to a P-256 key made here,
 * non-extractable and held in memory only, and every request that presents the token carries a
 * proof signed with that key, so a copied token is useless without it. All tabs of the app share
 * one key (a `CryptoKey` travels over the client's `BroadcastChannel` and stays unreadable), made
 * by one tab at a time under a Web Lock, so one refresh still serves every tab. Against a BFF
 * without DPoP, tokens stay `Bearer` and nothing is signed.
 * @example
 * const auth = new AuthClient({ dpop: dpop() });
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export function dpop(options: DpopOptions = {}): TokenBinding {
  return (o, client) => {
    const binding = new Binding(o, client, options);
    bindings.set(client, binding);
    return binding.fetch;
  };
}

/**
 * The headers a request to `url` with `method` needs to present the client's access token
 * yourself (a `<video>` source, another HTTP library): `{ authorization }` for a `Bearer` token,
 * `{ authorization, dpop }` for a DPoP one, with a proof for this one request. `getAccessToken()`
 * alone is not enough for a DPoP token: without a proof, an API refuses it.
 * @example
 * const headers = await authHeaders(auth, 'GET', 'https://api.example.com/v1/export');
 */
export async function authHeaders(client: AuthClient, method: string, url: string | URL): Promise<{ authorization: string; dpop?: string }> {
  const value = await client.getAccessToken();
  const binding = bindings.get(client);
  if (!binding || client.getSnapshot().token?.type !== 'DPoP') return { authorization: `Bearer ${value}` };
  return { authorization: `DPoP ${value}`, dpop: await binding.proof(method, binding.absolute(url), value) };
}

/** One client's DPoP: its key (shared with the other tabs), the token endpoint it learned, and the `fetch` that signs. */
class Binding {
  readonly #o: BindingOptions;
  /** The `fetch` underneath: the client's `fetch` becomes this binding's own. */
  readonly #send: typeof fetch;
  readonly #channelName: string;
  readonly #options: DpopOptions;
  #prover: Promise<DpopProver> | undefined;
  /** The provider's token endpoint, as the BFF names it; a `/token` call is signed once it is known. */
  #htu: string | undefined;
  #channel: TabChannel | undefined;
  /** Resolves a wait for another tab's key. */
  #offered: ((key: DpopKey | undefined) => void) | undefined;

  constructor(o: BindingOptions, client: AuthClient, options: DpopOptions) {
    this.#o = o;
    this.#send = o.fetch;
    this.#channelName = client.channelName;
    this.#options = options;
  }

  /** The client's `fetch`: signs its `/token` calls and each call that presents a DPoP token; the rest goes as it is. */
  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    let url: URL;
    try {
      url = this.absolute(input instanceof Request ? input.url : input);
    } catch {
      // A relative URL with no page to resolve it against (no `location`): nothing of ours.
      return this.#send(input, init);
    }
    const method = init.method ?? (input instanceof Request ? input.method : 'GET');
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const authorization = headers.get('authorization');
    if (method === 'POST' && url.origin + url.pathname === this.absolute(`${this.#o.baseUrl}/token`).href) return this.#token(input, init, headers);
    if (!authorization?.startsWith('DPoP ')) return this.#send(input, init);
    return this.#api(input, init, headers, method, url, authorization.slice(5));
  };

  /** `url` made absolute against the page, as a proof's `htu` must be. */
  absolute(url: string | URL): URL {
    return new URL(url, this.#o.pageOrigin() ?? undefined);
  }

  /** A proof for one request; a new `jti` each time, since a server takes each proof once. */
  async proof(method: string, url: URL, accessToken?: string): Promise<string> {
    return (await this.#key()).proof({ htm: method, htu: url, accessToken });
  }

  /**
   * `POST /token` with a proof for the token endpoint, once the BFF has named it. A BFF with DPoP
   * answers the first call of a page, sent without one, 400 `invalid_dpop_proof` naming the
   * endpoint: sent again, once, with a proof. A nonce the provider asks for (400
   * `use_dpop_nonce`) is remembered for the endpoint's origin and the call sent again, once.
   * Every attempt carries a new proof: the BFF refuses one it has seen.
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
   */
  async #token(input: RequestInfo | URL, init: RequestInit, headers: Headers): Promise<Response> {
    let signedFor: string | undefined;
    let nonceRetried = false;
    // At most one retry for each reason: never a loop, whatever the BFF answers.
    for (let attempt = 0; ; attempt++) {
      signedFor = this.#htu;
      if (signedFor) headers.set('dpop', await this.proof('POST', new URL(signedFor)));
      const response = await this.#send(input, { ...init, headers });
      this.#htu = response.headers.get(DPOP_HTU_HEADER) ?? this.#htu;
      if (response.status !== 400 || !this.#htu || attempt === 2) return response;
      const body: unknown = await response.clone().json().catch(() => undefined);
      const nonce = nonceOf(response);
      if (isDpopNonceError(response, body) && nonce && !nonceRetried && signedFor) {
        nonceRetried = true;
        (await this.#key()).rememberNonce(this.#htu, nonce);
        continue;
      }
      // Sent without a proof, or for an endpoint the BFF names otherwise now: once more, signed for it.
      const unsigned = (body as { error?: unknown } | undefined)?.error === 'invalid_dpop_proof' && signedFor !== this.#htu;
      if (!unsigned) return response;
    }
  }

  /**
   * A call that presents a DPoP token: with a proof of this request (`htm`, `htu`, `ath`). An API
   * that asks for a nonce (401 `DPoP error="use_dpop_nonce"`) gets the call again, once, with a
   * new proof that carries it, when the body can be sent again (not a stream).
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-9
   */
  async #api(input: RequestInfo | URL, init: RequestInit, headers: Headers, method: string, url: URL, token: string): Promise<Response> {
    const again = !(init.body instanceof ReadableStream) && (input instanceof Request ? !input.bodyUsed && input.clone() : input);
    const send = async (request: RequestInfo | URL) => {
      headers.set('dpop', await this.proof(method, url, token));
      return this.#send(request, { ...init, headers });
    };
    const response = await send(input);
    const nonce = nonceOf(response);
    if (!again || !nonce || !isDpopNonceError(response)) return response;
    (await this.#key()).rememberNonce(url, nonce);
    return send(again);
  }

  /** This tab's prover: with the key another tab offers, or, when none does, a new key it then offers them. */
  #key(): Promise<DpopProver> {
    return (this.#prover ??= this.#obtain().catch((error: unknown) => {
      this.#prover = undefined;
      throw error;
    }));
  }

  async #obtain(): Promise<DpopProver> {
    const crypto = this.#options.crypto;
    const make = async () => {
      // Under the lock, so that two tabs never make two keys at once: ask first, make only if no tab has one.
      const offered = await this.#ask();
      const prover = await DpopProver.create(offered ?? (await createDpopKey(crypto)), { crypto, now: this.#o.now });
      if (!offered) this.#post({ t: 'key', key: prover.key, htu: this.#htu });
      return prover;
    };
    const locks = this.#o.locks;
    // Where locks are refused (a sandboxed frame), go without: at worst two tabs make a key each, and the other tab's token is refreshed.
    return locks ? locks.request(`${this.#channelName}:dpop-key`, make).catch(make) : make();
  }

  /** Asks the other tabs for their key; resolves with it, or `undefined` when none answers in time. */
  #ask(): Promise<DpopKey | undefined> {
    if (!this.#open()) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#offered?.(undefined), this.#options.keyWaitMs ?? 100);
      this.#offered = (key) => {
        clearTimeout(timer);
        this.#offered = undefined;
        resolve(key);
      };
      this.#post({ t: 'key?' });
    });
  }

  #onMessage(message: TabMessage) {
    if (message.t === 'key?') {
      // Only a key already made is offered; one being made is offered when it is done.
      void this.#prover?.then((prover) => this.#post({ t: 'key', key: prover.key, htu: this.#htu }), () => {});
    } else if (message.t === 'key') {
      this.#htu ??= message.htu;
      this.#offered?.(message.key);
    }
  }

  /** The tab channel, opened on first use (never while a server renders): the client's, by name. */
  #open(): TabChannel | undefined {
    if (!this.#channel) {
      this.#channel = this.#o.channel?.(this.#channelName);
      if (this.#channel) this.#channel.onmessage = (event) => this.#onMessage(event.data);
    }
    return this.#channel;
  }

  #post(message: TabMessage) {
    this.#open()?.postMessage(message);
  }
}

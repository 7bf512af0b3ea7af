/** Where a walk keeps the provider's cookies between requests, as one browser does. */
export interface CookieJar {
  /** Takes the cookies a response sets (and drops those it clears). */
  store(response: Response): void;
  /** The `Cookie` header to send. */
  header(): string;
}

/** A jar that keeps each cookie's latest value (paths and expiry ignored). */
export declare function cookieJar(): CookieJar;

/**
 * Walks the dev provider from an authorization URL as a browser would — its redirects and its
 * login form, signing in as `user` (password = user name, default alice) — until it sends the
 * browser to a URL starting with `until`; answers that URL, not followed.
 */
export declare function throughLoginForm(authorizationUrl: string, options: { until: string; user?: string; jar?: CookieJar }): Promise<string>;

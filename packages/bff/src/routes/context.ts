import type { ResolvedConfig, RateLimits } from '../config.js';
import type { OidcClient } from '../oidc.js';
import type { Sealer } from '../seal.js';
import type { SessionData } from '../session.js';
import type { TokenService } from '../tokenService.js';

/** What every route handler is handed: the configuration and the services built from it. */
export interface RouteContext {
  config: ResolvedConfig;
  sealer: Sealer;
  oidc: OidcClient;
  tokens: TokenService;
  /** Reads and opens the session cookie; `present` tells a missing cookie from an unreadable one. */
  readSession(request: Request): { session?: SessionData; present: boolean };
  /** `Set-Cookie` for a session cookie value, living as long as the family may. */
  sessionCookie(value: string, session: SessionData): string;
  /** `Set-Cookie` that deletes the session cookie. */
  clearSessionCookie(): string;
  /**
   * The CSRF gate (`x-latchkey`, same site, JSON unless `anyContentType`): a request that fails
   * it is reported as `csrf_rejected` for `path` and refused with 403, before anything is read.
   */
  refuseCrossSite(request: Request, path: string, options?: { anyContentType?: boolean }): void;
  /**
   * Counts a hit against a limit; over it, rejects with 429 `rate_limited` and `Retry-After`.
   * `undefined` (nothing to wait for) when that limit is off or there is no id to count.
   */
  limit(name: keyof RateLimits, id: string | undefined): Promise<void> | undefined;
}

/** One route: its method and handler. */
export interface Route {
  method: 'GET' | 'POST';
  run(context: RouteContext, request: Request, url: URL): Promise<Response>;
}

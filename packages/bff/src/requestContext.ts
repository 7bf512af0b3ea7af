import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the BFF knows about the request it is handling, for the audit trail: events carry ids
 * and reasons only, so the client's address, its user agent and the user are read from here
 * for events emitted while a request is handled (including work the request started and did
 * not await, such as a refresh that completes late).
 */
export interface RequestContext {
  /** The route (`/token`, `/callback`…), or `server` for `getSession()`/`getAccessToken()` from server code. */
  route: string;
  /** The client's IP per `clientIp`/`trustProxy`; never a header the client could write itself. */
  ip?: string;
  /** The `User-Agent` header, truncated. */
  userAgent?: string;
  /** The family and user of the session cookie this request carried, once it was opened. */
  session?: { fid: string; sub: string; ca: number };
  /** The user an operation is about when no cookie says it (`admin.revokeUser`, a sign-in just made). */
  subject?: string;
  /** A session cookie was presented but could not be opened (tampered, expired seal, unknown key). */
  unreadableCookie?: boolean;
  /** How the token service answered this request's token (cached, refreshed, waited, healed), once it has. */
  tokenVia?: 'cached' | 'refreshed' | 'waited' | 'healed';
}

/** How much of a `User-Agent` header is kept: enough to tell browsers apart, not a place to store data. */
export const MAX_USER_AGENT = 200;

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `work` with `context` as the current request's (it follows every promise `work` starts). */
export function withRequestContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The context of the request being handled, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** A context for `request`: its route, its client IP by the BFF's rules, its user agent (truncated). */
export function contextOf(request: Request, route: string, clientIp: (request: Request) => string | undefined): RequestContext {
  const userAgent = request.headers.get('user-agent') ?? undefined;
  let ip: string | undefined;
  try {
    ip = clientIp(request);
  } catch {
    // An app's clientIp() that throws costs the record its address, never the request.
  }
  return { route, ip, userAgent: userAgent?.slice(0, MAX_USER_AGENT) };
}

import { isErrorBody } from './errors.js';
import { TERMINAL_CODES, type TerminalCode } from './protocol.js';
import { challengeParams } from './wwwAuthenticate.js';

/**
 * What a client should do with a response:
 * - `ok`: use it;
 * - `refresh`: the access token is no good; refresh once and retry once;
 * - `terminal`: the session is over; sign in again;
 * - `forbidden`: the token is fine but not enough (scope, policy); do not retry;
 * - `temporary`: try again later (network error, 429, 503); never a sign-out;
 * - `error`: any other failure, surfaced as is.
 */
export type ResponseKind = 'ok' | 'refresh' | 'terminal' | 'forbidden' | 'temporary' | 'error';

export interface Classification {
  kind: ResponseKind;
  /** The error code found in the challenge or body, if any. */
  code?: string;
  /** The server's own sentence, if any. */
  description?: string;
  /** Seconds to wait, from a delta-seconds `Retry-After`. */
  retryAfter?: number;
}

// Sets of `unknown`, so that an absent code is simply not in them.
const REFRESH_CODES = new Set<unknown>(['invalid_token', 'token_expired']);
const FORBIDDEN_CODES = new Set<unknown>(['insufficient_scope', 'csrf_rejected', 'forbidden', 'access_denied']);
const TEMPORARY_STATUS = new Set([408, 425, 429, 502, 503, 504]);

/**
 * Reads `Retry-After` as seconds: delta-seconds or an HTTP date. {@link classifyResponse} reads
 * seconds only; this is for server code that meets either form.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!/^[A-Za-z]{3},/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * Reads `Retry-After` as delta-seconds only, for {@link classifyResponse}: our BFF always sends
 * seconds, so the browser bundle carries no HTTP-date parser. A date reads as no `Retry-After`
 * (the client then backs off on its own schedule); server code that meets dates uses
 * {@link parseRetryAfter}.
 */
function retryAfterSeconds(value: string | null): number | undefined {
  return value && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

/** Whether a code ends the session. */
export function isTerminalCode(code: unknown): code is TerminalCode {
  return (TERMINAL_CODES as readonly unknown[]).includes(code);
}

/**
 * The error an answer names — each field from its first `Bearer` challenge, else its JSON body — and
 * its `Retry-After` seconds, without a verdict. {@link classifyResponse} builds on it; the browser
 * client reads it alone, so its bundle carries no rules it does not apply. `bearer`: the answer
 * has a `Bearer` challenge.
 */
export function responseError(headers: Headers, body?: unknown): Omit<Classification, 'kind'> & { bearer: boolean } {
  const retryAfter = retryAfterSeconds(headers.get('retry-after'));
  // The light reader, not parseWwwAuthenticate(): this runs in the browser, and it reads every
  // challenge our resource server writes the same way (challengeParams says where others differ).
  const challenge = challengeParams(headers.get('www-authenticate'));
  const fromBody = isErrorBody(body) ? body : undefined;
  const code = challenge?.error ?? fromBody?.error;
  const description = challenge?.error_description ?? fromBody?.error_description;
  return {
    bearer: !!challenge,
    ...(code !== undefined && { code }),
    ...(description !== undefined && { description }),
    ...(retryAfter !== undefined && { retryAfter }),
  };
}

/**
 * Classifies an HTTP answer by RFC 6750 challenge, JSON error body and status.
 * `body` is the parsed JSON body when the caller has it.
 */
export function classifyResponse(status: number, headers: Headers, body?: unknown): Classification {
  const { bearer, ...error } = responseError(headers, body);
  return { kind: kindOf(status, error.code, bearer), ...error };
}

/** The rules of {@link classifyResponse}, first match wins. */
function kindOf(status: number, code: string | undefined, bearer: boolean): ResponseKind {
  if (status >= 200 && status < 400) return 'ok';
  if (isTerminalCode(code)) return 'terminal';
  if (REFRESH_CODES.has(code)) return status === 403 ? 'forbidden' : 'refresh';
  if (FORBIDDEN_CODES.has(code)) return 'forbidden';
  if (TEMPORARY_STATUS.has(status) || code === 'upstream_unavailable' || code === 'rate_limited') return 'temporary';
  // A bare 401 with a Bearer challenge and no error code: the token was missing or unusable.
  if (status === 401 && bearer) return 'refresh';
  if (status === 403) return 'forbidden';
  return 'error';
}

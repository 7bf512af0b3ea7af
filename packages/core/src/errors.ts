/** Every error code Latchkey answers with, on the wire and in thrown errors. */
export type LatchkeyErrorCode =
  | 'login_required'
  | 'session_expired'
  | 'session_revoked'
  | 'logged_out'
  | 'csrf_rejected'
  | 'rate_limited'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'bad_gateway'
  | 'store_unavailable'
  | 'request_timeout'
  | 'invalid_request'
  | 'invalid_return_to'
  | 'invalid_proxy_path'
  | 'invalid_state'
  | 'missing_transaction'
  | 'invalid_grant'
  | 'invalid_id_token'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'not_found'
  | 'method_not_allowed'
  | 'network_error'
  | 'insufficient_lifetime'
  | 'unexpected_response'
  | 'configuration_error'
  | 'server_error';

/** The JSON body of every error response: `{"error", "error_description"}`. */
export interface ErrorBody {
  error: LatchkeyErrorCode | (string & {});
  error_description: string;
}

export interface LatchkeyErrorOptions extends ErrorOptions {
  /** HTTP status this error answers with, when it maps to one. */
  status?: number;
}

export interface LatchkeyHttpErrorOptions extends LatchkeyErrorOptions {
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>;
}

/**
 * Base of every error Latchkey throws: a stable `code` to branch on, a sentence for people
 * in `message`, and a `status` when it maps to HTTP. It holds nothing that builds a response,
 * so the browser bundle, which only reads errors, does not carry that code.
 */
export class LatchkeyError extends Error {
  readonly code: LatchkeyErrorCode;
  readonly status: number | undefined;

  constructor(code: LatchkeyErrorCode, message: string, options: LatchkeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.name;
    this.code = code;
    this.status = options.status;
  }
}

/**
 * An error a server answers with: its `headers`, its wire body from `toJSON()` and a ready
 * `toResponse()`. The base of the BFF's and the resource server's errors.
 */
export class LatchkeyHttpError extends LatchkeyError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: LatchkeyErrorCode, message: string, options: LatchkeyHttpErrorOptions = {}) {
    super(code, message, options);
    this.headers = options.headers ?? {};
  }

  /** The error body as sent on the wire. */
  toJSON(): ErrorBody {
    return { error: this.code, error_description: this.message };
  }

  /** A `no-store` JSON error response with this error's status (500 when it has none) and headers. */
  toResponse(init: { headers?: HeadersInit } = {}): Response {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    headers.set('cache-control', 'no-store');
    return Response.json(this.toJSON(), { status: this.status ?? 500, headers });
  }
}

/** Builds a `no-store` JSON error response. */
export function errorResponse(status: number, body: ErrorBody, headers: Record<string, string> = {}, extra?: HeadersInit): Response {
  return new LatchkeyHttpError(body.error as LatchkeyErrorCode, body.error_description, { status, headers }).toResponse({ headers: extra });
}

/** True for a JSON value shaped like an {@link ErrorBody}. */
export function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorBody).error === 'string' &&
    typeof ((value as ErrorBody).error_description ?? '') === 'string'
  );
}

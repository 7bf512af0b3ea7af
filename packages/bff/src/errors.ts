import { LatchkeyError, LatchkeyHttpError, type LatchkeyErrorCode, type LatchkeyHttpErrorOptions } from '@latchkey/core';

/** An error the BFF answers with: it carries its HTTP status and turns into a JSON response. */
export class BffError extends LatchkeyHttpError {
  constructor(code: LatchkeyErrorCode, status: number, message: string, options: Omit<LatchkeyHttpErrorOptions, 'status'> = {}) {
    super(code, message, { ...options, status });
  }
}

/** The provider could not be reached or answered with trouble; the session is kept. */
export class UpstreamError extends BffError {
  constructor(message: string, options: { cause?: unknown; retryAfter?: number } = {}) {
    super('upstream_unavailable', 503, message, {
      cause: options.cause,
      headers: { 'retry-after': String(options.retryAfter ?? 5) },
    });
  }
}

/** The configuration given to `createBff()` is unusable. Thrown at start-up, never per request. */
export class ConfigurationError extends LatchkeyError {
  constructor(message: string) {
    super('configuration_error', `Latchkey BFF configuration: ${message}`);
  }
}

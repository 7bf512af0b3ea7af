import { LatchkeyError, type LatchkeyErrorCode } from '@latchkey/core';

/** A failure of the auth client, with the server's code and sentence when there was one. */
export class AuthClientError extends LatchkeyError {
  /** Seconds the server asked to wait before trying again. */
  readonly retryAfter: number | undefined;

  constructor(code: LatchkeyErrorCode, message: string, options: { status?: number; retryAfter?: number; cause?: unknown } = {}) {
    super(code, message, options);
    this.retryAfter = options.retryAfter;
  }
}

import { LatchkeyError } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import { AuthClientError } from './errors.js';

describe('AuthClientError', () => {
  it('carries the code, sentence, status, Retry-After seconds and cause, and builds no HTTP response', () => {
    const cause = new TypeError('Failed to fetch');
    const error = new AuthClientError('upstream_unavailable', 'down', { status: 503, retryAfter: 7, cause });
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error.name).toBe('AuthClientError');
    expect([error.code, error.message, error.status, error.retryAfter, error.cause]).toEqual(['upstream_unavailable', 'down', 503, 7, cause]);
    // Nothing in the browser answers HTTP; toResponse()/toJSON()/headers live on server errors only.
    expect(error).not.toHaveProperty('toResponse');
    expect(error).not.toHaveProperty('toJSON');
    expect(error).not.toHaveProperty('headers');
  });
});

import { describe, expect, it } from 'vitest';
import { LatchkeyError, isErrorBody } from './errors.js';

describe('LatchkeyError', () => {
  it('carries a stable code, its class name, the cause, and answers as a no-store JSON response', async () => {
    const cause = new Error('socket hang up');
    const error = new LatchkeyError('upstream_unavailable', 'The provider did not answer.', { status: 503, headers: { 'retry-after': '5' }, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('LatchkeyError');
    expect(error.code).toBe('upstream_unavailable');
    expect(error.cause).toBe(cause);
    const response = error.toResponse();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: 'upstream_unavailable', error_description: 'The provider did not answer.' });
  });

  it('names subclasses after themselves', () => {
    class CustomError extends LatchkeyError {}
    expect(new CustomError('invalid_request', 'x').name).toBe('CustomError');
  });
});

describe('isErrorBody()', () => {
  it.each([
    [{ error: 'invalid_token', error_description: 'x' }, true],
    [{ error: 'invalid_token' }, true],
    [{ error: 1 }, false],
    [{ error: 'x', error_description: 2 }, false],
    [null, false],
    ['invalid_token', false],
  ])('%j → %s', (value, expected) => {
    expect(isErrorBody(value)).toBe(expected);
  });
});

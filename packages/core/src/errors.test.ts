import { describe, expect, it } from 'vitest';
import { LatchkeyError, LatchkeyHttpError, errorResponse, isErrorBody } from './errors.js';

describe('LatchkeyError', () => {
  it('carries a stable code, its class name, its status and the cause, and nothing that builds a response', () => {
    const cause = new Error('socket hang up');
    const error = new LatchkeyError('upstream_unavailable', 'The provider did not answer.', { status: 503, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('LatchkeyError');
    expect(error.code).toBe('upstream_unavailable');
    expect(error.status).toBe(503);
    expect(error.cause).toBe(cause);
    expect(error).not.toHaveProperty('headers');
    expect(error).not.toHaveProperty('toResponse');
    expect(error).not.toHaveProperty('toJSON');
  });

  it('names subclasses after themselves', () => {
    class CustomError extends LatchkeyError {}
    expect(new CustomError('invalid_request', 'x').name).toBe('CustomError');
  });
});

describe('LatchkeyHttpError', () => {
  it('is a LatchkeyError that answers as a no-store JSON response with its status and headers', async () => {
    const cause = new Error('socket hang up');
    const error = new LatchkeyHttpError('upstream_unavailable', 'The provider did not answer.', { status: 503, headers: { 'retry-after': '5' }, cause });
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error.name).toBe('LatchkeyHttpError');
    expect(error.cause).toBe(cause);
    expect(error.headers).toEqual({ 'retry-after': '5' });
    expect(error.toJSON()).toEqual({ error: 'upstream_unavailable', error_description: 'The provider did not answer.' });
    const response = error.toResponse({ headers: { 'referrer-policy': 'no-referrer' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: 'upstream_unavailable', error_description: 'The provider did not answer.' });
  });

  it('answers 500 when it has no status', () => {
    expect(new LatchkeyHttpError('server_error', 'x').toResponse().status).toBe(500);
  });
});

describe('errorResponse()', () => {
  it('builds the same no-store JSON response from a status and a body', async () => {
    const response = errorResponse(401, { error: 'invalid_token', error_description: 'x' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: 'x' });
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

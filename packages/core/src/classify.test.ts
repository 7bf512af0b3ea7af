import { describe, expect, it } from 'vitest';
import { classifyResponse, parseRetryAfter, responseError } from './classify.js';

const h = (init: Record<string, string> = {}) => new Headers(init);

describe('classifyResponse()', () => {
  it('asks for refresh-and-retry on a 401 with Bearer error="invalid_token"', () => {
    expect(
      classifyResponse(401, h({ 'www-authenticate': 'Bearer error="invalid_token", error_description="The access token expired"' })),
    ).toEqual({ kind: 'refresh', code: 'invalid_token', description: 'The access token expired' });
  });
  it('asks for refresh on a JSON token_expired body without a challenge', () => {
    expect(classifyResponse(401, h(), { error: 'token_expired', error_description: 'expired' }).kind).toBe('refresh');
  });
  it.each(['login_required', 'session_expired', 'session_revoked'])('treats %s as terminal', (code) => {
    expect(classifyResponse(401, h(), { error: code, error_description: 'x' })).toMatchObject({ kind: 'terminal', code });
  });
  it('treats insufficient_scope as forbidden, never as a refresh', () => {
    expect(classifyResponse(403, h({ 'www-authenticate': 'Bearer error="insufficient_scope", scope="notes:write"' })).kind).toBe(
      'forbidden',
    );
  });
  it.each([429, 503, 502, 504])('treats %i as temporary and reads Retry-After', (status) => {
    expect(classifyResponse(status, h({ 'retry-after': '7' }))).toEqual({ kind: 'temporary', retryAfter: 7 });
  });
  it('reads Retry-After as delta-seconds only: an HTTP date, which our BFF never sends, gives no retryAfter', () => {
    expect(classifyResponse(503, h({ 'retry-after': '120' })).retryAfter).toBe(120);
    expect(classifyResponse(503, h({ 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }))).toEqual({ kind: 'temporary' });
    expect(classifyResponse(503, h({ 'retry-after': '-3' }))).toEqual({ kind: 'temporary' });
  });
  it('treats upstream_unavailable as temporary whatever the status', () => {
    expect(classifyResponse(500, h(), { error: 'upstream_unavailable', error_description: 'x' }).kind).toBe('temporary');
  });
  it('passes 2xx and 3xx as ok and other failures as error', () => {
    expect(classifyResponse(200, h()).kind).toBe('ok');
    expect(classifyResponse(304, h()).kind).toBe('ok');
    expect(classifyResponse(404, h()).kind).toBe('error');
    expect(classifyResponse(500, h()).kind).toBe('error');
  });
});

describe('parseRetryAfter()', () => {
  it('reads delta-seconds and HTTP dates, for server code', () => {
    expect(parseRetryAfter('120')).toBe(120);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30);
  });
  it.each(['', 'soon', '-3', null])('ignores %j', (v) => {
    expect(parseRetryAfter(v)).toBeUndefined();
  });
});

describe('responseError()', () => {
  it('reads the code and sentence from the Bearer challenge first, then the JSON body, with Retry-After, and says whether there was a challenge', () => {
    expect(responseError(h({ 'www-authenticate': 'Bearer error="invalid_token"', 'retry-after': '3' }), { error: 'x', error_description: 'from body' })).toEqual({
      bearer: true,
      code: 'invalid_token',
      description: 'from body',
      retryAfter: 3,
    });
    expect(responseError(h(), { error: 'rate_limited', error_description: 'slow down' })).toEqual({ bearer: false, code: 'rate_limited', description: 'slow down' });
    expect(responseError(h({ 'www-authenticate': 'Basic realm="x"' }))).toEqual({ bearer: false });
  });
});

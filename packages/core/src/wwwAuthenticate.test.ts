import { describe, expect, it } from 'vitest';
import { bearerChallenge, challengeParams, formatBearerChallenge, parseWwwAuthenticate } from './wwwAuthenticate.js';

describe('parseWwwAuthenticate()', () => {
  it('reads an RFC 6750 Bearer challenge with quoted parameters', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="example", error="invalid_token", error_description="The access token expired"'),
    ).toEqual([
      { scheme: 'bearer', params: { realm: 'example', error: 'invalid_token', error_description: 'The access token expired' } },
    ]);
  });
  it('reads several challenges and token68 values', () => {
    const challenges = parseWwwAuthenticate('Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer error="insufficient_scope", scope="a b"');
    expect(challenges).toEqual([
      { scheme: 'basic', params: {}, token68: 'YWxhZGRpbjpvcGVuc2VzYW1l==' },
      { scheme: 'bearer', params: { error: 'insufficient_scope', scope: 'a b' } },
    ]);
  });
  it.each(['abc=', 'abc==', 'abc'])('keeps the Bearer challenge after a token68 %s (a token68 may end in one "=")', (token68) => {
    const header = `Basic ${token68}, Bearer error="invalid_token", error_description="expired"`;
    expect(parseWwwAuthenticate(header)).toEqual([
      { scheme: 'basic', params: {}, token68 },
      { scheme: 'bearer', params: { error: 'invalid_token', error_description: 'expired' } },
    ]);
    expect(bearerChallenge(header.replace(', ', ' ,Newauth realm="x", '))).toEqual({ error: 'invalid_token', error_description: 'expired' });
  });
  it('tells a token68 ending in "=" from an auth-param with a value', () => {
    expect(parseWwwAuthenticate('Basic a=b, DPoP algs=ES256 , Foo x=')).toEqual([
      { scheme: 'basic', params: { a: 'b' } },
      { scheme: 'dpop', params: { algs: 'ES256' } },
      { scheme: 'foo', params: {}, token68: 'x=' },
    ]);
  });
  it('unescapes quoted strings and keeps commas inside them', () => {
    expect(bearerChallenge('Bearer error_description="a \\"quoted\\", comma", error=invalid_token')).toEqual({
      error_description: 'a "quoted", comma',
      error: 'invalid_token',
    });
  });
  it('accepts a bare scheme and mixed case', () => {
    expect(parseWwwAuthenticate('BEARER')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(bearerChallenge('DPoP algs="ES256", bearer ERROR="invalid_token"')).toEqual({ error: 'invalid_token' });
  });
  it.each([null, undefined, '', '   ', ',,,'])('answers no challenge for %j', (header) => {
    expect(parseWwwAuthenticate(header)).toEqual([]);
  });
  it('drops an unterminated quoted string instead of throwing', () => {
    expect(parseWwwAuthenticate('Bearer error="invalid_token')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
  it('round-trips what formatBearerChallenge writes', () => {
    const header = formatBearerChallenge({ error: 'invalid_token', error_description: 'say "hi"\\bye', scope: undefined });
    expect(header).toBe('Bearer error="invalid_token", error_description="say \\"hi\\"\\\\bye"');
    expect(bearerChallenge(header)).toEqual({ error: 'invalid_token', error_description: 'say "hi"\\bye' });
  });
});

describe('challengeParams()', () => {
  const nasty = ['', 'plain', 'say "hi"\\bye', 'a, b', 'x, Bearer error="forged"', 'error=forged', '"', '\\', 'naïve – ok', '=', 'Basic abc=='];
  it.each(nasty.flatMap((value) => [
    { error: 'invalid_token', error_description: value },
    { realm: value, error: 'insufficient_scope', error_description: 'x', scope: value },
    { realm: value },
  ]))('reads what formatBearerChallenge writes as bearerChallenge does: %j', (params) => {
    const header = formatBearerChallenge(params);
    expect(challengeParams(header)).toEqual(bearerChallenge(header));
    expect(challengeParams(header)).toEqual(params);
  });

  it.each([
    null,
    '',
    ',,,',
    'Bearer',
    'BEARER',
    'Basic realm="x"',
    'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
    'Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer error="insufficient_scope", scope="a b"',
    'Basic abc=, Bearer error="invalid_token", error_description="expired"',
    'Basic abc, Bearer error="invalid_token"',
    'DPoP algs="ES256", bearer ERROR="invalid_token"',
    'Bearer error_description="a \\"quoted\\", comma", error=invalid_token',
    'Basic realm="Bearer, error=forged", Bearer error="invalid_token"',
    'Bearer error="first", Bearer error="second"',
    'Bearer error="invalid_token", DPoP error="invalid_dpop_proof"',
    'Bearer error="invalid_token',
  ])('agrees with bearerChallenge on %j', (header) => {
    expect(challengeParams(header)).toEqual(bearerChallenge(header));
  });

  it.each([
    'Bearer error="invalid_token", DPoP error="use_dpop_nonce", error_description="x"',
    'DPoP algs="ES256 PS256", error="use_dpop_nonce", Bearer realm="r"',
    formatBearerChallenge({ realm: 'api', error: 'use_dpop_nonce', algs: 'ES256' }, 'DPoP'),
  ])('reads the challenge of another scheme (dpop) as parseWwwAuthenticate does: %j', (header) => {
    expect(challengeParams(header, 'dpop')).toEqual(parseWwwAuthenticate(header).find((c) => c.scheme === 'dpop')?.params);
    expect(challengeParams(header, 'dpop')?.error).toBe('use_dpop_nonce');
  });

  it('differs from bearerChallenge only on headers no server of ours writes', () => {
    // A token68 after Bearer reads as a scheme, so parameters after it are not Bearer's.
    expect(challengeParams('Bearer abc, error="invalid_token"')).toEqual({});
    expect(bearerChallenge('Bearer abc, error="invalid_token"')).toEqual({ error: 'invalid_token' });
    // A parameter before any scheme is skipped instead of ending the parse.
    expect(challengeParams('error="invalid_token", Bearer')).toEqual({});
    expect(bearerChallenge('error="invalid_token", Bearer')).toBeUndefined();
  });
});

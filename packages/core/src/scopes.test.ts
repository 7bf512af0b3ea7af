import { describe, expect, it } from 'vitest';
import { hasScope, type ScopeSource } from './scopes.js';

describe('hasScope()', () => {
  const cases: [name: string, granted: ScopeSource, required: string | string[], expected: boolean][] = [
    ['a scope string that grants it', 'openid notes:read', 'notes:read', true],
    ['a scope string that does not', 'openid notes:read', 'notes:write', false],
    ['a prefix of a granted scope is not that scope', 'notes:read', 'notes', false],
    ['a granted scope that only contains the required one', 'notes:read-all', 'notes:read', false],
    ['scopes are case-sensitive', 'Notes:Read', 'notes:read', false],
    ['every one of a required list', 'a b c', ['a', 'c'], true],
    ['one of a required list missing', 'a b', ['a', 'c'], false],
    ['a space-separated requirement needs each word', 'a b', 'a b', true],
    ['a space-separated requirement with one missing', 'a', 'a b', false],
    ['extra spaces in the granted string', '  a   b ', 'b', true],
    ['a list of granted scopes', ['a', 'b'], 'b', true],
    ['claims with RFC 9068 "scope"', { sub: 'x', scope: 'notes:read' } as ScopeSource, 'notes:read', true],
    ['claims with an "scp" list (Okta)', { scp: ['openid', 'notes:read'] }, 'notes:read', true],
    ['claims with an "scp" string (Entra ID)', { scp: 'access notes:read' }, 'notes:read', true],
    ['claims with both "scope" and "scp"', { scope: 'a', scp: ['b'] }, ['a', 'b'], true],
    ['claims with neither', { sub: 'x' } as ScopeSource, 'a', false],
    ['claims whose "scope" is not a string or list', { scope: 42, scp: { a: true } }, 'a', false],
    ['an "scp" list with things other than strings', { scp: [1, null, 'a'] }, 'a', true],
    ['nothing granted (undefined)', undefined, 'a', false],
    ['nothing granted (null)', null, 'a', false],
    ['nothing granted (empty string)', '', 'a', false],
    ['an empty requirement is never met (string)', 'a', '', false],
    ['an empty requirement is never met (spaces)', 'a', '   ', false],
    ['an empty requirement is never met (list)', 'a', [], false],
    ['an empty requirement is never met even with nothing granted', '', '', false],
    ['a list requirement of empty strings is never met', 'a b', ['', ' '], false],
  ];

  it.each(cases)('%s', (_name, granted, required, expected) => {
    expect(hasScope(granted, required)).toBe(expected);
  });
});

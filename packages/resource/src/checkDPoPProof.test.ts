import { describe, expect, it } from 'vitest';
import { normalizeHtu } from './checkDPoPProof.js';

describe('normalizeHtu()', () => {
  it.each([
    ['scheme and host in capitals', 'HTTPS://API.Example.COM/notes', 'https://api.example.com/notes'],
    ['the default https port', 'https://api.example.com:443/notes', 'https://api.example.com/notes'],
    ['the default http port', 'http://api.example.com:80/notes', 'http://api.example.com/notes'],
    ['another port, kept', 'https://api.example.com:8443/notes', 'https://api.example.com:8443/notes'],
    ['a query and a fragment, dropped', 'https://api.example.com/notes?id=1#top', 'https://api.example.com/notes'],
    ['dot segments', 'https://api.example.com/a/../notes/./', 'https://api.example.com/notes/'],
    ['an empty path', 'https://api.example.com', 'https://api.example.com/'],
    ['an escaped unreserved character', 'https://api.example.com/%7Enotes', 'https://api.example.com/~notes'],
    ['an escape in lower case', 'https://api.example.com/a%2fb', 'https://api.example.com/a%2Fb'],
    ['credentials, dropped', 'https://user:pw@api.example.com/notes', 'https://api.example.com/notes'],
  ])('normalises %s', (_name, input, expected) => {
    expect(normalizeHtu(input)).toBe(expected);
  });

  it.each([['not a URL', '/notes'], ['another scheme', 'ftp://api.example.com/notes'], ['a data URL', 'data:text/plain,hi']])('answers undefined for %s', (_name, input) => {
    expect(normalizeHtu(input)).toBeUndefined();
  });
});

import type { ResolvedApi } from './apis.js';
import { BffError } from './errors.js';

/**
 * What a path segment may not hold once decoded (and once NFKC-folded, since some servers fold
 * `．` into `.` and `／` into `/`): a slash or backslash (a segment boundary the API would see
 * but this check would not), `%` (a second round of decoding: `%252e` is `%2e` is `.`), `@`
 * (userinfo, to a parser that takes the path for an authority), and control characters (CR/LF
 * smuggling, NUL truncation).
 */
const FORBIDDEN_IN_SEGMENT = /[/\\%@\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** An encoded dot, slash or backslash anywhere in the raw path: nothing honest encodes them. */
const FORBIDDEN_ENCODED = /%(2e|2f|5c)/i;

const refuse = (why: string) => new BffError('invalid_proxy_path', 400, `The API path is refused: ${why}.`);

/**
 * The URL a proxied call goes to: the API's base URL with `rest` (the raw, still
 * percent-encoded path after `/proxy/<name>`, empty or starting with `/`) appended, and the
 * query passed through. Anything that could step outside the base path, or be read
 * differently by the API's server than here, is refused with 400 `invalid_proxy_path`:
 * `.`/`..` segments (also `..;` for servers that drop matrix parameters), empty segments
 * (`//`), encoded dots and slashes, backslashes, `@`, control characters and double encoding.
 * The result is checked again as a parsed URL: same origin, same path as built, under the base.
 */
export function proxyTarget(api: ResolvedApi, rest: string, search: string): URL {
  if (rest !== '' && !rest.startsWith('/')) throw refuse('it must start with "/"');
  if (FORBIDDEN_ENCODED.test(rest)) throw refuse('it holds an encoded ".", "/" or "\\"');
  const segments = rest === '' ? [] : rest.slice(1).split('/');
  segments.forEach((segment, index) => {
    // A trailing slash is a path of its own ("/notes/" is not "/notes"); an empty segment elsewhere is "//".
    if (segment === '') {
      if (index === segments.length - 1) return;
      throw refuse('it holds an empty segment ("//")');
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw refuse('it is not valid percent-encoding');
    }
    for (const form of [decoded, decoded.normalize('NFKC')]) {
      if (FORBIDDEN_IN_SEGMENT.test(form)) throw refuse('a segment holds "/", "\\", "%", "@" or a control character');
      const bare = form.split(';')[0];
      if (bare === '.' || bare === '..') throw refuse('it holds a "." or ".." segment');
    }
  });
  const base = new URL(api.url);
  const path = `${base.pathname}${rest.slice(1)}`;
  const target = new URL(`${base.origin}${path}${search}`);
  // Parsed back, the URL must be exactly what was built: nothing resolved, folded or re-rooted.
  if (target.origin !== base.origin || target.pathname !== path || !target.pathname.startsWith(base.pathname) || target.username || target.password || target.hash) {
    throw refuse('it does not stay under the API\'s base URL');
  }
  return target;
}

/**
 * Where a `Location` from the API should send the browser: the same resource through the proxy
 * when it lies under the API's base URL (as an app path, `<proxyBase>/<rest>`), else `undefined`.
 */
export function proxiedLocation(api: ResolvedApi, location: string, requested: URL, proxyBase: string): string | undefined {
  let resolved: URL;
  try {
    resolved = new URL(location, requested);
  } catch {
    return undefined;
  }
  const base = new URL(api.url);
  if (resolved.origin !== base.origin || resolved.username || resolved.password) return undefined;
  const rest = resolved.pathname === base.pathname.slice(0, -1) ? '' : resolved.pathname.startsWith(base.pathname) ? `/${resolved.pathname.slice(base.pathname.length)}` : undefined;
  if (rest === undefined) return undefined;
  try {
    proxyTarget(api, rest, resolved.search);
  } catch {
    return undefined;
  }
  return `${proxyBase}${rest}${resolved.search}`;
}

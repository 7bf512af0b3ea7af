/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Auth scheme, lower-cased (`bearer`, `basic`, `dpop`…). */
  scheme: string;
  /** Auth parameters, names lower-cased, quoted strings unescaped. */
  params: Record<string, string>;
  /** A token68 value, for schemes that use one instead of parameters. */
  token68?: string;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges: several challenges, quoted
 * strings with escapes and token68 values. Malformed tails are dropped, never thrown.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  // One step per match: a name (auth-scheme or auth-param name) then either `= value` (a
  // parameter of the current challenge), or a token68 standing alone up to the next comma
  // (so "Basic abc=" is a token68, not a parameter with no value), or nothing; a name
  // followed by a `=` that none of those explain is a malformed tail, and parsing stops.
  const step =
    /[\s,]*([!#$%&'*+.^_`|~\w-]+)(?:[ \t]*=[ \t]*(?:"((?:[^"\\]|\\[^])*)"|([!#$%&'*+.^_`|~\w-]+))|[ \t]+([\w.~+/-]+=*)(?=[ \t]*(?:,|$))|(?![!#$%&'*+.^_`|~\w-]|[ \t]*=))/y;
  for (let m; (m = step.exec(header ?? '')); ) {
    const [, name = '', quoted, token, token68] = m;
    const key = name.toLowerCase();
    const value = quoted?.replace(/\\([^])/g, '$1') ?? token;
    if (value === undefined) challenges.push((current = { scheme: key, params: {}, ...(token68 && { token68 }) }));
    else if (current) current.params[key] = value;
    else break;
  }
  return challenges;
}

/** The first `Bearer` challenge's parameters, if the header has one. */
export function bearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  return parseWwwAuthenticate(header).find((c) => c.scheme === 'bearer')?.params;
}

/**
 * The parameters of the first challenge of `scheme` (lower-case; `bearer` unless given, `dpop`
 * for DPoP), in far less code than {@link parseWwwAuthenticate}, for the browser: the client
 * reads only `error` and `error_description` from it. On every header {@link formatBearerChallenge} writes (all our
 * resource server sends) it answers as {@link bearerChallenge} does; quoted strings are read
 * whole, so a comma, `=` or `Bearer` inside one never counts. Elsewhere it differs only on
 * unusual headers: a token68 with no `=` (`Negotiate abc`) reads as a scheme, so parameters
 * after it (`Bearer abc, error=x`) are not read, and text it cannot read is skipped rather than
 * ending the parse.
 */
export function challengeParams(header: string | null | undefined, scheme = 'bearer'): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  let params: Record<string, string> | undefined;
  for (const [, name = '', quoted, token] of (header ?? '').matchAll(/([^\s,="]+)(?:\s*=\s*(?:"((?:[^"\\]|\\[^])*)"|([^\s,"]+)))?/g)) {
    const key = name.toLowerCase();
    if (quoted === undefined && token === undefined) params = key === scheme && !found ? (found = {}) : undefined;
    else if (params) params[key] = quoted?.replace(/\\([^])/g, '$1') ?? token!;
  }
  return found;
}

/** Quotes a value for an auth-param. */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * Builds a `Bearer` challenge such as `Bearer error="invalid_token", error_description="…"`, or
 * the same with another `scheme` (`DPoP`).
 */
export function formatBearerChallenge(params: Record<string, string | undefined>, scheme = 'Bearer'): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`);
  return parts.length ? `${scheme} ${parts.join(', ')}` : scheme;
}

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Auth scheme, lower-cased (`bearer`, `basic`, `dpop`…). */
  scheme: string;
  /** Auth parameters, names lower-cased, quoted strings unescaped. */
  params: Record<string, string>;
  /** A token68 value, for schemes that use one instead of parameters. */
  token68?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*/;

/**
 * Parses a `WWW-Authenticate` header into its challenges: several challenges, quoted
 * strings with escapes and token68 values. Malformed tails are dropped, never thrown.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  const challenges: Challenge[] = [];
  if (!header) return challenges;
  let rest = header;
  const skip = (re: RegExp) => {
    const m = re.exec(rest);
    if (m) rest = rest.slice(m[0].length);
    return m?.[0];
  };
  let current: Challenge | undefined;
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    if (!rest) break;
    const name = skip(TOKEN);
    if (!name) break;
    skip(/^[ \t]*/);
    if (rest.startsWith('=') && current) {
      // name=value: an auth-param of the current challenge
      rest = rest.slice(1);
      skip(/^[ \t]*/);
      const value = rest.startsWith('"') ? readQuoted() : skip(TOKEN);
      if (value === undefined) break;
      current.params[name.toLowerCase()] = value;
      continue;
    }
    current = { scheme: name.toLowerCase(), params: {} };
    challenges.push(current);
    // A token68 stands alone after the scheme: "Basic abc==" (but not "Bearer realm=…").
    const t68 = /^([A-Za-z0-9._~+/-]+=*)\s*(,|$)/.exec(rest);
    if (t68 && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=\s*[^=]/.test(rest)) {
      const value = skip(TOKEN68);
      if (value) current.token68 = value;
    }
  }
  return challenges;

  function readQuoted(): string | undefined {
    let out = '';
    for (let i = 1; i < rest.length; i++) {
      const c = rest[i];
      if (c === '\\' && i + 1 < rest.length) {
        out += rest[++i];
      } else if (c === '"') {
        rest = rest.slice(i + 1);
        return out;
      } else {
        out += c;
      }
    }
    return undefined;
  }
}

/** The first `Bearer` challenge's parameters, if the header has one. */
export function bearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  return parseWwwAuthenticate(header).find((c) => c.scheme === 'bearer')?.params;
}

/** Quotes a value for an auth-param. */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Builds a `Bearer` challenge such as `Bearer error="invalid_token", error_description="…"`. */
export function formatBearerChallenge(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`);
  return parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer';
}

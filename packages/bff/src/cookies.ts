/** Attributes of a `Set-Cookie` header. */
export interface CookieAttributes {
  maxAge: number;
  sameSite: 'Strict' | 'Lax';
}

/** Reads one cookie from a `Cookie` header; the first of several with the same name wins. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/** The names of the cookies in a `Cookie` header that start with `prefix`. */
export function readCookies(header: string | null, prefix: string): string[] {
  if (!header) return [];
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const name = part.slice(0, Math.max(0, part.indexOf('='))).trim();
    if (name.startsWith(prefix)) names.add(name);
  }
  return [...names];
}

/**
 * Serializes a `__Host-` cookie: always `Path=/`, `Secure` and `HttpOnly`, never a `Domain`,
 * so neither scripts nor sibling subdomains can read or plant it.
 */
export function serializeCookie(name: string, value: string, attrs: CookieAttributes): string {
  const maxAge = Math.max(0, Math.floor(attrs.maxAge));
  const expires = maxAge === 0 ? '; Expires=Thu, 01 Jan 1970 00:00:00 GMT' : '';
  return `${name}=${value}; Path=/; Max-Age=${maxAge}${expires}; HttpOnly; Secure; SameSite=${attrs.sameSite}`;
}

/** A `Set-Cookie` that deletes the cookie. */
export function clearCookie(name: string, sameSite: CookieAttributes['sameSite'] = 'Strict'): string {
  return serializeCookie(name, '', { maxAge: 0, sameSite });
}

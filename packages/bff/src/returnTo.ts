/**
 * Accepts only a same-origin path for `returnTo`. The value is normalised the way a URL parser
 * (and so a browser) would — percent-encoded dots, dot segments — and validated *after* that:
 * the result must still be a plain path on the app's origin that does not start with `//`, and
 * normalising it again must not change it. Backslashes and control characters (which browsers
 * turn into `/` or drop) are refused outright. So `//evil`, `/\evil`, `/.//evil`,
 * `/%2e%2e//evil`, `https:`, `javascript:` all fail, and login cannot be an open redirect.
 * Given the BFF's `basePath`, a path under it fails too (it would loop through sign-in).
 */
export function safeReturnTo(value: string | null, appOrigin: string, basePath?: string): string | undefined {
  if (value === null || value === '') return '/';
  if (value.length > 2048) return undefined;
  if (!isPlainPath(value)) return undefined;
  const path = normalise(value, appOrigin);
  if (path === undefined || !isPlainPath(path) || normalise(path, appOrigin) !== path) return undefined;
  // Never back into the BFF itself: a returnTo of /api/auth/login would sign in, land, and sign in
  // again (revoking each new session) for ever.
  if (basePath !== undefined) {
    let pathname: string;
    try {
      // Decoded, as a router may match it: /api/%61uth is /api/auth.
      pathname = decodeURIComponent(new URL(path, appOrigin).pathname);
    } catch {
      return undefined;
    }
    if (pathname === basePath || pathname.startsWith(`${basePath}/`)) return undefined;
  }
  return path;
}

/**
 * Where the browser goes after the callback: the stored `returnTo` validated again, as an
 * absolute URL on the app's origin (the app's root if anything is off).
 */
export function returnToUrl(stored: string, appOrigin: string): URL {
  const path = safeReturnTo(stored, appOrigin) ?? '/';
  const url = new URL(path, appOrigin);
  return url.origin === appOrigin ? url : new URL('/', appOrigin);
}

function isPlainPath(value: string): boolean {
  // Browsers treat "\" as "/" and strip tabs and newlines: "/\evil.com" and "/\t/evil.com" become "//evil.com".
  return value.startsWith('/') && !value.startsWith('//') && !/[\\\u0000-\u001f\u007f]/.test(value);
}

function normalise(value: string, appOrigin: string): string | undefined {
  try {
    const url = new URL(value, appOrigin);
    return url.origin === appOrigin ? `${url.pathname}${url.search}${url.hash}` : undefined;
  } catch {
    return undefined;
  }
}

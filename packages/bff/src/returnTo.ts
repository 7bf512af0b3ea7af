/**
 * Accepts only a same-origin path for `returnTo`: it must start with a single `/`, contain no
 * backslash or control character, and resolve to the app's own origin. Everything else (
 * `//evil`, `/\evil`, `https:`, `javascript:`) is refused, so login cannot be an open redirect.
 */
export function safeReturnTo(value: string | null, appOrigin: string): string | undefined {
  if (value === null || value === '') return '/';
  if (value.length > 2048) return undefined;
  if (!value.startsWith('/') || value.startsWith('//')) return undefined;
  // Browsers treat "\" as "/" and strip tabs and newlines: "/\evil.com" and "/\t/evil.com" become "//evil.com".
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return undefined;
  try {
    const url = new URL(value, appOrigin);
    if (url.origin !== appOrigin) return undefined;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return undefined;
  }
}

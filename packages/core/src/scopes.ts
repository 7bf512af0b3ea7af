/**
 * Where granted scopes are read from: a space-separated `scope` string (a token answer's, the
 * client's `token.scope`), a list, or access-token claims with `scope` (RFC 9068) and `scp`
 * (a list or a string, as Okta and Entra ID send it).
 */
export type ScopeSource = string | readonly string[] | Claims | null | undefined;

type Claims = { scope?: unknown; scp?: unknown };

/** The scopes in a value: strings split at spaces, lists flattened; anything else stays and matches nothing. */
const words = (value: unknown): unknown[] => [value].flat(2).flatMap((word) => (typeof word == 'string' ? word.split(' ') : [word]));

/**
 * Whether every required scope is granted. `required` is one scope, a space-separated string or
 * a list; one that names no scope at all is never met, so an empty requirement grants nothing.
 * Scopes compare exactly (case-sensitive), as RFC 6749 defines them.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2.3
 * @example
 * if (!hasScope(result.claims, 'notes:write')) return new Response(null, { status: 403 });
 */
export function hasScope(granted: ScopeSource, required: string | readonly string[]): boolean {
  // A string or a list has no `scope` or `scp` of its own, so all three read the same way.
  const have = words([granted, (granted as Claims)?.scope, (granted as Claims)?.scp]);
  const need = words(required).filter((word) => word);
  return !!need[0] && need.every((word) => have.includes(word));
}

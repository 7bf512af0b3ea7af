import { isSessionData, type SessionData } from './session.js';

/** An access token cached for the newest version of a family. */
export interface CachedToken {
  /** The version it was issued for. */
  v: number;
  accessToken: string;
  /** When it expires, on this server's clock (ms). */
  exp: number;
  /** The lifetime the provider gave it (s): what a fresh token can offer at most. */
  lifetime: number;
  scope: string;
}

/**
 * One record per session family: everything the refresh rules need to know about it,
 * read and written as a whole (sealed, since it holds the refresh token).
 *
 * Invariants:
 * - only the holder of the family's lock writes it (sign-in creates it before anyone else can know the family);
 * - `session.v` is the newest version; `cookie` is that session, sealed;
 * - `superseded[v]` says when version `v` stopped being the newest one that somebody holds:
 *   a time (ms) once a newer cookie was handed out, `null` while the newer cookie has reached
 *   nobody (the provider answered after its caller had been told 503, or a server component
 *   refreshed without a way to set the cookie). Versions superseded long ago are pruned: a
 *   version older than the newest and not listed was superseded longer ago than any grace window;
 * - `token`, when present, belongs to `session.v`;
 * - the denylist is not here but in its own key, so a revocation never waits for the lock and
 *   no rotation written afterwards can undo it.
 */
export interface FamilyLedger {
  session: SessionData;
  cookie: string;
  superseded: Record<string, number | null>;
  token?: CachedToken;
  /** The newest ID token, kept server-side for `id_token_hint` at logout. */
  idToken?: string;
}

export function isLedger(value: unknown): value is FamilyLedger {
  const l = value as FamilyLedger;
  return (
    typeof l === 'object' &&
    l !== null &&
    isSessionData(l.session) &&
    typeof l.cookie === 'string' &&
    typeof l.superseded === 'object' &&
    l.superseded !== null &&
    (l.token === undefined || (typeof l.token.accessToken === 'string' && typeof l.token.exp === 'number' && Number.isInteger(l.token.v)))
  );
}

/** How long a superseded version is remembered: past this it counts as superseded long ago (reuse). */
const MAX_REMEMBERED = 32;

/**
 * The ledger after a rotation from the newest version to `next`. A delivered rotation (its
 * cookie goes out with this response) starts the grace clock of every older version still
 * pending; an undelivered one leaves the version before it pending.
 */
export function rotateLedger(
  ledger: FamilyLedger | undefined,
  from: SessionData,
  next: { session: SessionData; cookie: string; token: CachedToken; idToken?: string | undefined },
  delivered: boolean,
  now: number,
  graceMs: number,
): FamilyLedger {
  const superseded: Record<string, number | null> = {};
  for (const [v, at] of Object.entries(ledger?.superseded ?? {})) {
    const pending = at === null;
    // Pending versions start their grace now that a newer cookie is out; settled ones are kept while they can still heal.
    if (pending) superseded[v] = delivered ? now : null;
    else if (now - at <= graceMs) superseded[v] = at;
  }
  superseded[from.v] = delivered ? now : null;
  const versions = Object.keys(superseded)
    .map(Number)
    .sort((a, b) => b - a);
  for (const v of versions.slice(MAX_REMEMBERED)) delete superseded[v];
  const idToken = next.idToken ?? ledger?.idToken;
  return { session: next.session, cookie: next.cookie, superseded, token: next.token, ...(idToken !== undefined && { idToken }) };
}

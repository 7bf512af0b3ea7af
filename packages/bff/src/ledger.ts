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
  /** Thumbprint of the DPoP key the token is bound to (`cnf.jkt`); absent for a Bearer token. */
  jkt?: string;
}

/**
 * One record per session family: everything the refresh rules need to know about it,
 * read and written as a whole (sealed, since it holds the refresh token).
 *
 * Invariants:
 * - only the holder of the family's lock writes it (sign-in creates it before anyone else can know the family);
 * - `session.v` is the newest version; `cookie` is that session, sealed;
 * - `superseded[v]` says since when version `v` is known to be outdated: the time (ms) a newer
 *   version was first *presented* — proof that a browser holds it — or `null` while no newer
 *   version has come back yet. A cookie put on a response may never arrive (a closed tab, a
 *   dropped connection, a provider that answered after its caller got 503, a server component
 *   that cannot set cookies), so handing it out starts no clock; only its return does.
 *   Versions outdated long ago are pruned: a version older than the newest and not listed was
 *   outdated longer ago than any grace window;
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
    (l.token === undefined || (typeof l.token.accessToken === 'string' && typeof l.token.exp === 'number' && Number.isInteger(l.token.v) && (l.token.jkt === undefined || typeof l.token.jkt === 'string')))
  );
}

/** How many superseded versions are remembered at most; older ones count as long outdated. */
const MAX_REMEMBERED = 32;

/** Pending versions below `presented` are outdated from `now` on: somebody holds a newer cookie. */
function confirmed(superseded: FamilyLedger['superseded'], presented: number, now: number): FamilyLedger['superseded'] {
  const result: FamilyLedger['superseded'] = {};
  for (const [v, at] of Object.entries(superseded)) result[v] = at === null && Number(v) < presented ? now : at;
  return result;
}

/** The ledger once version `presented` came back: `undefined` when that tells it nothing new. */
export function confirmLedger(ledger: FamilyLedger, presented: number, now: number): FamilyLedger | undefined {
  const pending = Object.entries(ledger.superseded).some(([v, at]) => at === null && Number(v) < presented);
  return pending ? { ...ledger, superseded: confirmed(ledger.superseded, presented, now) } : undefined;
}

/**
 * The ledger after a rotation from the newest version to `next`, made for a request that
 * presented version `presented`: versions below it are outdated from now on, the one just
 * superseded stays pending until its successor comes back, and versions outdated longer than
 * the grace window are forgotten.
 */
export function rotateLedger(
  ledger: FamilyLedger | undefined,
  from: SessionData,
  next: { session: SessionData; cookie: string; token: CachedToken; idToken?: string | undefined },
  presented: number,
  now: number,
  graceMs: number,
): FamilyLedger {
  const superseded: Record<string, number | null> = {};
  for (const [v, at] of Object.entries(confirmed(ledger?.superseded ?? {}, presented, now))) {
    if (at === null || now - at <= graceMs) superseded[v] = at;
  }
  superseded[from.v] = null;
  const versions = Object.keys(superseded)
    .map(Number)
    .sort((a, b) => b - a);
  for (const v of versions.slice(MAX_REMEMBERED)) delete superseded[v];
  const idToken = next.idToken ?? ledger?.idToken;
  return { session: next.session, cookie: next.cookie, superseded, token: next.token, ...(idToken !== undefined && { idToken }) };
}

import { FAMILY_HASH, type AuditRecord } from './audit.js';
import type { OpsSnapshot } from './opsStats.js';
import type { RequestContext } from './requestContext.js';
import type { BffStore } from './store.js';

/** One live session of a user, as `bff.admin.listSessions()` shows it. Times are epoch ms. */
export interface AdminSession {
  /** The family's hash, as in audit records; `revokeSession()` takes it. */
  family: string;
  sub: string;
  /** Sign-in. */
  createdAt?: number;
  lastRefreshAt?: number;
  /** The last user activity the browser reported (the idle timeout's clock). */
  lastActivityAt?: number;
  /** The last request of this session the BFF handled (kept at most once a minute). */
  lastSeenAt?: number;
  /** Of the last request seen, per `clientIp`/`trustProxy`. */
  ip?: string;
  userAgent?: string;
  /** Cookie versions so far: 1 at sign-in, one more per refresh. */
  versions?: number;
}

/** Who performed an admin action, for its audit record. */
export interface AdminActionOptions {
  /** The operator (their `sub`, an email…), recorded as `detail.actor`. */
  actor?: string;
  /** The operator's request: its IP (per `clientIp`/`trustProxy`) and user agent go in the record. */
  request?: Request;
}

/**
 * The operations API (`bff.admin`): a user's live sessions, revoking one or all of them, the
 * audit trail and this process's traffic figures. Every revocation here is audited as an
 * `admin` record, besides the `revoke` records of the families it ended.
 */
export interface BffAdmin {
  /** The user's live sessions, newest first (those in the store's `user → families` index and not revoked). */
  listSessions(sub: string): Promise<AdminSession[]>;
  /** Ends one session, by its hash (from audit records or `listSessions()`) or its raw id. Answers whether it was live. */
  revokeSession(familyHashOrId: string, options?: AdminActionOptions): Promise<boolean>;
  /** Ends every session of a user ("sign out everywhere"); answers how many were live. */
  revokeUser(sub: string, options?: AdminActionOptions): Promise<number>;
  /** The newest audit records, newest first, from the sink's `recent()` (none when the sink keeps none). */
  recentAudit(limit?: number): Promise<AuditRecord[]>;
  /** This process's traffic in recent time slices: `/token` answers by result, refresh latency, active sessions, 429s, reuse, alerts. */
  stats(): OpsSnapshot;
}

/** What the store keeps per family for the operations API: no token, no cookie. */
interface SessionMeta {
  sub: string;
  family: string;
  createdAt?: number;
  lastRefreshAt?: number;
  lastSeenAt?: number;
  ip?: string;
  userAgent?: string;
  versions?: number;
}

/** How often a family's last-seen time is written, at most (per process): the cached path stays a read. */
const SEEN_EVERY_MS = 60_000;
const MAX_THROTTLED = 100_000;
const SLACK_SECONDS = 60;

const metaKey = (fid: string) => `latchkey:meta:${fid}`;
const hashKey = (hash: string) => `latchkey:fhash:${hash}`;

/**
 * A small record per family in the store — when it started, last refreshed and was last seen,
 * from where, how many versions — written at sign-in and updated on refresh and (at most once a
 * minute) on use; it expires with the family. Best effort: it informs operators, it decides
 * nothing, so a failed write is dropped and the request goes on. Written as evictable, so a
 * full memory store drops these before any security record.
 */
export class SessionDirectory {
  readonly #store: BffStore;
  readonly #hash: (fid: string) => string;
  readonly #lifetimeSeconds: number;
  readonly #now: () => number;
  readonly #lastWrite = new Map<string, number>();

  constructor(store: BffStore, hash: (fid: string) => string, absoluteLifetimeSeconds: number, now: () => number) {
    this.#store = store;
    this.#hash = hash;
    this.#lifetimeSeconds = absoluteLifetimeSeconds;
    this.#now = now;
  }

  /** A family started: its record and the hash → id pointer `revokeSession()` follows. */
  async started(fid: string, sub: string, context: Partial<RequestContext> | undefined): Promise<void> {
    const now = this.#now();
    const family = this.#hash(fid);
    const meta: SessionMeta = { sub, family, createdAt: now, lastSeenAt: now, versions: 1, ...where(context) };
    const ttl = this.#ttl(meta.createdAt);
    this.#lastWrite.set(fid, now);
    await Promise.all([this.#store.set(metaKey(fid), JSON.stringify(meta), ttl, { evictable: true }), this.#store.set(hashKey(family), fid, ttl, { evictable: true })]);
  }

  /** A refresh: the version count and when. */
  async refreshed(fid: string, version: number, context: Partial<RequestContext> | undefined): Promise<void> {
    const now = this.#now();
    await this.#update(fid, context, (meta) => ({ ...meta, versions: Math.max(meta.versions ?? 0, version), lastRefreshAt: now, lastSeenAt: now, ...where(context) }));
  }

  /** A request of the family was answered from the cache or healed: last seen, at most once a minute. */
  async seen(fid: string, context: Partial<RequestContext> | undefined): Promise<void> {
    const now = this.#now();
    if (now - (this.#lastWrite.get(fid) ?? 0) < SEEN_EVERY_MS) return;
    await this.#update(fid, context, (meta) => ({ ...meta, lastSeenAt: now, ...where(context) }));
  }

  async #update(fid: string, context: Partial<RequestContext> | undefined, change: (meta: SessionMeta) => SessionMeta): Promise<void> {
    if (this.#lastWrite.size >= MAX_THROTTLED) this.#lastWrite.clear();
    this.#lastWrite.set(fid, this.#now());
    const known = parseMeta(await this.#store.get(metaKey(fid)));
    // A family from before this record existed (or one the store lost): rebuilt from the cookie.
    const session = context?.session?.fid === fid ? context.session : undefined;
    const base = known ?? (session && { sub: session.sub, family: this.#hash(fid), createdAt: session.ca * 1000 });
    if (!base) return;
    const meta = change(base);
    const ttl = this.#ttl(meta.createdAt);
    await Promise.all([
      this.#store.set(metaKey(fid), JSON.stringify(meta), ttl, { evictable: true }),
      !known && this.#store.set(hashKey(meta.family), fid, ttl, { evictable: true }),
    ]);
  }

  /** Seconds the record lives: as long as the family may, and a little. */
  #ttl(createdAt: number | undefined): number {
    const ends = (createdAt ?? this.#now()) / 1000 + this.#lifetimeSeconds;
    return Math.max(SLACK_SECONDS, Math.ceil(ends - this.#now() / 1000) + SLACK_SECONDS);
  }

  /** The user's live sessions: the index's members that are not denylisted, with what their records say. */
  async list(sub: string): Promise<AdminSession[]> {
    const fids = await this.#store.members(`latchkey:user:${sub}`);
    if (fids.length === 0) return [];
    const values = await this.#store.getMany(fids.flatMap((fid) => [metaKey(fid), `latchkey:act:${fid}`, `latchkey:deny:${fid}`]));
    const sessions: AdminSession[] = [];
    fids.forEach((fid, i) => {
      const [rawMeta, activity, denied] = values.slice(i * 3, i * 3 + 3);
      if (denied !== undefined) return;
      const meta = parseMeta(rawMeta);
      const lastActivityAt = Number(activity) > 0 ? Number(activity) * 1000 : undefined;
      const { sub: _, family: __, ...rest } = meta ?? ({} as Partial<SessionMeta>);
      sessions.push({ family: this.#hash(fid), sub, ...rest, ...(lastActivityAt !== undefined && { lastActivityAt }) });
    });
    return sessions.sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0));
  }

  /** The family id and user of a hash (or of a raw id); `undefined` when the store knows neither. */
  async resolve(familyHashOrId: string): Promise<{ fid: string; sub?: string } | undefined> {
    const fid = FAMILY_HASH.test(familyHashOrId) ? await this.#store.get(hashKey(familyHashOrId)) : familyHashOrId;
    if (!fid) return undefined;
    const meta = parseMeta(await this.#store.get(metaKey(fid)));
    return { fid, ...(meta && { sub: meta.sub }) };
  }
}

function where(context: Partial<RequestContext> | undefined): Pick<SessionMeta, 'ip' | 'userAgent'> {
  return { ...(context?.ip !== undefined && { ip: context.ip }), ...(context?.userAgent !== undefined && { userAgent: context.userAgent }) };
}

function parseMeta(raw: string | undefined): SessionMeta | undefined {
  if (!raw) return undefined;
  try {
    const meta = JSON.parse(raw) as SessionMeta;
    return typeof meta === 'object' && meta !== null && typeof meta.sub === 'string' && typeof meta.family === 'string' ? meta : undefined;
  } catch {
    return undefined;
  }
}

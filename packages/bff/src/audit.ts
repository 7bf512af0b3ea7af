import { createHmac } from 'node:crypto';
import type { BffEvent } from './events.js';
import type { RequestContext } from './requestContext.js';

/** What an audit record is about. */
export type AuditType =
  | 'sign_in'
  | 'token'
  | 'refresh'
  | 'heal'
  | 'reuse'
  | 'revoke'
  | 'logout'
  | 'expiry'
  | 'rate_limit'
  | 'csrf'
  | 'alert'
  | 'admin'
  | 'proxy'
  | 'error';

/**
 * One lifecycle fact, ready for a log pipeline or a dashboard: what happened, to whom, from
 * where. Never a token, a cookie or a raw family id (a raw id is enough to call
 * `revokeFamily`; `family` is a keyed hash of it, see {@link familyHasher}).
 */
export interface AuditRecord {
  /** ISO 8601. */
  time: string;
  type: AuditType;
  /** The {@link BffEvent} type the record came from, or `sign_in_failed`, `unreadable_cookie`, `alert`, `admin_action`. */
  event: string;
  /** `success`, or what happened instead: a reason (`idle`, `reuse`), a result (`cached`), an error code. */
  outcome: string;
  /** The user, where known (see the BFF README for where it is not). */
  sub?: string;
  /** First 16 hex digits of an HMAC-SHA-256 of the family id under a key derived from the cookie secret. */
  family?: string;
  /** Per the BFF's `clientIp` or `trustProxy`; absent where neither says. */
  ip?: string;
  /** Truncated to 200 characters. */
  userAgent?: string;
  /** The route being handled (`/token`, `/callback`…), `server` for server-side calls; absent outside a request. */
  route?: string;
  /** Numbers, flags and short codes of the event (versions, `upstreamMs`, `retryAfter`…). */
  detail?: Record<string, string | number | boolean>;
}

/**
 * Where audit records go. `write` must not throw for long: a failure is logged (once a minute)
 * and the request goes on. `recent` feeds the dashboard, newest first.
 */
export interface AuditSink {
  write(record: AuditRecord): void | Promise<void>;
  recent?(limit: number): Promise<AuditRecord[]>;
}

/**
 * The keyed hash that names a family in audit records and the operations API: the first 16
 * hex digits of HMAC-SHA-256(family id) under a key derived from the newest cookie secret, so
 * records of one deployment link up, nobody without the secret can link them to a cookie, and
 * the raw id (which `revokeFamily` accepts) never reaches a log. Rotating the newest cookie
 * secret starts new hashes.
 */
export function familyHasher(passwords: Readonly<Record<number, string>>): (familyId: string) => string {
  const newest = Math.max(...Object.keys(passwords).map(Number));
  const key = createHmac('sha256', passwords[newest]!).update('latchkey audit family hash v1').digest();
  // Every /token answer is counted under its family's hash: the same few families, again and
  // again, so each is hashed once (a bounded memo, emptied when full).
  const known = new Map<string, string>();
  return (familyId) => {
    let hash = known.get(familyId);
    if (hash === undefined) {
      if (known.size >= MAX_KNOWN_HASHES) known.clear();
      known.set(familyId, (hash = createHmac('sha256', key).update(familyId).digest('hex').slice(0, 16)));
    }
    return hash;
  };
}

const MAX_KNOWN_HASHES = 10_000;

/** A family hash as {@link familyHasher} makes it. */
export const FAMILY_HASH = /^[0-9a-f]{16}$/;

const MAX_TEXT = 200;

/** Builds the audit record of an event: type and outcome by event, only the fields known to be safe. */
export function auditRecord(event: BffEvent, context: Partial<RequestContext> | undefined, hash: (fid: string) => string, sub: string | undefined, now: number): AuditRecord {
  const [type, outcome, detail] = classify(event);
  const familyId = 'familyId' in event && typeof event.familyId === 'string' ? event.familyId : undefined;
  return withContext({ time: new Date(now).toISOString(), type, event: event.type, outcome, ...(sub !== undefined && { sub }), ...(familyId !== undefined && { family: hash(familyId) }), ...(detail && { detail }) }, context);
}

/** Adds where a record came from: route, IP and user agent of the request being handled. */
export function withContext(record: AuditRecord, context: Partial<RequestContext> | undefined): AuditRecord {
  if (!context) return record;
  return {
    ...record,
    ...(context.ip !== undefined && { ip: context.ip }),
    ...(context.userAgent !== undefined && { userAgent: context.userAgent.slice(0, MAX_TEXT) }),
    ...(context.route !== undefined && { route: context.route }),
  };
}

type Detail = AuditRecord['detail'];

/** Type, outcome and detail of each event; an event type this file does not know keeps numbers and flags only. */
function classify(event: BffEvent): [AuditType, string, Detail] {
  switch (event.type) {
    case 'session_created':
      return ['sign_in', 'success', undefined];
    case 'token_served_from_cache':
      return ['token', 'cached', undefined];
    case 'token_refreshed':
      return ['refresh', 'success', pick(event, ['version', 'upstreamMs', 'rotated', 'late', 'delivered'])];
    case 'refresh_failed':
      return ['refresh', short(event.reason), pick(event, ['shared'])];
    case 'stale_cookie_healed':
      return ['heal', 'success', pick(event, ['fromVersion', 'toVersion', 'ageMs'])];
    case 'reuse_detected':
      return ['reuse', 'revoked', pick(event, ['presentedVersion', 'currentVersion'])];
    case 'session_expired':
      return ['expiry', event.reason, undefined];
    case 'session_revoked':
      return ['revoke', event.reason, undefined];
    case 'rate_limited':
      return ['rate_limit', event.limit, pick(event, ['retryAfter'])];
    case 'csrf_rejected':
      // The reason quotes what the client sent (an Origin): kept short.
      return ['csrf', 'rejected', { path: short(event.path), reason: short(event.reason) }];
    case 'logged_out':
      return ['logout', 'success', undefined];
    case 'configuration_error':
      return ['error', 'configuration_error', { step: short(event.step), providerCode: short(event.providerCode) }];
    case 'store_unavailable':
      return ['error', 'store_unavailable', { operation: short(event.operation) }];
    case 'revocation_failed':
      return ['revoke', 'upstream_failed', { reason: short(event.reason) }];
    case 'api_proxied':
      // The API's name and the method only: a path or query may hold what is not ours to log.
      return ['proxy', event.outcome, pick(event, ['api', 'method', 'status', 'upstreamMs'])];
    default: {
      const unknown = event as Record<string, unknown>;
      // `/callback` did not start a session (the provider's `error=`, or an answer the BFF refused).
      if (unknown.type === 'sign_in_failed') return ['sign_in', short(String(unknown.error ?? 'unknown')), { reason: short(String(unknown.outcome ?? 'failure')) }];
      // An event added after this file: its numbers and flags only, never a string that might hold a secret.
      const detail: Record<string, number | boolean> = {};
      for (const [name, value] of Object.entries(unknown)) if (typeof value === 'number' || typeof value === 'boolean') detail[name] = value;
      return ['error', 'unclassified', Object.keys(detail).length ? detail : undefined];
    }
  }
}

function pick<E extends object>(event: E, names: (keyof E & string)[]): Detail {
  const detail: Record<string, string | number | boolean> = {};
  for (const name of names) {
    const value = event[name];
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') detail[name] = value;
  }
  return Object.keys(detail).length ? detail : undefined;
}

function short(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

const WARN = new Set<AuditType>(['reuse', 'revoke', 'rate_limit', 'csrf', 'heal', 'alert', 'proxy']);

/** A record as one JSON line with `level` and `source: "latchkey"`, like the event logger's lines. */
export function auditLine(record: AuditRecord): string {
  const level = record.type === 'error' ? 'error' : WARN.has(record.type) || (record.type === 'refresh' && record.outcome !== 'success') ? 'warn' : 'info';
  return JSON.stringify({ level, source: 'latchkey', audit: true, ...record });
}

/** Options of {@link memoryAuditSink}. */
export interface MemoryAuditSinkOptions {
  /** How many records to keep for `recent()` (default 1,000). */
  maxRecords?: number;
  /** Where each record goes as a JSON line (default the console); `false` keeps them in memory only. */
  write?: ((line: string) => void) | false;
}

/**
 * The default audit sink: each record as one JSON line on the console, and the last
 * `maxRecords` kept in this process for the dashboard (`bff.admin.recentAudit()`). With several
 * instances, use `redisAuditSink()` from `@latchkey/bff/redis` so every dashboard sees one trail.
 * @example
 * createBff({ ...options, audit: memoryAuditSink({ write: (line) => process.stderr.write(line + '\n') }) });
 */
export function memoryAuditSink(options: MemoryAuditSinkOptions = {}): AuditSink {
  const max = options.maxRecords ?? 1000;
  const write = options.write === undefined ? (line: string) => console.log(line) : options.write;
  const ring: AuditRecord[] = [];
  let next = 0;
  return {
    write(record) {
      if (write) write(auditLine(record));
      if (max <= 0) return;
      if (ring.length < max) ring.push(record);
      else ring[next] = record;
      next = (next + 1) % max;
    },
    async recent(limit) {
      const ordered = ring.length < max ? ring : [...ring.slice(next), ...ring.slice(0, next)];
      return ordered.slice(-Math.max(0, limit)).reverse();
    },
  };
}

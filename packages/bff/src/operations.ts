import type { AdminActionOptions, BffAdmin, SessionDirectory } from './admin.js';
import { AlertCounter, type Alert, type AlertThresholds, type AlertWindows } from './alerts.js';
import { auditRecord, memoryAuditSink, withContext, type AuditRecord, type AuditSink } from './audit.js';
import { isRoutine, type BffEvent } from './events.js';
import { OpsStats, type TokenResult } from './opsStats.js';
import { contextOf, currentRequest, withRequestContext, type RequestContext } from './requestContext.js';
import type { BffStore } from './store.js';
import type { TokenService } from './tokenService.js';

/**
 * The audit options of `createBff()` (part of {@link BffConfig}).
 */
export interface AuditOptions {
  /**
   * Where audit records go (default {@link memoryAuditSink}: a JSON line per record on the
   * console, the last 1,000 kept for `bff.admin.recentAudit()`; with the default sink and no
   * `onEvent` of your own, that line replaces the event logger's). `redisAuditSink()` from
   * `@latchkey/bff/redis` keeps one trail for every instance. `false`: no audit trail.
   */
  audit?: AuditSink | false;
  /** Called on security signals: reuse detected, repeated failed sign-ins, a family healed over and over. Once per window and key. */
  onAlert?: (alert: Alert) => void;
  /** When `onAlert` fires (defaults in {@link DEFAULT_ALERT_THRESHOLDS}). */
  alertThresholds?: Partial<AlertThresholds>;
}

/** What the copies of one BFF in a process share (Next evaluates a module once per bundle layer): keyed by their store. */
interface Shared {
  stats: OpsStats;
  windows: AlertWindows;
  defaultSink: AuditSink;
  /** Family id → user, for events that carry no `sub` (bounded). */
  subs: Map<string, string>;
}

const REGISTRY = Symbol.for('latchkey.operations');
const MAX_SUBS = 10_000;

function shared(store: BffStore): Shared {
  const registry = ((globalThis as Record<symbol, WeakMap<object, Shared> | undefined>)[REGISTRY] ??= new WeakMap());
  let state = registry.get(store);
  if (!state) registry.set(store, (state = { stats: new OpsStats(), windows: new Map(), defaultSink: memoryAuditSink(), subs: new Map() }));
  return state;
}

/**
 * The audit pipeline: turns each event into an {@link AuditRecord} with the request's context
 * and the user, writes it to the sink, counts it for alerts and the dashboard, and keeps the
 * per-family records of the operations API. Nothing here can fail a request.
 */
export class Operations {
  readonly #sink: AuditSink | undefined;
  readonly #onAlert: ((alert: Alert) => void) | undefined;
  readonly #alerts: AlertCounter;
  readonly #shared: Shared;
  readonly #hash: (fid: string) => string;
  readonly #now: () => number;
  readonly #directory: SessionDirectory;
  #sinkFailedAt = -Infinity;

  constructor(options: AuditOptions, store: BffStore, hash: (fid: string) => string, now: () => number, directory: SessionDirectory) {
    this.#shared = shared(store);
    this.#sink = options.audit === false ? undefined : (options.audit ?? this.#shared.defaultSink);
    this.#onAlert = options.onAlert;
    this.#alerts = new AlertCounter(options.alertThresholds, (alert) => this.#alert(alert), this.#shared.windows);
    this.#hash = hash;
    this.#now = now;
    this.#directory = directory;
  }

  /** Every event the BFF emits comes through here, after the app's `onEvent`. */
  event(event: BffEvent): void {
    const context = currentRequest();
    const fid = 'familyId' in event ? event.familyId : undefined;
    const given = 'sub' in event && typeof event.sub === 'string' ? event.sub : undefined;
    if (event.type === 'session_created' && fid && given) {
      this.#remember(fid, given);
      // The families this sign-in pushes over the per-user limit are this user's too.
      if (context) context.subject = given;
    }
    const sub = given ?? (fid !== undefined ? this.#subOf(fid, context) : context?.subject);
    if (fid) this.#directoryUpdate(event, fid, context);
    // Served from the cache or forwarded by the proxy, many times a second: counted for the
    // dashboard (by answered()), never written, so no record is built for them either.
    if (!isRoutine(event)) this.#record(auditRecord(event, context, this.#hash, sub, this.#now()));
  }

  /** A request has been answered: counts `/token` results, records unreadable cookies. */
  answered(context: RequestContext, response: Response, durationMs: number): void {
    const family = context.session ? this.#hash(context.session.fid) : undefined;
    if (context.route === '/token' && response.status !== 204) this.#shared.stats.token(tokenResult(response.status, context.tokenVia), durationMs, family, this.#now());
    if (context.unreadableCookie) this.#record(this.#own('token', 'unreadable_cookie', 'rejected', context));
  }

  /** A record this pipeline makes itself (not from an event). */
  #own(type: AuditRecord['type'], event: string, outcome: string, context: Partial<RequestContext> | undefined, extra: Partial<AuditRecord> = {}): AuditRecord {
    return withContext({ time: new Date(this.#now()).toISOString(), type, event, outcome, ...extra }, context);
  }

  #record(record: AuditRecord): void {
    this.#write(record);
    const now = this.#now();
    this.#shared.stats.record(record, now);
    this.#alerts.observe(record, now);
  }

  #write(record: AuditRecord): void {
    if (!this.#sink) return;
    try {
      const written = this.#sink.write(record);
      if (written) written.catch((error: unknown) => this.#sinkFailed(error));
    } catch (error) {
      this.#sinkFailed(error);
    }
  }

  #sinkFailed(error: unknown): void {
    // Once a minute at most: a sink that is down must not flood the log it may be part of.
    if (performance.now() - this.#sinkFailedAt < 60_000) return;
    this.#sinkFailedAt = performance.now();
    console.error('[latchkey] the audit sink failed; records are being dropped', error);
  }

  #alert(alert: Alert): void {
    const { record } = alert;
    this.#write({
      time: alert.time,
      type: 'alert',
      event: 'alert',
      outcome: alert.kind,
      ...(record.sub !== undefined && { sub: record.sub }),
      ...(record.family !== undefined && { family: record.family }),
      ...(record.ip !== undefined && { ip: record.ip }),
      ...(record.userAgent !== undefined && { userAgent: record.userAgent }),
      ...(record.route !== undefined && { route: record.route }),
      detail: { key: alert.key, count: alert.count, windowSeconds: alert.windowSeconds },
    });
    this.#shared.stats.record({ ...record, type: 'alert' }, this.#now());
    if (!this.#onAlert) return;
    try {
      this.#onAlert(alert);
    } catch (error) {
      console.error('[latchkey] onAlert threw', error);
    }
  }

  #directoryUpdate(event: BffEvent, fid: string, context: RequestContext | undefined): void {
    let update: Promise<void> | undefined;
    if (event.type === 'session_created') update = this.#directory.started(fid, event.sub, context);
    else if (event.type === 'token_refreshed') update = this.#directory.refreshed(fid, event.version, context);
    else if (event.type === 'token_served_from_cache' || event.type === 'stale_cookie_healed') update = this.#directory.seen(fid, context);
    update?.catch(() => {});
  }

  #subOf(fid: string, context: RequestContext | undefined): string | undefined {
    if (context?.session?.fid === fid) {
      this.#remember(fid, context.session.sub);
      return context.session.sub;
    }
    return this.#shared.subs.get(fid) ?? context?.subject;
  }

  #remember(fid: string, sub: string): void {
    const subs = this.#shared.subs;
    if (subs.get(fid) === sub) return;
    if (subs.size >= MAX_SUBS) subs.delete(subs.keys().next().value!);
    subs.set(fid, sub);
  }

  /** The operations API over this pipeline and the token service. */
  admin(tokens: TokenService, clientIp: (request: Request) => string | undefined): BffAdmin {
    const scope = (options: AdminActionOptions | undefined, subject: string | undefined): RequestContext => ({
      ...(options?.request ? contextOf(options.request, 'admin', clientIp) : { route: 'admin' }),
      ...(subject !== undefined && { subject }),
    });
    const audited = (context: RequestContext, action: string, target: Partial<AuditRecord>, actor: string | undefined, result: Record<string, number | boolean>) =>
      this.#record(this.#own('admin', 'admin_action', action, context, { ...target, detail: { ...(actor !== undefined && { actor: actor.slice(0, 200) }), ...result } }));
    return {
      listSessions: (sub) => this.#directory.list(sub),
      revokeSession: async (familyHashOrId, options) => {
        const found = await this.#directory.resolve(familyHashOrId);
        const context = scope(options, found?.sub);
        if (found?.sub) this.#remember(found.fid, found.sub);
        const target = { ...(found?.sub !== undefined && { sub: found.sub }), ...(found && { family: this.#hash(found.fid) }) };
        // An id the store never saw is still revoked (the denylist outlives every record here); a hash must be known.
        const fid = found?.fid;
        const revoked = fid ? await withRequestContext(context, () => tokens.revokeFamily(fid, 'revoke_family')) : false;
        audited(context, 'revoke_session', target, options?.actor, { revoked });
        return revoked;
      },
      revokeUser: async (sub, options) => {
        const context = scope(options, sub);
        const revoked = await withRequestContext(context, () => tokens.revokeUser(sub));
        audited(context, 'revoke_user', { sub }, options?.actor, { revoked });
        return revoked;
      },
      recentAudit: async (limit = 100) => (this.#sink?.recent ? this.#sink.recent(limit) : []),
      stats: () => this.#shared.stats.snapshot(this.#now()),
    };
  }
}

/** How a `/token` answer counts: by status, and for a 200 as the token service served it (the same result its metric counts). */
export function tokenResult(status: number, via: RequestContext['tokenVia']): TokenResult {
  if (status === 200) return via ?? 'waited';
  if (status === 401 || status === 403) return 'rejected';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  return 'error';
}

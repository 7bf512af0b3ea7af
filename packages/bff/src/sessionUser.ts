import type { SessionUser, SessionUserBase } from '@latchkey/core';
import { BffError, ConfigurationError } from './errors.js';

/** The ID token's validated claims, as `userClaims` and `mapUser` read them. */
export interface IdTokenClaims {
  sub: string;
  [claim: string]: unknown;
}

/** What `mapUser` gets besides the ID token's claims: the access token of the sign-in, e.g. to read roles a provider puts only there. */
export interface MapUserContext {
  accessToken: string;
  scope: string;
}

/** Builds the session's user from the sign-in (see `BffConfig.mapUser`). */
export type MapUser<User extends SessionUserBase = SessionUser> = (claims: IdTokenClaims, context: MapUserContext) => User | Promise<User>;

/** The ID-token claims a session keeps when neither `userClaims` nor `mapUser` is set (strings of at most 200 characters). */
export const DEFAULT_USER_CLAIMS: readonly string[] = Object.freeze(['sub', 'name', 'email', 'preferred_username']);

/**
 * The largest user a session carries, as UTF-8 JSON. It rides in every session cookie (whose
 * whole `Set-Cookie` must stay under the 4,096 bytes browsers keep) and every `/token` answer.
 */
export const MAX_USER_BYTES = 2048;

/** How deep a user's values may nest. */
const MAX_DEPTH = 8;

/** The user options as resolved: `userClaims` undefined means the default display claims. */
export interface UserOptions {
  userClaims: readonly string[] | undefined;
  mapUser: MapUser<SessionUserBase> | undefined;
}

/** Checks `userClaims` and `mapUser` at start-up, with messages that name the option at fault. */
export function resolveUserOptions(config: { userClaims?: readonly string[] | undefined; mapUser?: MapUser<SessionUserBase> | undefined }): UserOptions {
  const { userClaims, mapUser } = config as { userClaims?: unknown; mapUser?: unknown };
  if (mapUser !== undefined && typeof mapUser !== 'function') {
    throw new ConfigurationError(`"mapUser" must be a function (claims, context) => user, got ${describe(mapUser)}.`);
  }
  if (userClaims !== undefined && mapUser !== undefined) {
    throw new ConfigurationError('set "userClaims" or "mapUser", not both: mapUser receives every claim and picks its own.');
  }
  if (userClaims === undefined) return { userClaims: undefined, mapUser: mapUser as UserOptions['mapUser'] };
  if (!Array.isArray(userClaims)) throw new ConfigurationError(`"userClaims" must be a list of claim names, got ${describe(userClaims)}.`);
  for (const name of userClaims as unknown[]) {
    if (typeof name !== 'string' || name === '' || name.length > 256) {
      throw new ConfigurationError(`"userClaims" must hold claim names (non-empty strings of at most 256 characters), got ${describe(name)}.`);
    }
    if (name === '__proto__') throw new ConfigurationError('"userClaims" cannot name "__proto__".');
  }
  // `sub` is always kept: the session, "sign out everywhere" and every log line are keyed by it.
  return { userClaims: Object.freeze([...new Set(['sub', ...(userClaims as string[])])]), mapUser: undefined };
}

/**
 * The user a new session carries: the configured claims (or `mapUser`'s answer) with the ID
 * token's `sub`, checked to be a plain JSON object of at most {@link MAX_USER_BYTES}. Anything
 * else is the configuration's fault, not the person's: a logged 500 `configuration_error`,
 * never a user silently cut short.
 */
export async function buildSessionUser(options: UserOptions, claims: IdTokenClaims, context: MapUserContext): Promise<SessionUser> {
  let user: unknown;
  if (options.mapUser) {
    try {
      user = await options.mapUser(claims, context);
    } catch (error) {
      throw misconfigured('mapUser threw', error);
    }
  } else if (options.userClaims) {
    user = {};
    for (const name of options.userClaims) if (Object.hasOwn(claims, name) && claims[name] !== undefined) (user as Record<string, unknown>)[name] = claims[name];
  } else {
    user = pickDisplayClaims(claims);
  }
  const source = options.mapUser ? 'mapUser returned' : 'the user picked by userClaims is';
  if (!isPlainObject(user)) throw misconfigured(`${source} ${describe(user)}, not a plain object`);
  if (user.sub === undefined) user = { ...user, sub: claims.sub };
  else if (user.sub !== claims.sub) throw misconfigured(`${source} a "sub" other than the ID token's; leave sub out or copy claims.sub`);
  const problem = jsonProblem(user, 'user', 0);
  if (problem) throw misconfigured(`${source} a value JSON cannot carry: ${problem}`);
  const json = JSON.stringify(user);
  const bytes = new TextEncoder().encode(json).length;
  if (bytes > MAX_USER_BYTES) {
    throw misconfigured(`${source} ${bytes} bytes as JSON, over the ${MAX_USER_BYTES} a session cookie can carry; keep fewer or smaller claims (user ${JSON.stringify(claims.sub)})`);
  }
  // A copy as it will come out of the cookie: no undefined members, nothing shared with mapUser.
  return JSON.parse(json) as SessionUser;
}

/** The default: the display claims that are strings of reasonable length. */
function pickDisplayClaims(claims: IdTokenClaims): SessionUser {
  const user: SessionUser = { sub: String(claims.sub) };
  for (const key of ['name', 'email', 'preferred_username'] as const) {
    const value = claims[key];
    if (typeof value === 'string' && value.length <= 200) user[key] = value;
  }
  return user;
}

function misconfigured(detail: string, cause?: unknown): BffError {
  console.error(`[latchkey] configuration error: ${detail}. Check the "userClaims" or "mapUser" option of createBff().`, ...(cause === undefined ? [] : [cause]));
  return new BffError('configuration_error', 500, `Sign-in is misconfigured on the server (${detail}). This needs an operator; retrying will not help.`, {
    ...(cause !== undefined && { cause }),
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Where a value stops being plain JSON (what `JSON.stringify` would drop, change or throw on), or undefined. */
function jsonProblem(value: unknown, path: string, depth: number): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} is ${value}`;
  if (typeof value !== 'object') return `${path} is ${describe(value)}`;
  if (depth >= MAX_DEPTH) return `${path} nests deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = value[i] === undefined ? `${path}[${i}] is undefined` : jsonProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return `${path} is ${describe(value)}, not a plain object`;
  for (const [key, member] of Object.entries(value)) {
    // Left out by JSON, as an optional claim that is absent should be.
    if (member === undefined) continue;
    const problem = jsonProblem(member, `${path}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** A value's kind for a message, never the value itself (claims are personal data). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

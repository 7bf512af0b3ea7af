import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { createBff } from './createBff.js';
import { BffError, ConfigurationError } from './errors.js';
import { buildSessionUser, MAX_USER_BYTES, resolveUserOptions, type IdTokenClaims, type MapUser } from './sessionUser.js';
import { good } from './test/goodConfig.js';


const claims: IdTokenClaims = {
  sub: 'alice',
  iss: 'https://idp.example/',
  aud: 'c',
  name: 'Alice Liddell',
  email: 'alice@example.com',
  email_verified: true,
  preferred_username: 'alice',
  roles: ['admin', 'editor'],
  'https://example.com/tenant': { id: 't1' },
  picture: 'x'.repeat(300),
};
const context = { accessToken: 'at', scope: 'openid notes:read' };

describe('the user options in the configuration', () => {
  it.each([
    ['both userClaims and mapUser', { userClaims: ['roles'], mapUser: (c: IdTokenClaims) => c }, /set "userClaims" or "mapUser", not both/],
    ['a mapUser that is not a function', { mapUser: { sub: 'x' } }, /"mapUser" must be a function \(claims, context\) => user, got an object/],
    ['userClaims that is a string', { userClaims: 'roles' }, /"userClaims" must be a list of claim names, got a string/],
    ['an empty claim name', { userClaims: ['roles', ''] }, /"userClaims" must hold claim names/],
    ['a claim name that is not a string', { userClaims: [42] }, /"userClaims" must hold claim names .* got a number/],
    ['__proto__', { userClaims: ['__proto__'] }, /"userClaims" cannot name "__proto__"/],
  ])('check() fails on %s, with a message naming the option', (_name, patch, message) => {
    const bff = createBff({ ...good, ...patch } as never);
    expect(() => bff.check()).toThrow(ConfigurationError);
    expect(() => bff.check()).toThrow(message);
  });

  it('always keeps sub among userClaims, once', () => {
    expect(resolveUserOptions({ userClaims: ['roles', 'sub', 'roles'] }).userClaims).toEqual(['sub', 'roles']);
    expect(createBff({ ...good, userClaims: ['email'] }).config.userClaims).toEqual(['sub', 'email']);
  });

  it('shows no function in bff.config', () => {
    const config = createBff({ ...good, mapUser: (c) => ({ sub: c.sub }) }).config;
    expect(Object.keys(config)).not.toContain('mapUser');
  });
});

describe('buildSessionUser()', () => {
  let log: MockInstance;
  beforeEach(() => {
    log = vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterEach(() => log.mockRestore());

  const build = (options: { userClaims?: string[]; mapUser?: MapUser }, from = claims) => buildSessionUser(resolveUserOptions(options), from, context);

  it('keeps the display claims that are short strings by default, as before', async () => {
    expect(await build({})).toEqual({ sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com', preferred_username: 'alice' });
    expect(await build({}, { sub: 'bob', name: 42, email: 'e'.repeat(201) })).toEqual({ sub: 'bob' });
  });

  it('picks the claims userClaims names, of any JSON type, and sub even when not named', async () => {
    expect(await build({ userClaims: ['roles', 'email_verified', 'https://example.com/tenant', 'missing'] })).toEqual({
      sub: 'alice',
      roles: ['admin', 'editor'],
      email_verified: true,
      'https://example.com/tenant': { id: 't1' },
    });
  });

  it("takes mapUser's user, handing it every claim and the sign-in's access token", async () => {
    const mapUser = vi.fn(async (c: IdTokenClaims, ctx: { accessToken: string; scope: string }) => ({ sub: c.sub, display: String(c.name), roles: c.roles, scope: ctx.scope }));
    expect(await build({ mapUser })).toEqual({ sub: 'alice', display: 'Alice Liddell', roles: ['admin', 'editor'], scope: 'openid notes:read' });
    expect(mapUser).toHaveBeenCalledWith(claims, context);
  });

  it("adds the ID token's sub when mapUser leaves it out, and drops undefined members as JSON does", async () => {
    expect(await build({ mapUser: () => ({ name: 'A', nickname: undefined }) as never })).toEqual({ name: 'A', sub: 'alice' });
  });

  it('gives a copy: changing what mapUser returned later changes nothing', async () => {
    const roles = ['admin'];
    const user = await build({ mapUser: (c) => ({ sub: c.sub, roles }) });
    roles.push('root');
    expect(user.roles).toEqual(['admin']);
  });

  /** Expects a logged 500 configuration_error whose message matches, and answers the error. */
  async function misconfigured(run: Promise<unknown>, message: RegExp) {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BffError);
    expect(error).toMatchObject({ code: 'configuration_error', status: 500 });
    expect((error as Error).message).toMatch(message);
    expect(log).toHaveBeenCalled();
    expect(String(log.mock.calls[0]![0])).toMatch(message);
    return error as BffError;
  }

  it.each([
    ['a string', () => 'alice', /mapUser returned a string, not a plain object/],
    ['null', () => null, /mapUser returned null, not a plain object/],
    ['an array', () => [{ sub: 'alice' }], /mapUser returned an array, not a plain object/],
    ['a class instance', () => new (class Account { sub = 'alice'; })(), /mapUser returned a Account, not a plain object/],
    ['another sub', () => ({ sub: 'mallory' }), /a "sub" other than the ID token's/],
    ['a numeric sub', () => ({ sub: 7 }), /a "sub" other than the ID token's/],
    ['a Date', () => ({ since: new Date(0) }), /a value JSON cannot carry: user.since is a Date, not a plain object/],
    ['a Map', () => ({ roles: new Map() }), /user.roles is a Map, not a plain object/],
    ['a function', () => ({ can: () => true }), /user.can is a function/],
    ['a bigint', () => ({ id: 1n }), /user.id is a bigint/],
    ['NaN', () => ({ score: Number.NaN }), /user.score is NaN/],
    ['Infinity deep inside', () => ({ a: { b: [1, Infinity] } }), /user.a.b\[1\] is Infinity/],
    ['undefined in a list', () => ({ roles: ['a', undefined] }), /user.roles\[1\] is undefined/],
    ['a toJSON method', () => ({ toJSON: () => ({ sub: 'mallory' }) }), /user.toJSON is a function/],
    ['a cycle', () => {
      const a: Record<string, unknown> = {};
      a.self = a;
      return a;
    }, /nests deeper than 8 levels/],
  ])('refuses a mapUser that returns %s: logged 500 configuration_error, not a truncated user', async (_name, mapUser, message) => {
    await misconfigured(build({ mapUser: mapUser as never }), message);
  });

  it(`refuses a user over ${MAX_USER_BYTES} bytes as JSON, counting UTF-8 bytes, and says how large it was`, async () => {
    // 1,100 characters of two bytes each: under the limit in characters, over it in bytes.
    const error = await misconfigured(build({ mapUser: (c) => ({ sub: c.sub, bio: 'é'.repeat(1100) }) }), /mapUser returned 2\d{3} bytes as JSON, over the 2048/);
    expect(error.message).not.toContain('éé');
    // At the limit exactly it passes.
    const fits = 'x'.repeat(MAX_USER_BYTES - JSON.stringify({ sub: 'alice', bio: '' }).length);
    expect((await build({ mapUser: (c) => ({ sub: c.sub, bio: fits }) })).bio).toBe(fits);
  });

  it('refuses claims picked by userClaims that are too large, naming the option', async () => {
    await misconfigured(build({ userClaims: ['groups'] }, { sub: 'alice', groups: Array.from({ length: 200 }, (_, i) => `group-${i}`) }), /the user picked by userClaims is \d+ bytes as JSON/);
  });

  it('reports a mapUser that throws as a configuration error, with its error as the logged cause', async () => {
    const thrown = new Error('roles lookup failed');
    const error = await misconfigured(
      build({
        mapUser: () => {
          throw thrown;
        },
      }),
      /mapUser threw/,
    );
    expect(error.cause).toBe(thrown);
    expect(log.mock.calls[0]).toContain(thrown);
  });
});

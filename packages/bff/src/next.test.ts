import { beforeEach, describe, expect, it, vi } from 'vitest';

// Next's request-scoped APIs, as a route handler, a server action or a server component sees them.
const jar = new Map<string, string>();
const requestHeaders = new Headers();
let settable = true;
const set = vi.fn((name: string, value: string) => {
  if (!settable) throw new Error('Cookies can only be modified in a Server Action or Route Handler.');
  jar.set(name, value);
});
vi.mock('next/headers', () => ({
  cookies: async () => ({
    get: (name: string) => (jar.has(name) ? { name, value: jar.get(name)! } : undefined),
    getAll: () => [...jar].map(([name, value]) => ({ name, value })),
    set,
  }),
  headers: async () => requestHeaders,
}));
const redirect = vi.fn((url: string) => {
  throw Object.assign(new Error('NEXT_REDIRECT'), { url });
});
vi.mock('next/navigation', () => ({ redirect: (url: string) => redirect(url) }));
const connection = vi.fn(async () => {});
vi.mock('next/server', () => ({ connection: () => connection() }));

const { nextAuth, nextHandlers } = await import('./next.js');

/** A BFF that records the Cookie headers it is handed. */
function fakeBff(answers: { user?: { sub: string } | null; cookie?: string } = {}) {
  const seen: (string | null)[] = [];
  const bff = {
    handle: async () => new Response(),
    findSession: vi.fn(async (header: string | null) => {
      seen.push(header);
      return answers.user ?? null;
    }),
    getAccessToken: vi.fn(async (header: string | null) => {
      seen.push(header);
      return {
        accessToken: 'at',
        expiresAt: 0,
        expiresIn: 60,
        scope: '',
        user: { sub: 'alice' },
        ...(answers.cookie && { cookie: { name: '__Host-latchkey', value: answers.cookie, maxAge: 100, header: '' } }),
      };
    }),
    config: { appOrigin: 'https://app.example', basePath: '/api/auth' },
  };
  return { bff: bff as never, seen, raw: bff };
}

beforeEach(() => {
  jar.clear();
  for (const name of [...requestHeaders.keys()]) requestHeaders.delete(name);
  settable = true;
  set.mockClear();
  redirect.mockClear();
});

describe('nextAuth()', () => {
  it('hands the BFF the session cookie alone: another cookie whose decoded value smuggles one in is not read', async () => {
    jar.set('pref', '1; __Host-latchkey=attackers-seal');
    jar.set('__Host-latchkey', 'victims-seal');
    const { bff, seen } = fakeBff({ user: { sub: 'alice' } });
    const auth = nextAuth(bff);
    await auth.getSession();
    await auth.getAccessToken();
    expect(seen).toEqual(['__Host-latchkey=victims-seal', '__Host-latchkey=victims-seal']);
  });

  it('marks every read of the session as request-time work (connection()) before touching cookies, so no prerender reads the clock', async () => {
    const { bff } = fakeBff({ user: { sub: 'alice' } });
    const auth = nextAuth(bff);
    jar.set('__Host-latchkey', 'seal');
    requestHeaders.set('sec-fetch-site', 'same-origin');
    for (const call of [() => auth.getSession(), () => auth.requireSession(), () => auth.getAccessToken()]) {
      connection.mockClear();
      await call();
      expect(connection).toHaveBeenCalledTimes(1);
    }
  });

  it('getSession() is unknown (undefined), not signed out, when a navigation from another site arrives without the cookie', async () => {
    const { bff, raw } = fakeBff();
    const auth = nextAuth(bff);
    requestHeaders.set('sec-fetch-site', 'cross-site');
    expect(await auth.getSession()).toBeUndefined();
    expect(raw.findSession).not.toHaveBeenCalled();
    requestHeaders.set('sec-fetch-site', 'same-origin');
    expect(await auth.getSession()).toBeNull();
  });

  it('getSession() is unknown when the store or provider is in trouble, never signed out', async () => {
    const { bff, raw } = fakeBff();
    raw.findSession.mockRejectedValueOnce(new Error('store down'));
    jar.set('__Host-latchkey', 'seal');
    expect(await nextAuth(bff).getSession()).toBeUndefined();
  });

  it('getAccessToken() sets the rotated cookie where it can, and in a server component leaves the rotation pending without failing', async () => {
    jar.set('__Host-latchkey', 'v1');
    const { bff } = fakeBff({ cookie: 'v2' });
    const auth = nextAuth(bff);
    await auth.getAccessToken();
    expect(set).toHaveBeenCalledWith('__Host-latchkey', 'v2', { path: '/', maxAge: 100, httpOnly: true, secure: true, sameSite: 'strict' });
    settable = false;
    await expect(auth.getAccessToken()).resolves.toMatchObject({ accessToken: 'at' });
  });

  it('getAccessToken() still sets the rotated cookie when the store failed after the provider rotated, then rethrows', async () => {
    jar.set('__Host-latchkey', 'v1');
    const { bff, raw } = fakeBff();
    const failure = Object.assign(new Error('store down'), { cookie: { name: '__Host-latchkey', value: 'v2', maxAge: 100, header: '' } });
    raw.getAccessToken.mockRejectedValueOnce(failure);
    await expect(nextAuth(bff).getAccessToken()).rejects.toBe(failure);
    expect(jar.get('__Host-latchkey')).toBe('v2');
  });

  it('requireSession() sends a visitor to sign-in with returnTo, and refuses a returnTo off the site', async () => {
    const { bff } = fakeBff();
    const auth = nextAuth(bff);
    await expect(auth.requireSession({ returnTo: '/account?tab=2' })).rejects.toThrow('NEXT_REDIRECT');
    expect(redirect).toHaveBeenCalledWith('/api/auth/login?returnTo=%2Faccount%3Ftab%3D2');
    await expect(auth.requireSession({ returnTo: '//evil.example' })).rejects.toThrow(RangeError);
  });
});

describe('nextHandlers()', () => {
  it('hands every method a route may export (GET, POST, and PUT, PATCH, DELETE for proxied APIs) to the BFF', async () => {
    const handle = vi.fn(async (request: Request) => new Response(request.method));
    const handlers = nextHandlers({ handle });
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const response = await handlers[method](new Request('http://localhost:3000/api/auth/proxy/notes/1', { method }));
      expect(await response.text()).toBe(method);
    }
    expect(handle).toHaveBeenCalledTimes(5);
  });
});

import { describe, expect, it } from 'vitest';
import { landingTarget } from './landing.js';
import { protect } from './proxy.js';

const proxy = protect(['/account', '/settings/']);
const visit = (path: string, cookie?: string) => proxy(new Request(`https://app.example${path}`, { headers: cookie ? { cookie } : {} }));

describe('protect()', () => {
  it.each([
    ['/account', '/account'],
    ['/account/', '/account/'],
    ['/account/billing?tab=2', '/account/billing?tab=2'],
    ['/settings', '/settings'],
    ['/settings/x', '/settings/x'],
    ['/%61ccount', '/%61ccount'],
    ['//account', '/account'],
    ['/x/../account', '/account'],
  ])('sends a visitor without a session cookie from %s to sign-in, coming back to %s', (path, back) => {
    const response = visit(path);
    expect(response?.status).toBe(307);
    const location = response!.headers.get('location')!;
    expect(location).toMatch(/^https:\/\/app\.example\/api\/auth\/login\?returnTo=/);
    expect(new URL(location).searchParams.get('returnTo')).toBe(back);
    expect(response!.headers.get('cache-control')).toBe('no-store');
  });

  it.each(['/', '/accounts', '/account-public', '/api/auth/login', '/notes'])('lets %s through', (path) => {
    expect(visit(path)).toBeUndefined();
  });

  it('lets a visitor with a session cookie through (the page checks it for real)', () => {
    expect(visit('/account', 'theme=dark; __Host-latchkey=sealed')).toBeUndefined();
  });

  it.each(['__Host-latchkey=', 'latchkey=sealed', 'x__Host-latchkey=sealed', '__Host-latchkey-tx-abc=sealed'])('does not take %s for a session cookie', (cookie) => {
    expect(visit('/account', cookie)?.status).toBe(307);
  });

  it('counts a path it cannot decode as protected', () => {
    expect(visit('/%E0%A4%A')?.status).toBe(307);
  });

  it('follows a custom basePath, and refuses a path that is not one', () => {
    const response = protect(['/admin'], { basePath: '/auth/' })(new Request('https://app.example/admin'));
    expect(response?.headers.get('location')).toBe('https://app.example/auth/login?returnTo=%2Fadmin');
    expect(() => protect(['admin'])).toThrow(/must start with "\/", got "admin"/);
  });

  it('never guards the BFF\'s own routes, so protect([\'/\']) still lets people sign in', () => {
    const everything = protect(['/']);
    for (const path of ['/api/auth/login?returnTo=%2F', '/api/auth/callback?code=x&state=y', '/api/auth/token']) {
      expect(everything(new Request(`https://app.example${path}`))).toBeUndefined();
    }
    expect(everything(new Request('https://app.example/'))?.status).toBe(307);
  });

  it.each([
    ['next-router-prefetch', '1'],
    ['sec-purpose', 'prefetch;prerender'],
    ['purpose', 'prefetch'],
  ])('answers a prefetch (%s) with 204 instead of starting a sign-in', (name, value) => {
    const response = proxy(new Request('https://app.example/account', { headers: { [name]: value } }));
    expect(response?.status).toBe(204);
  });

  it('looks again from this site when a navigation from another site arrives without the cookie (SameSite=Strict kept it home)', async () => {
    const response = proxy(new Request('https://app.example/account?tab=2', { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } }));
    expect(response?.status).toBe(200);
    expect(landingTarget(await response!.text())).toBe('https://app.example/account?tab=2');
    // From this site, no cookie means signed out: to sign-in.
    const again = proxy(new Request('https://app.example/account?tab=2', { headers: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate' } }));
    expect(again?.status).toBe(307);
  });
});

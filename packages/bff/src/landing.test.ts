import { describe, expect, it } from 'vitest';
import { landingResponse, landingTarget } from './landing.js';

describe('landingResponse()', () => {
  it('is a page that moves on to the target by itself, with no referrer and nothing else allowed', async () => {
    const response = landingResponse(new URL('https://app.example/notes?x=1&y=2'), new Headers({ 'set-cookie': 'a=b' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expect(response.headers.get('set-cookie')).toBe('a=b');
    const html = await response.text();
    expect(html).toContain('<meta http-equiv="refresh" content="0;url=https://app.example/notes?x=1&amp;y=2">');
    expect(landingTarget(html)).toBe('https://app.example/notes?x=1&y=2');
  });

  it('escapes what could end the attribute or open a tag', async () => {
    const target = new URL('https://app.example/');
    target.pathname = `/a"><script>alert(1)</script>'`;
    const html = await landingResponse(target, new Headers()).text();
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/url=[^"]*"[^>]*><script/);
    expect(landingTarget(html)).toBe(target.href);
  });
});

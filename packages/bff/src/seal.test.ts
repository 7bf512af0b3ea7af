import { sealData, unsealData } from 'iron-session';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sealer } from './seal.js';

const A = 'first-cookie-secret-0123456789-abcdefghijklmnop';
const B = 'second-cookie-secret-0123456789-abcdefghijklmno';
const anything = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const value = { fid: 'f1', v: 3, rt: 'refresh-token', user: { sub: 'alice', name: 'Ålice 🗝' }, ca: 1_800_000_000 };

afterEach(() => {
  vi.useRealTimers();
});

describe('Sealer: iron-session 8 compatible', () => {
  it('opens what iron-session sealed', async () => {
    const sealed = await sealData(value, { password: { 1: A }, ttl: 3600 });
    expect(await new Sealer({ 1: A }).unseal(sealed, anything)).toEqual(value);
  });

  it('seals what iron-session opens', async () => {
    const sealed = await new Sealer({ 1: A }).seal(value, 3600);
    expect(sealed).toMatch(/^Fe26\.2\*1\*[0-9a-f]{64}\*[\w-]+\*[\w-]+\*\d+\*[0-9a-f]{64}\*[\w-]+~2$/);
    expect(await unsealData(sealed, { password: { 1: A } })).toEqual(value);
  });

  it('seals with the newest key of a map and opens with any key still listed, both ways', async () => {
    const rotated = new Sealer({ 2: B, 1: A });
    const byNew = await rotated.seal(value, 3600);
    expect(byNew).toMatch(/^Fe26\.2\*2\*/);
    expect(await unsealData(byNew, { password: { 2: B, 1: A } })).toEqual(value);
    expect(await rotated.unseal(await sealData(value, { password: { 1: A }, ttl: 3600 }), anything)).toEqual(value);
    // Once key 1 is retired, what it sealed no longer opens.
    expect(await new Sealer({ 2: B }).unseal(await sealData(value, { password: { 1: A }, ttl: 3600 }), anything)).toBeUndefined();
  });

  it('refuses a seal changed anywhere: MAC, ciphertext, expiry, key id or prefix', async () => {
    const sealer = new Sealer({ 1: A, 2: B });
    const sealed = await sealer.seal(value, 3600);
    const parts = sealed.slice(0, -2).split('*');
    const change = (i: number, to: string) => parts.map((p, j) => (j === i ? to : p)).join('*') + '~2';
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    for (const tampered of [change(7, flip(parts[7]!)), change(4, flip(parts[4]!)), change(5, String(Number(parts[5]) + 1000)), change(1, parts[1] === '1' ? '2' : '1'), change(0, 'Fe26.1')]) {
      expect(await sealer.unseal(tampered, anything)).toBeUndefined();
    }
    expect(await sealer.unseal(sealed.replace('~2', ''), anything)).toBeUndefined();
    expect(await sealer.unseal('not a seal', anything)).toBeUndefined();
  });

  it('stops opening a seal after its lifetime (and iron’s 60 s of skew), also when it was opened before', async () => {
    vi.useFakeTimers({ now: 1_000_000_000_000, toFake: ['Date'] });
    const sealer = new Sealer({ 1: A });
    const sealed = await sealer.seal(value, 10);
    expect(await sealer.unseal(sealed, anything)).toEqual(value);
    vi.setSystemTime(1_000_000_000_000 + 69_000);
    expect(await sealer.unseal(sealed, anything)).toEqual(value);
    vi.setSystemTime(1_000_000_000_000 + 71_000);
    expect(await sealer.unseal(sealed, anything)).toBeUndefined();
    // iron-session agrees.
    expect(await unsealData(sealed, { password: { 1: A } })).toEqual({});
  });

  it.each([
    ['it sealed itself (remembered at sealing)', true],
    ['another instance sealed (decrypted)', false],
  ])('hands out a frozen value when opening what %s: changing it throws, and the next opening is unchanged', (_name, same) => {
    const sealer = new Sealer({ 1: A });
    const sealed = (same ? sealer : new Sealer({ 1: A })).seal(value, 3600);
    const first = sealer.unseal(sealed, anything)!;
    expect(() => ((first.user as Record<string, string>).sub = 'mallory')).toThrow(TypeError);
    expect(() => ((first as Record<string, unknown>).extra = 1)).toThrow(TypeError);
    expect(sealer.unseal(sealed, anything)).toEqual(value);
  });

  const saltsOf = (sealed: string) => {
    const parts = sealed.split('*');
    return { encryption: parts[2], iv: parts[3], hmac: parts[6] };
  };

  it('reuses a pair of salts across seals, each with its own IV, and iron-session opens every one', async () => {
    const sealer = new Sealer({ 1: A });
    const [one, two] = [sealer.seal(value, 3600), sealer.seal(value, 3600)];
    expect(saltsOf(two).encryption).toBe(saltsOf(one).encryption);
    expect(saltsOf(two).hmac).toBe(saltsOf(one).hmac);
    expect(saltsOf(two).iv).not.toBe(saltsOf(one).iv);
    expect(two).not.toBe(one);
    for (const sealed of [one, two]) expect(await unsealData(sealed, { password: { 1: A } })).toEqual(value);
  });

  it('draws new salts after 10 minutes, and after 10,000 seals', () => {
    vi.useFakeTimers({ now: 1_000_000_000_000, toFake: ['Date'] });
    const sealer = new Sealer({ 1: A });
    const first = saltsOf(sealer.seal(value, 3600));
    vi.setSystemTime(1_000_000_000_000 + 599_000);
    expect(saltsOf(sealer.seal(value, 3600)).encryption).toBe(first.encryption);
    vi.setSystemTime(1_000_000_000_000 + 600_000);
    const second = saltsOf(sealer.seal(value, 3600));
    expect(second.encryption).not.toBe(first.encryption);
    expect(second.hmac).not.toBe(first.hmac);
    // 10,000 seals a pair: this one already served one seal.
    for (let i = 0; i < 9_998; i++) sealer.seal(value, 3600);
    expect(saltsOf(sealer.seal(value, 3600)).encryption).toBe(second.encryption);
    expect(saltsOf(sealer.seal(value, 3600)).encryption).not.toBe(second.encryption);
  });

  it('keeps its cache of opened values within its byte budget, oldest out first, and forgets on request', async () => {
    const sealer = new Sealer({ 1: A });
    const big = { blob: 'x'.repeat(5000) };
    const first = sealer.seal(big, 3600);
    for (let i = 0; i < 2_500; i++) sealer.seal({ ...big, i }, 3600);
    const { entries, bytes } = sealer.cacheSize();
    expect(bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(entries).toBeLessThan(2_501);
    // Evicted from the cache, still opened (by decrypting again).
    expect(sealer.unseal(first, anything)).toEqual(big);
    const last = sealer.seal({ last: true }, 3600);
    const before = sealer.cacheSize();
    sealer.forget(last);
    expect(sealer.cacheSize().entries).toBe(before.entries - 1);
    expect(sealer.cacheSize().bytes).toBe(before.bytes - 2 * last.length);
  });
});

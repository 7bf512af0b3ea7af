import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Seals and opens values in iron-session 8's format (iron `Fe26.2`, AES-256-CBC and
 * HMAC-SHA-256 with PBKDF2-derived keys, a `~2` suffix) under a password map, so sealing keys
 * rotate without signing anyone out: the newest id seals, every id still listed opens.
 *
 * It runs on synchronous `node:crypto` rather than WebCrypto, and is synchronous itself: the
 * same bytes, but without a promise and a key import per step, which made unsealing most of a
 * cached `/token`'s cost.
 * Cookies sealed by iron-session open here and the other way round (`seal.test.ts`).
 * Opened values are kept in a small cache keyed by the sealed string, since the same cookie
 * and ledger come back on every request; expiry is still checked on every use. What `unseal`
 * answers is deeply frozen and shared between callers: change a copy, never the value.
 */
export class Sealer {
  readonly #passwords: Record<number, string>;
  readonly #newest: number;
  readonly #opened = new Map<string, { data: unknown; expiresAt: number }>();
  /** What the cache holds, counted as twice the sealed strings' length (the string and what it opened to). */
  #cachedBytes = 0;

  constructor(passwords: Record<number, string>) {
    this.#passwords = passwords;
    this.#newest = Math.max(...Object.keys(passwords).map(Number));
  }

  /** Seals `data`; the seal itself stops opening after `ttlSeconds`. */
  seal(data: object, ttlSeconds: number): string {
    const expiresAt = Date.now() + Math.max(1, Math.ceil(ttlSeconds)) * 1000;
    const text = JSON.stringify(data);
    const sealed = sealIron(text, String(this.#newest), this.#passwords[this.#newest]!, expiresAt);
    // What was just sealed comes back on the next request (the new cookie, the new ledger): known already.
    this.#remember(sealed, { data: deepFreeze(JSON.parse(text) as unknown), expiresAt });
    return sealed;
  }

  /** Opens a seal; anything that cannot be opened (tampered, expired, unknown key) is `undefined`. */
  unseal<T extends object>(seal: string | undefined, isValid: (value: unknown) => value is T): T | undefined {
    if (!seal || seal.length > 8192) return undefined;
    const now = Date.now();
    let opened = this.#opened.get(seal);
    if (!opened || opened.expiresAt <= now - SKEW_MS) {
      const fresh = openIron(seal, this.#passwords, now);
      if (!fresh) return undefined;
      opened = fresh;
      this.#remember(seal, opened);
    }
    // Shared with every later caller, so frozen: code that tried to change it would throw.
    return isValid(opened.data) ? opened.data : undefined;
  }

  /** How much the cache of opened values holds (for monitoring and tests). */
  cacheSize(): { entries: number; bytes: number } {
    return { entries: this.#opened.size, bytes: this.#cachedBytes };
  }

  /** Drops a seal that will not come back (a ledger just replaced), so it leaves room at once. */
  forget(seal: string | undefined): void {
    if (seal !== undefined && this.#opened.delete(seal)) this.#cachedBytes -= 2 * seal.length;
  }

  #remember(seal: string, opened: { data: unknown; expiresAt: number }) {
    // Oldest first, within a byte budget: ledgers and cookies are a few kB each.
    for (const old of this.#opened.keys()) {
      if (this.#cachedBytes + 2 * seal.length <= CACHE_BYTES && this.#opened.size < CACHE_ENTRIES) break;
      this.forget(old);
    }
    if (!this.#opened.has(seal)) this.#cachedBytes += 2 * seal.length;
    this.#opened.set(seal, opened);
  }
}

const PREFIX = 'Fe26.2';
/** iron's allowance for clocks that disagree. */
const SKEW_MS = 60_000;
/** At most this many opened values are kept, taking at most about CACHE_BYTES of memory. */
const CACHE_ENTRIES = 10_000;
const CACHE_BYTES = 16 * 1024 * 1024;

/** iron's key derivation: PBKDF2-SHA-1, one iteration, 32 bytes; salts are 256 random bits as hex text. */
const derive = (password: string, saltText: string) => pbkdf2Sync(password, saltText, 1, 32, 'sha1');
const mac = (password: string, saltText: string, base: string) => createHmac('sha256', derive(password, saltText)).update(base).digest('base64url');

function sealIron(text: string, id: string, password: string, expiresAt: number): string {
  // One call for both salts and the IV: each call to the system's generator costs more than its bytes.
  const random = randomBytes(80);
  const encryptionSalt = random.toString('hex', 0, 32);
  const hmacSalt = random.toString('hex', 32, 64);
  const iv = random.subarray(64, 80);
  const cipher = createCipheriv('aes-256-cbc', derive(password, encryptionSalt), iv);
  const encrypted = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]).toString('base64url');
  const base = `${PREFIX}*${id}*${encryptionSalt}*${iv.toString('base64url')}*${encrypted}*${expiresAt}`;
  return `${base}*${hmacSalt}*${mac(password, hmacSalt, base)}~2`;
}

function openIron(seal: string, passwords: Record<number, string>, now: number): { data: unknown; expiresAt: number } | undefined {
  const [body = '', version] = seal.split('~');
  const parts = body.split('*');
  if (parts.length !== 8) return undefined;
  const [prefix, id, encryptionSalt, iv, encrypted, expiration, hmacSalt, hmac] = parts as [string, string, string, string, string, string, string, string];
  if (prefix !== PREFIX || !/^\d+$/.test(expiration)) return undefined;
  const expiresAt = Number(expiration);
  if (expiresAt <= now - SKEW_MS) return undefined;
  const password = /^\d+$/.test(id) ? passwords[Number(id)] : undefined;
  if (!password) return undefined;
  const expected = Buffer.from(mac(password, hmacSalt, `${prefix}*${id}*${encryptionSalt}*${iv}*${encrypted}*${expiration}`));
  const given = Buffer.from(hmac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-cbc', derive(password, encryptionSalt), Buffer.from(iv, 'base64url'));
    const text = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64url')), decipher.final()]).toString('utf8');
    const data: unknown = JSON.parse(text);
    // iron-session before version 2 kept the data under `persistent`.
    const value = version === '2' ? data : (data as { persistent?: unknown } | null)?.persistent;
    return typeof value === 'object' && value !== null ? { data: deepFreeze(value), expiresAt } : undefined;
  } catch {
    return undefined;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

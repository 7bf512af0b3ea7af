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
 *
 * iron derives each seal's keys from the password and two salts written into the seal. Here a
 * pair of salts serves up to {@link SALT_USES} seals or {@link SALT_MS} ms before new ones are
 * drawn, and derived keys are remembered by salt, so a rotation (two seals) and the opening of
 * what this process sealed skip four PBKDF2 runs. Every seal still has its own random IV: one
 * AES-256-CBC key for many messages with random IVs is how CBC is meant to be used, and with
 * iron's single PBKDF2 iteration a per-seal salt never slowed a password guess anyway.
 */
export class Sealer {
  readonly #passwords: Record<number, string>;
  readonly #newest: number;
  readonly #opened = new Map<string, { data: unknown; expiresAt: number }>();
  /** What the cache holds, counted as twice the sealed strings' length (the string and what it opened to). */
  #cachedBytes = 0;
  /** Keys derived per key id and salt, oldest out first. */
  readonly #derived = new Map<string, Buffer>();
  /** The salts new seals use, until they are spent. */
  #salts: { encryption: string; hmac: string; uses: number; until: number } | undefined;

  constructor(passwords: Record<number, string>) {
    this.#passwords = passwords;
    this.#newest = Math.max(...Object.keys(passwords).map(Number));
  }

  /** Seals `data`; the seal itself stops opening after `ttlSeconds`. */
  seal(data: object, ttlSeconds: number): string {
    const expiresAt = Date.now() + Math.max(1, Math.ceil(ttlSeconds)) * 1000;
    const text = JSON.stringify(data);
    const sealed = sealIron(text, String(this.#newest), this.#salt(), expiresAt, (salt) => this.#derive(this.#newest, salt));
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
      const fresh = openIron(seal, now, (id, salt) => (Object.hasOwn(this.#passwords, id) ? this.#derive(id, salt) : undefined));
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

  /** The salts for a new seal: the current pair, or a new one once it is spent. */
  #salt(): { encryption: string; hmac: string } {
    const now = Date.now();
    if (!this.#salts || this.#salts.uses >= SALT_USES || now >= this.#salts.until) {
      const random = randomBytes(64);
      this.#salts = { encryption: random.toString('hex', 0, 32), hmac: random.toString('hex', 32, 64), uses: 0, until: now + SALT_MS };
    }
    this.#salts.uses += 1;
    return this.#salts;
  }

  /** iron's key derivation for key `id` and a salt, remembered. */
  #derive(id: number, salt: string): Buffer {
    const name = `${id}*${salt}`;
    let key = this.#derived.get(name);
    if (!key) {
      key = pbkdf2Sync(this.#passwords[id]!, salt, 1, 32, 'sha1');
      if (this.#derived.size >= DERIVED_KEYS) this.#derived.delete(this.#derived.keys().next().value!);
      this.#derived.set(name, key);
    }
    return key;
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

/** A pair of salts serves at most this many seals, */
const SALT_USES = 10_000;
/** ... for at most this long (ms). */
const SALT_MS = 10 * 60_000;
/** Derived keys remembered (per key id and salt): this process's salts, and those of cookies it did not seal. */
const DERIVED_KEYS = 256;

/** iron's key derivation (PBKDF2-SHA-1, one iteration, 32 bytes) for a salt: 256 random bits as hex text. */
type Derive = (salt: string) => Buffer;
const mac = (key: Buffer, base: string) => createHmac('sha256', key).update(base).digest('base64url');

function sealIron(text: string, id: string, salts: { encryption: string; hmac: string }, expiresAt: number, derive: Derive): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', derive(salts.encryption), iv);
  const encrypted = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]).toString('base64url');
  const base = `${PREFIX}*${id}*${salts.encryption}*${iv.toString('base64url')}*${encrypted}*${expiresAt}`;
  return `${base}*${salts.hmac}*${mac(derive(salts.hmac), base)}~2`;
}

function openIron(seal: string, now: number, derive: (id: number, salt: string) => Buffer | undefined): { data: unknown; expiresAt: number } | undefined {
  const [body = '', version] = seal.split('~');
  const parts = body.split('*');
  if (parts.length !== 8) return undefined;
  const [prefix, id, encryptionSalt, iv, encrypted, expiration, hmacSalt, hmac] = parts as [string, string, string, string, string, string, string, string];
  if (prefix !== PREFIX || !/^\d+$/.test(expiration)) return undefined;
  const expiresAt = Number(expiration);
  if (expiresAt <= now - SKEW_MS) return undefined;
  if (!/^\d+$/.test(id)) return undefined;
  const macKey = derive(Number(id), hmacSalt);
  if (!macKey) return undefined;
  const expected = Buffer.from(mac(macKey, `${prefix}*${id}*${encryptionSalt}*${iv}*${encrypted}*${expiration}`));
  const given = Buffer.from(hmac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-cbc', derive(Number(id), encryptionSalt)!, Buffer.from(iv, 'base64url'));
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

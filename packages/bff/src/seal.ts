import { sealData, unsealData } from 'iron-session';

/**
 * Seals and opens values with iron-session under a password map, so sealing keys rotate
 * without signing anyone out: the newest id seals, every id still listed opens.
 */
export class Sealer {
  readonly #passwords: Record<number, string>;

  constructor(passwords: Record<number, string>) {
    this.#passwords = passwords;
  }

  /** Seals `data`; the seal itself stops opening after `ttlSeconds`. */
  seal(data: object, ttlSeconds: number): Promise<string> {
    return sealData(data as Record<string, unknown>, { password: this.#passwords, ttl: Math.max(1, Math.ceil(ttlSeconds)) });
  }

  /** Opens a seal; anything that cannot be opened (tampered, expired, unknown key) is `undefined`. */
  async unseal<T extends object>(seal: string | undefined, isValid: (value: unknown) => value is T): Promise<T | undefined> {
    if (!seal || seal.length > 8192) return undefined;
    try {
      const data: unknown = await unsealData(seal, { password: this.#passwords });
      return isValid(data) ? data : undefined;
    } catch {
      return undefined;
    }
  }
}

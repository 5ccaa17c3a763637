// Names for records whose key would say too much (background only): the remembered recipients of
// a conversation are stored under an HMAC of its id, not the id (a channel or a person's name),
// with a random key kept sealed in `secrets`. Locked, the names say nothing.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { KeyStore } from './key-store';

export const NAMES_KEY = 'namesKey';

export class SecretNames {
  private key: Promise<Uint8Array> | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {}

  /** `<kind>/<hex HMAC of value>`: the same for the same value, opaque without the key. */
  async of(kind: string, value: string): Promise<string> {
    const key = await this.load();
    return `${kind}/${bytesToHex(hmac(sha256, key, utf8ToBytes(`${kind}\u0000${value}`)))}`;
  }

  /** Held in memory: dropped by the lock and by delete-everything. */
  held(): number {
    return this.key ? 1 : 0;
  }

  forget(): void {
    this.key = undefined;
  }

  private load(): Promise<Uint8Array> {
    // One promise, so two first uses at once agree on one key.
    this.key ??= (async () => {
      const stored = await this.store.get<Uint8Array>('secrets', NAMES_KEY);
      if (stored instanceof Uint8Array && stored.length === 32) return stored;
      const fresh = this.randomBytes(32);
      await this.store.commit([{ op: 'put', table: 'secrets', key: NAMES_KEY, value: fresh }]);
      return fresh;
    })().catch((e: unknown) => {
      this.key = undefined;
      throw e;
    });
    return this.key;
  }
}

// CryptoProvider on native WebCrypto (globalThis.crypto.subtle) X25519 / Ed25519, for the
// background and for Node. Outside the pure core: it touches the host's crypto object.
import { ed25519 } from '@noble/curves/ed25519.js';
import { nobleProvider } from '../protocol/crypto/noble';
import type { CryptoProvider, KeyPair } from '../protocol/crypto/provider';
import { fromBase64Url } from '../protocol/encoding';
import { VeilError } from '../protocol/errors';

// PKCS#8 wrappers for a raw 32-byte private key (RFC 8410): version 0, the algorithm OID
// (1.3.101.110 X25519, 1.3.101.112 Ed25519), then OCTET STRING { OCTET STRING key }.
const X25519_PKCS8_PREFIX = hex('302e020100300506032b656e04220420');
const ED25519_PKCS8_PREFIX = hex('302e020100300506032b657004220420');

/**
 * Imported keys kept per kind; each import is an async round trip worth skipping. The cost: a
 * cached private key outlives the caller's wipe() of its bytes until evicted or clearKeyCache().
 */
const KEY_CACHE_SIZE = 256;

// getRandomValues refuses more than 65,536 bytes per call.
const MAX_RANDOM_CHUNK = 65536;

/** A bounded map with least-recently-used eviction. Holds promises so concurrent imports share. */
class KeyCache {
  private readonly map = new Map<string, Promise<CryptoKey>>();
  constructor(private readonly capacity: number) {}

  get(key: Uint8Array, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
    const id = cacheId(key);
    const hit = this.map.get(id);
    if (hit) {
      // Refresh recency: Map iterates in insertion order, so the first entry is the oldest.
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    const loading = load();
    this.set(id, loading);
    // A failed import must not stay cached; the caller still sees the rejection.
    loading.catch(() => {
      if (this.map.get(id) === loading) this.map.delete(id);
    });
    return loading;
  }

  put(key: Uint8Array, value: CryptoKey): void {
    this.set(cacheId(key), Promise.resolve(value));
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }

  private set(id: string, value: Promise<CryptoKey>): void {
    this.map.delete(id);
    this.map.set(id, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }
}

function cacheId(key: Uint8Array): string {
  return String.fromCharCode.apply(null, key as unknown as number[]);
}

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function pkcs8(prefix: Uint8Array, key: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
}

// WebCrypto's types want ArrayBuffer-backed views. WebCrypto copies its inputs when called, so
// only a view on other memory (a SharedArrayBuffer, another realm's buffer) is copied first:
// copying every message would cost an allocation outside the JS heap per signature.
function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/**
 * RFC 8032-strict check of an Ed25519 public key: canonical encoding and not of small order.
 * Native verifiers (OpenSSL, BoringSSL) accept a small-order key with a signature that then
 * verifies for every message; noble's strict mode refuses it, and so do we.
 */
function isStrictEd25519PublicKey(publicKey: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false;
  }
}

export interface WebCryptoProvider extends CryptoProvider {
  hkdfSha256: NonNullable<CryptoProvider['hkdfSha256']>;
  /** Drops every cached imported key, e.g. when the store is locked. */
  clearKeyCache(): void;
  /** How many imported keys are cached. */
  keyCacheSize(): number;
}

/**
 * How to make key pairs. Without SubtleCrypto.getPublicKey both end with one JWK export, which
 * yields private and public halves in one call (getPublicKey + raw export is ~3 µs faster).
 * Measured (ops/s, X25519): Chromium 156 import ≈ 10.6k vs generate ≈ 8–9k;
 * Firefox 153 import ≈ 3.5–4.6k vs generate ≈ 1.4–2k; Node 20 generate ≈ 7k vs import ≈ 2.7k.
 */
export type KeygenStrategy =
  | 'import' // random bytes from getRandomValues, imported as PKCS#8
  | 'generate'; // subtle.generateKey

export interface WebCryptoOptions {
  subtle?: SubtleCrypto;
  getRandomValues?: (b: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;
  /** Defaults to the faster one for this runtime (see KeygenStrategy). */
  keygen?: KeygenStrategy;
}

interface SubtleWithGetPublicKey {
  getPublicKey?: (key: CryptoKey, usages: KeyUsage[]) => Promise<CryptoKey>;
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** A provider on WebCrypto, by default globalThis.crypto. */
export function createWebCryptoProvider(options: WebCryptoOptions = {}): WebCryptoProvider {
  const subtle = options.subtle ?? globalThis.crypto.subtle;
  const getRandomValues =
    options.getRandomValues ??
    ((b: Uint8Array<ArrayBuffer>) => globalThis.crypto.getRandomValues(b));
  const keygen = options.keygen ?? (isNode() ? 'generate' : 'import');
  // SubtleCrypto.getPublicKey (WICG "Modern Algorithms", Chromium 14x+): the public half of a
  // private key without exporting the private one.
  const nativeGetPublicKey = (subtle as SubtleWithGetPublicKey).getPublicKey;
  const getPublicKey =
    typeof nativeGetPublicKey === 'function'
      ? (key: CryptoKey, usages: KeyUsage[]) => nativeGetPublicKey.call(subtle, key, usages)
      : undefined;
  const xPrivate = new KeyCache(KEY_CACHE_SIZE);
  const xPublic = new KeyCache(KEY_CACHE_SIZE);
  const edPrivate = new KeyCache(KEY_CACHE_SIZE);
  const edPublic = new KeyCache(KEY_CACHE_SIZE);

  const X25519 = { name: 'X25519' } as const;
  const ED25519 = { name: 'Ed25519' } as const;

  async function generate(kind: 'x25519' | 'ed25519'): Promise<KeyPair> {
    const algorithm = kind === 'x25519' ? X25519 : ED25519;
    const privateUsage: KeyUsage = kind === 'x25519' ? 'deriveBits' : 'sign';
    let key: CryptoKey;
    if (keygen === 'import') {
      const prefix = kind === 'x25519' ? X25519_PKCS8_PREFIX : ED25519_PKCS8_PREFIX;
      const der = new Uint8Array(prefix.length + 32);
      der.set(prefix);
      getRandomValues(der.subarray(prefix.length));
      if (getPublicKey) {
        // We chose the private bytes, so only the public half is needed: no JWK round trip.
        const privateKey = der.slice(prefix.length);
        key = await subtle.importKey('pkcs8', der, algorithm, false, [privateUsage]);
        der.fill(0);
        const pub = await getPublicKey(key, kind === 'x25519' ? [] : ['verify']);
        const publicKey = new Uint8Array(await subtle.exportKey('raw', pub));
        (kind === 'x25519' ? xPrivate : edPrivate).put(privateKey, key);
        return { privateKey, publicKey };
      }
      key = await subtle.importKey('pkcs8', der, algorithm, true, [privateUsage]);
      der.fill(0);
    } else {
      const usages: KeyUsage[] = kind === 'x25519' ? ['deriveBits'] : ['sign', 'verify'];
      key = ((await subtle.generateKey(algorithm, true, usages)) as CryptoKeyPair).privateKey;
    }
    const jwk = await subtle.exportKey('jwk', key);
    if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string')
      throw new VeilError('invalid-key', 'WebCrypto returned an incomplete key');
    const privateKey = fromBase64Url(jwk.d);
    const publicKey = fromBase64Url(jwk.x);
    (kind === 'x25519' ? xPrivate : edPrivate).put(privateKey, key);
    return { privateKey, publicKey };
  }

  return {
    name: 'webcrypto',

    randomBytes(length) {
      const out = new Uint8Array(length);
      for (let off = 0; off < length; off += MAX_RANDOM_CHUNK)
        getRandomValues(out.subarray(off, Math.min(length, off + MAX_RANDOM_CHUNK)));
      return out;
    },

    x25519Generate: () => generate('x25519'),

    async x25519(privateKey, publicKey) {
      if (publicKey.length !== 32 || privateKey.length !== 32)
        throw new VeilError('invalid-key', 'X25519 key must be 32 bytes');
      let shared: Uint8Array;
      try {
        const [priv, pub] = await Promise.all([
          xPrivate.get(privateKey, () =>
            subtle.importKey('pkcs8', pkcs8(X25519_PKCS8_PREFIX, privateKey), X25519, false, [
              'deriveBits',
            ]),
          ),
          xPublic.get(publicKey, () => subtle.importKey('raw', buf(publicKey), X25519, true, [])),
        ]);
        shared = new Uint8Array(
          await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256),
        );
      } catch {
        // Implementations refuse low-order points here (OperationError) rather than return zeros.
        throw new VeilError('invalid-key', 'X25519 public key is unusable');
      }
      if (isAllZero(shared)) throw new VeilError('invalid-key', 'X25519 public key is low-order');
      return shared;
    },

    ed25519Generate: () => generate('ed25519'),

    async ed25519Sign(privateKey, message) {
      if (privateKey.length !== 32)
        throw new VeilError('invalid-key', 'Ed25519 private key must be 32 bytes');
      const key = await edPrivate.get(privateKey, () =>
        subtle.importKey('pkcs8', pkcs8(ED25519_PKCS8_PREFIX, privateKey), ED25519, false, [
          'sign',
        ]),
      );
      return new Uint8Array(await subtle.sign(ED25519, key, buf(message)));
    },

    async ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        const key = await edPublic.get(publicKey, async () => {
          // Checked once per key, on import: later hits are already known to be strict.
          if (!isStrictEd25519PublicKey(publicKey))
            throw new VeilError('invalid-key', 'Ed25519 public key is not canonical or low-order');
          return subtle.importKey('raw', buf(publicKey), ED25519, true, ['verify']);
        });
        return await subtle.verify(ED25519, key, buf(signature), buf(message));
      } catch {
        return false;
      }
    },

    async hkdfSha256(ikm, salt, info, length) {
      const key = await subtle.importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
      const bits = await subtle.deriveBits(
        { name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) },
        key,
        8 * length,
      );
      return new Uint8Array(bits);
    },

    clearKeyCache() {
      xPrivate.clear();
      xPublic.clear();
      edPrivate.clear();
      edPublic.clear();
    },
    keyCacheSize: () => xPrivate.size + xPublic.size + edPrivate.size + edPublic.size,
  };
}

// RFC 7748 §6.1, RFC 8032 §7.1 test 1, RFC 5869 A.1: a provider that gets these wrong is not used.
const PROBE = {
  xAlicePrivate: hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  xAlicePublic: hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
  xBobPublic: hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
  xShared: hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'),
  edSeed: hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  edPublic: hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  // RFC 5869 A.1 (42 bytes of output).
  hkdfIkm: new Uint8Array(22).fill(0x0b),
  hkdfSalt: hex('000102030405060708090a0b0c'),
  hkdfInfo: hex('f0f1f2f3f4f5f6f7f8f9'),
  hkdfOkm: hex(
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  ),
  edSignature: hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ),
};

/** True when this runtime's WebCrypto does X25519 and Ed25519 and gets known answers right. */
export async function webCryptoSupported(
  subtle: SubtleCrypto | null = globalThis.crypto?.subtle ?? null,
): Promise<boolean> {
  if (!subtle) return false;
  try {
    const p = createWebCryptoProvider({ subtle });
    const shared = await p.x25519(PROBE.xAlicePrivate, PROBE.xBobPublic);
    const sig = await p.ed25519Sign(PROBE.edSeed, new Uint8Array(0));
    const pair = await p.x25519Generate();
    const ed = await p.ed25519Generate();
    const msg = Uint8Array.of(1, 2, 3);
    const edSig = await p.ed25519Sign(ed.privateKey, msg);
    return (
      equal(shared, PROBE.xShared) &&
      equal(await p.hkdfSha256(PROBE.hkdfIkm, PROBE.hkdfSalt, PROBE.hkdfInfo, 42), PROBE.hkdfOkm) &&
      equal(sig, PROBE.edSignature) &&
      (await p.ed25519Verify(PROBE.edPublic, new Uint8Array(0), sig)) &&
      (await p.ed25519Verify(ed.publicKey, msg, edSig)) &&
      !(await p.ed25519Verify(ed.publicKey, Uint8Array.of(1, 2, 4), edSig)) &&
      pair.publicKey.length === 32 &&
      pair.privateKey.length === 32 &&
      // The generated pair's halves must belong together.
      equal(
        await p.x25519(pair.privateKey, PROBE.xAlicePublic),
        await p.x25519(PROBE.xAlicePrivate, pair.publicKey),
      )
    );
  } catch {
    return false;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

let best: Promise<CryptoProvider> | undefined;

/** Native WebCrypto when it passes the probe, else the pure-JS noble provider. Memoised. */
export async function bestProvider(): Promise<CryptoProvider> {
  best ??= webCryptoSupported().then((ok) => (ok ? createWebCryptoProvider() : nobleProvider));
  return best;
}

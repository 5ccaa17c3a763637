// SHA-256, HMAC-SHA256 and HKDF-SHA256 as the ratchet and sender keys use them: thin wrappers
// over @noble/hashes (we never implement primitives ourselves). An HMAC is keyed once per chain
// key and cloned per MAC, which saves re-hashing the key pads on every chain step. Pure.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

export const SHA256_LENGTH = 32;

type KeyedHmac = ReturnType<typeof hmac.create>;

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

// One working HMAC that keyed states are cloned into (noble's `_cloneInto`), so a MAC allocates
// nothing but its output. Calls are synchronous, so they never share it at the same time.
let scratch: KeyedHmac | undefined;
const digestScratch = new Uint8Array(SHA256_LENGTH);

/** HMAC-SHA256 under one key, keyed once. Call `destroy()` when done with a secret key. */
export class HmacSha256 {
  private keyed: KeyedHmac;

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array)) throw new TypeError('HMAC key must be bytes');
    this.keyed = hmac.create(nobleSha256, key);
  }

  /** HMAC of `data`, written to `out[offset..offset + 32]` (a new array by default). */
  mac(data: Uint8Array, out?: Uint8Array, offset = 0): Uint8Array {
    const h = (scratch = this.keyed._cloneInto(scratch) as KeyedHmac);
    h.update(data);
    // digestInto also wipes the working state.
    if (out) {
      h.digestInto(out.subarray(offset, offset + SHA256_LENGTH));
      return out;
    }
    // Digesting into a fresh array would make the engine move it off the JS heap (noble views
    // it through a DataView): into the scratch buffer, then a plain copy.
    h.digestInto(digestScratch);
    const result = digestScratch.slice();
    digestScratch.fill(0);
    return result;
  }

  /** Forgets the keyed state. */
  destroy(): void {
    this.keyed.destroy();
  }
}

/** HMAC-SHA256(key, data). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data);
}

/** The HMAC keyed with HashLen zero bytes: HKDF-Extract's default salt (RFC 5869 §2.2). */
const ZERO_SALT = new HmacSha256(new Uint8Array(SHA256_LENGTH));

/** HKDF-Extract(salt, ikm); an absent salt is HashLen zeros. */
export function hkdfExtract(salt: Uint8Array | undefined, ikm: Uint8Array): Uint8Array {
  if (salt === undefined) return ZERO_SALT.mac(ikm);
  return hmacSha256(salt, ikm);
}

/** HKDF-Expand(prk, info, length), length ≤ 255 × 32. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * SHA256_LENGTH)
    throw new RangeError('HKDF output length out of range');
  const keyed = new HmacSha256(prk);
  const out = new Uint8Array(length);
  // buf = T(i-1) || info || i; T(1) is over buf without its first 32 bytes.
  const buf = new Uint8Array(SHA256_LENGTH + info.length + 1);
  buf.set(info, SHA256_LENGTH);
  try {
    for (let i = 1, pos = 0; pos < length; i++, pos += SHA256_LENGTH) {
      buf[buf.length - 1] = i;
      keyed.mac(i === 1 ? buf.subarray(SHA256_LENGTH) : buf, buf, 0);
      out.set(buf.subarray(0, Math.min(SHA256_LENGTH, length - pos)), pos);
    }
    return out;
  } finally {
    buf.fill(0);
    keyed.destroy();
  }
}

/** HKDF-SHA256 (RFC 5869): Expand(Extract(salt, ikm), info, length). */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const prk = hkdfExtract(salt, ikm);
  try {
    return hkdfExpand(prk, info, length);
  } finally {
    prk.fill(0);
  }
}

// Base62 (`0-9A-Za-z`) for the armor: bytes in 32-byte blocks, each written as a fixed-width
// big-endian numeral. Pure; radix conversion on byte limbs with plain numbers (no BigInt per char).
import { bytesToUtf8 } from './bytes';
import { VeilError } from './errors';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Bytes per block and characters per full block (62^43 > 2^256 > 62^42). */
export const BLOCK_BYTES = 32;
export const BLOCK_CHARS = 43;

const ALPHABET_CODES = Uint8Array.from(BASE62_ALPHABET, (c) => c.charCodeAt(0));

/** Char code → digit value, -1 outside the alphabet (ASCII only; every other code is invalid). */
const DIGIT = (() => {
  const t = new Int8Array(128).fill(-1);
  ALPHABET_CODES.forEach((code, i) => (t[code] = i));
  return t;
})();

/** The digit value of a UTF-16 code unit, or -1 when it is not one of the 62 characters. */
export function base62Digit(code: number): number {
  return code < 128 ? DIGIT[code]! : -1;
}

/**
 * CHARS_FOR[n] = characters for a block of n bytes = the least L with 62^L ≥ 2^(8n)
 * (= ceil(8n / log2 62), computed exactly once). Strictly increasing in n, so a final block's
 * character count names its byte count.
 */
const CHARS_FOR: readonly number[] = (() => {
  const out: number[] = [];
  for (let n = 0; n <= BLOCK_BYTES; n++) {
    const limit = 1n << BigInt(8 * n);
    let len = 0;
    for (let p = 1n; p < limit; p *= 62n) len++;
    out.push(len);
  }
  return out;
})();

/** BYTES_FOR[L] = n with CHARS_FOR[n] = L for a final block, or -1 for an impossible length. */
const BYTES_FOR: Int8Array = (() => {
  const t = new Int8Array(BLOCK_CHARS).fill(-1);
  for (let n = 0; n < BLOCK_BYTES; n++) t[CHARS_FOR[n]!] = n;
  return t;
})();

/**
 * Values are held in 16-bit limbs and digits handled 6 at a time: 62^6 ≈ 2^35.7, so
 * `rem * 65536 + limb` < 2^52 stays an exact double, and Math.floor(x / 62^6) is exact (the
 * quotient is < 2^16 and its distance to the next integer, ≥ 62^-6, exceeds the rounding
 * error, < 2^-37).
 */
const GROUP = 6;
const POW62 = Array.from({ length: GROUP + 1 }, (_, k) => 62 ** k);
const LIMBS = BLOCK_BYTES / 2;

/** Number of base62 characters `encodeBase62` writes for `byteLength` bytes. */
export function base62Length(byteLength: number): number {
  const full = Math.floor(byteLength / BLOCK_BYTES);
  return full * BLOCK_CHARS + CHARS_FOR[byteLength - full * BLOCK_BYTES]!;
}

/** Byte length a base62 text of `charLength` characters decodes to, or -1 if none does. */
export function base62ByteLength(charLength: number): number {
  const full = Math.floor(charLength / BLOCK_CHARS);
  const tail = BYTES_FOR[charLength - full * BLOCK_CHARS]!;
  return tail < 0 ? -1 : full * BLOCK_BYTES + tail;
}

/**
 * Encodes bytes as base62.
 * @example encodeBase62(Uint8Array.of(255)) // '47'
 */
export function encodeBase62(bytes: Uint8Array): string {
  const out = new Uint8Array(base62Length(bytes.length));
  const work = new Uint32Array(LIMBS);
  let outPos = 0;
  for (let off = 0; off < bytes.length; off += BLOCK_BYTES) {
    const n = Math.min(BLOCK_BYTES, bytes.length - off);
    // Right-align the block in 16-bit limbs: an odd length leaves the top limb one byte wide.
    const limbs = (n + 1) >> 1;
    let i = off + n - 1;
    for (let l = limbs - 1; l >= 0; l--, i -= 2)
      work[l] = i > off ? (bytes[i - 1]! << 8) | bytes[i]! : bytes[i]!;
    outPos += CHARS_FOR[n]!;
    encodeBlock(work, limbs, out, outPos, CHARS_FOR[n]!);
  }
  return bytesToUtf8(out);
}

/** Writes the value in work[0..limbs) as `len` digits ending just before out[end]; clobbers work. */
function encodeBlock(
  work: Uint32Array,
  limbs: number,
  out: Uint8Array,
  end: number,
  len: number,
): void {
  let first = 0; // work[0..first) is all zero: skip it in later divisions
  let pos = end;
  let remaining = len;
  while (remaining > 0) {
    const k = remaining < GROUP ? remaining : GROUP;
    const d = POW62[k]!;
    let rem = 0;
    for (let i = first; i < limbs; i++) {
      const x = rem * 65536 + work[i]!;
      const q = Math.floor(x / d);
      work[i] = q;
      rem = x - q * d;
    }
    while (first < limbs && work[first] === 0) first++;
    for (let j = 0; j < k; j++) {
      const q = Math.floor(rem / 62);
      out[--pos] = ALPHABET_CODES[rem - q * 62]!;
      rem = q;
    }
    remaining -= k;
  }
}

/**
 * Decodes base62 text written by `encodeBase62`. Throws VeilError('malformed') on a character
 * outside the alphabet, an impossible length, or a block whose value does not fit its bytes.
 */
export function decodeBase62(text: string): Uint8Array {
  const byteLength = base62ByteLength(text.length);
  if (byteLength < 0) throw new VeilError('malformed', 'base62 text has an impossible length');
  const out = new Uint8Array(byteLength);
  const work = new Uint32Array(LIMBS);
  let pos = 0;
  for (let off = 0; off < byteLength; off += BLOCK_BYTES) {
    const n = Math.min(BLOCK_BYTES, byteLength - off);
    const len = CHARS_FOR[n]!;
    const limbs = (n + 1) >> 1;
    decodeBlock(text, pos, len, work, limbs);
    // An odd-length block's top limb must fit in one byte.
    if (n & 1 && work[0]! > 255)
      throw new VeilError('malformed', 'base62 block value out of range');
    let i = off + n - 1;
    for (let l = limbs - 1; l >= 0; l--, i -= 2) {
      out[i] = work[l]! & 255;
      if (i > off) out[i - 1] = work[l]! >> 8;
    }
    pos += len;
  }
  return out;
}

/** Reads `len` digits of text from `start` into work[0..limbs) (big-endian 16-bit limbs). */
function decodeBlock(
  text: string,
  start: number,
  len: number,
  work: Uint32Array,
  limbs: number,
): void {
  work.fill(0);
  let pos = start;
  const end = start + len;
  // The first group takes the odd digits so every later group is a full one.
  let k = len % GROUP || GROUP;
  let top = limbs; // work[top..limbs) may be non-zero; the rest is zero
  while (pos < end) {
    let g = 0;
    for (let j = 0; j < k; j++) {
      const code = text.charCodeAt(pos++);
      const v = code < 128 ? DIGIT[code]! : -1;
      if (v < 0) throw new VeilError('malformed', 'character outside the base62 alphabet');
      g = g * 62 + v;
    }
    const m = POW62[k]!;
    let carry = g;
    let i = limbs - 1;
    for (; i >= top; i--) {
      const x = work[i]! * m + carry;
      const low = x % 65536;
      work[i] = low;
      carry = (x - low) / 65536;
    }
    for (; carry > 0 && i >= 0; i--) {
      const low = carry % 65536;
      work[i] = low;
      carry = (carry - low) / 65536;
    }
    top = i + 1;
    if (carry > 0) throw new VeilError('malformed', 'base62 block value out of range');
    k = GROUP;
  }
}

// Base62 (`0-9A-Za-z`) for the armor: bytes in 32-byte blocks, each written as a fixed-width
// big-endian numeral. Pure; radix conversion on byte limbs with plain numbers (no BigInt per char).
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
const INV_POW62 = POW62.map((d) => 1 / d);
const LIMBS = BLOCK_BYTES / 2;
const INV_65536 = 1 / 65536;

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
  const out = charBuffer(base62Length(bytes.length));
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
  return asciiString(out);
}

/**
 * Scratch space for the characters (public: armor text), reused: engines put each byte array
 * above a few dozen bytes outside the JS heap, which costs about a microsecond.
 */
let charScratch = new Uint8Array(1024);

function charBuffer(length: number): Uint8Array {
  if (length > 1 << 16) return new Uint8Array(length); // rare big envelopes: not kept
  if (charScratch.length < length) charScratch = new Uint8Array(length);
  return charScratch.subarray(0, length);
}

/** The string of ASCII codes `codes`, in slices (fromCharCode takes its arguments on the stack). */
function asciiString(codes: Uint8Array): string {
  const SLICE = 8192;
  if (codes.length <= SLICE) return String.fromCharCode.apply(null, codes as unknown as number[]);
  let out = '';
  for (let i = 0; i < codes.length; i += SLICE)
    out += String.fromCharCode.apply(null, codes.subarray(i, i + SLICE) as unknown as number[]);
  return out;
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
    const inv = INV_POW62[k]!;
    let rem = 0;
    for (let i = first; i < limbs; i++) {
      // x / d by multiplying with 1/d: x < 2^52 and the quotient < 2^16, so the product is off
      // by less than one from the true quotient and the remainder test below corrects it.
      const x = rem * 65536 + work[i]!;
      let q = Math.floor(x * inv);
      let r = x - q * d;
      if (r < 0) {
        q--;
        r += d;
      } else if (r >= d) {
        q++;
        r -= d;
      }
      work[i] = q;
      rem = r;
    }
    while (first < limbs && work[first] === 0) first++;
    // rem < 62^6 < 2^36: split into two numbers of at most 3 digits (< 2^18), then small-int math.
    let high = 0;
    if (k > 3) {
      high = Math.floor(rem * INV_POW62[3]!);
      let low = rem - high * POW62[3]!;
      if (low < 0) {
        high--;
        low += POW62[3]!;
      } else if (low >= POW62[3]!) {
        high++;
        low -= POW62[3]!;
      }
      rem = low;
    }
    for (let j = 0; j < k; j++) {
      if (j === 3) rem = high;
      const q = (rem / 62) | 0;
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
    // x < 2^52; dividing by 2^16 is an exact multiplication (no slow floating-point modulo).
    for (; i >= top; i--) {
      const x = work[i]! * m + carry;
      carry = Math.floor(x * INV_65536);
      work[i] = x - carry * 65536;
    }
    for (; carry > 0 && i >= 0; i--) {
      const next = Math.floor(carry * INV_65536);
      work[i] = carry - next * 65536;
      carry = next;
    }
    top = i + 1;
    if (carry > 0) throw new VeilError('malformed', 'base62 block value out of range');
    k = GROUP;
  }
}

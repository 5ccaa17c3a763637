// Length-hiding padding for AEAD plaintexts (docs/protocol.md, "Plaintext framing and padding"):
// ISO/IEC 7816-4 (0x80 then zeros) up to max(roundUp(L + 1, 32), padme(L + 1)) bytes. Pure.
import { VeilError } from './errors';

/** Smallest bucket: short messages all look alike. */
const BLOCK = 32;

// Largest length we pad; keeps every intermediate an exact integer in a double.
const MAX_LENGTH = 2 ** 48;

/**
 * Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication with
 * PURBs", PoPETs 2019): rounds `n` up so only O(log log n) bits of it remain, overhead ≤ 12 %.
 */
export function padme(n: number): number {
  if (n <= 2) return n;
  const e = floorLog2(n);
  const s = floorLog2(e) + 1;
  const step = 2 ** (e - s);
  return Math.ceil(n / step) * step;
}

function floorLog2(n: number): number {
  let e = 0;
  while (2 ** (e + 1) <= n) e++;
  return e;
}

/** Size of `pad(data)` for `data.length === length`; always at least `length + 1`. */
export function paddedLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_LENGTH)
    throw new VeilError('invalid-argument', 'length out of range');
  const n = length + 1; // room for the 0x80 marker
  return Math.max(Math.ceil(n / BLOCK) * BLOCK, padme(n));
}

/** Pads `data` into a fresh buffer: `data || 0x80 || 0x00…`. */
export function pad(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(paddedLength(data.length));
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/**
 * Strips the padding, returning a view into `padded`. Strict: the marker must be present and the
 * total must be exactly the bucket `pad` would have chosen, so no two paddings of one message
 * are both accepted. Throws VeilError('malformed') otherwise.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) throw new VeilError('malformed', 'padding marker missing');
  if (paddedLength(i) !== padded.length)
    throw new VeilError('malformed', 'padding length does not match its bucket');
  return padded.subarray(0, i);
}

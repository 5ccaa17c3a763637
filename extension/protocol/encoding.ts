// Base64url (RFC 4648 §5, no padding) for the JSON wire forms: keys and signatures published to
// and fetched from the directory. Pure; strict on decode so one value has exactly one spelling.
import { VeilError } from './errors';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// Character code → 6-bit value, -1 for anything outside the alphabet.
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes as unpadded base64url, e.g. `toBase64Url(Uint8Array.of(0xfb)) === '-w'`. */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      ALPHABET[n >>> 18]! +
      ALPHABET[(n >>> 12) & 63]! +
      ALPHABET[(n >>> 6) & 63]! +
      ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]!;
  }
  return out;
}

/**
 * Decodes unpadded base64url. Rejects with VeilError('malformed') anything that is not the
 * canonical encoding of some bytes: padding, whitespace, `+` or `/`, an impossible length, or
 * non-zero unused bits in the last character.
 */
export function fromBase64Url(text: string): Uint8Array {
  if (typeof text !== 'string') throw new VeilError('malformed', 'base64url value is not a string');
  const tail = text.length % 4;
  if (tail === 1) throw new VeilError('malformed', 'base64url length is impossible');
  const out = new Uint8Array(Math.floor(text.length / 4) * 3 + (tail === 0 ? 0 : tail - 1));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0)
      throw new VeilError('malformed', 'base64url value has a character outside the alphabet');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) throw new VeilError('malformed', 'base64url value is not canonical');
  return out;
}

/** Decodes base64url that must hold exactly `length` bytes (a key or signature). */
export function fromBase64UrlFixed(text: string, length: number, what: string): Uint8Array {
  const bytes = fromBase64Url(text);
  if (bytes.length !== length) throw new VeilError('malformed', `${what} must be ${length} bytes`);
  return bytes;
}

// ---- fields of parsed JSON (wire forms): each throws VeilError('malformed') naming `what` ----

export function jsonRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new VeilError('malformed', `${what} is not an object`);
  return value as Record<string, unknown>;
}

/** An integer in [min, max] (default: a u32). */
export function jsonInt(value: unknown, what: string, min = 0, max = 0xffff_ffff): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new VeilError('malformed', `${what} out of range`);
  return value;
}

/** Unpadded base64url text of exactly `length` bytes. */
export function jsonBytes(value: unknown, length: number, what: string): Uint8Array {
  if (typeof value !== 'string') throw new VeilError('malformed', `${what} is not a string`);
  return fromBase64UrlFixed(value, length, what);
}

// Byte helpers and a small binary reader/writer for the wire formats. Pure; no host APIs.
import { bytesToUtf8, concatBytes, equalBytes } from '@noble/ciphers/utils.js';
import { VeilError } from './errors';

export { bytesToUtf8, concatBytes };

/**
 * UTF-8 bytes of a string, exactly as TextEncoder writes them (a lone surrogate becomes U+FFFD).
 * In plain code rather than a TextEncoder per call: it is on every message's path, mostly ASCII.
 */
export function utf8ToBytes(str: string): Uint8Array {
  if (typeof str !== 'string') throw new TypeError('string expected');
  const out = new Uint8Array(utf8Length(str));
  writeUtf8(str, out, 0);
  return out;
}

/** Bytes of `str` in UTF-8 as utf8ToBytes / writeUtf8 write it. */
export function utf8Length(str: string): number {
  const n = str.length;
  let length = n;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (
      c >= 0xd800 &&
      c <= 0xdbff &&
      i + 1 < n &&
      (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 2; // a pair: 4 bytes for 2 units
      i++;
    } else length += 2; // 3 bytes (a lone surrogate is U+FFFD)
  }
  return length;
}

/** Writes `str` as UTF-8 into `out` at `offset` (room for utf8Length(str) bytes); returns the end. */
export function writeUtf8(str: string, out: Uint8Array, offset: number): number {
  const n = str.length;
  let o = offset;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      const d = i + 1 < n ? str.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[o++] = 0xf0 | (cp >> 18);
        out[o++] = 0x80 | ((cp >> 12) & 0x3f);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
        i++;
      } else {
        out[o++] = 0xef; // U+FFFD for a lone surrogate
        out[o++] = 0xbf;
        out[o++] = 0xbd;
      }
    }
  }
  return o;
}

/** Constant-time equality (for MACs, keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b);
}

/** Wipes secret material we no longer need. */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}

export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  u8(n: number): this {
    return this.bytes(Uint8Array.of(n & 0xff));
  }

  u32(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0);
    return this.bytes(b);
  }

  /** Unsigned LEB128, up to 2^53. */
  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new VeilError('invalid-argument', 'varint out of range');
    const out: number[] = [];
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      out.push(byte);
    } while (n > 0);
    return this.bytes(Uint8Array.from(out));
  }

  bytes(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  /** Length-prefixed (varint) bytes. */
  lbytes(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

export class ByteReader {
  private off = 0;
  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }

  u32(): number {
    this.need(4);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.off, 4).getUint32(0);
    this.off += 4;
    return v;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) break;
        return result;
      }
      scale *= 128;
    }
    throw new VeilError('malformed', 'varint too long');
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  /** Length-prefixed bytes, refusing lengths above `max`. */
  lbytes(max: number): Uint8Array {
    const n = this.varint();
    if (n > max) throw new VeilError('oversized', 'field longer than allowed');
    return this.bytes(n);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Asserts every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) throw new VeilError('malformed', 'trailing bytes');
  }

  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new VeilError('truncated', 'input ends early');
  }
}

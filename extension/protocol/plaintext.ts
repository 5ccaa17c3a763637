// The AEAD plaintext of 1:1 and group messages (docs/protocol.md, "Plaintext framing and
// padding"): a list of typed records, then length-hiding padding. Pure.
import { utf8Length, utf8ToBytes, writeUtf8 } from './bytes';
import { VeilError } from './errors';
import { paddedLength, unpad } from './padding';

export const RECORD_TEXT = 1;
export const RECORD_SENDER_KEY_DISTRIBUTION = 2;
export const RECORD_SENDER_HANDLE = 3;

export const MAX_HANDLE_BYTES = 64;
/**
 * Largest padded plaintext we produce: leaves room for the biggest envelope header and the
 * AEAD tag within the 64 KiB envelope limit (envelope.ts MAX_ENVELOPE_LENGTH).
 */
export const MAX_PADDED_PLAINTEXT = 64 * 1024 - 256;
// Padded plaintexts we accept: anything an envelope can carry (the sender's limit is lower).
const MAX_ENVELOPE_PLAINTEXT = 64 * 1024;

export type PlaintextRecord =
  | { type: 'text'; text: string }
  /** Opaque here; sender-key.ts reads and writes its layout. */
  | { type: 'sender-key-distribution'; distribution: Uint8Array }
  | { type: 'sender-handle'; handle: string };

/**
 * Frames and pads records, e.g. `encodePlaintext([{ type: 'text', text: 'hi' }])` (32 bytes).
 * Throws `oversized` when the result would not fit in an envelope.
 */
export function encodePlaintext(records: PlaintextRecord[]): Uint8Array {
  const parts: RecordPart[] = [];
  let length = 0;
  for (const record of records) {
    const part = recordPart(record);
    parts.push(part);
    length += 1 + varintLength(part.length) + part.length;
    // Checked as we go so a huge list fails before it is all encoded.
    if (length > MAX_PADDED_PLAINTEXT) throw new VeilError('oversized', 'message too long');
  }
  const total = paddedLength(length);
  if (total > MAX_PADDED_PLAINTEXT) throw new VeilError('oversized', 'message too long');
  // Framed records and their padding (padding.ts pad: 0x80, then zeros) written in one buffer.
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) {
    out[o++] = part.type;
    o = writeVarint(out, o, part.length);
    if (part.text !== undefined) o = writeUtf8(part.text, out, o);
    else {
      out.set(part.body!, o);
      o += part.length;
    }
  }
  out[o] = 0x80;
  return out;
}

/**
 * Removes padding and parses records. Unknown record types are skipped (newer clients may add
 * some); bad framing, bad UTF-8 or an over-long handle is `malformed`.
 */
export function decodePlaintext(padded: Uint8Array): PlaintextRecord[] {
  if (padded.length > MAX_ENVELOPE_PLAINTEXT) throw new VeilError('oversized', 'message too long');
  const framed = unpad(padded);
  const records: PlaintextRecord[] = [];
  let o = 0;
  while (o < framed.length) {
    const type = framed[o++]!;
    const [length, next] = readVarint(framed, o);
    o = next;
    if (length > framed.length - o) throw new VeilError('malformed', 'record runs past the end');
    const body = framed.subarray(o, o + length);
    o += length;
    if (type === RECORD_TEXT) records.push({ type: 'text', text: decodeUtf8(body) });
    else if (type === RECORD_SENDER_KEY_DISTRIBUTION)
      records.push({ type: 'sender-key-distribution', distribution: body.slice() });
    else if (type === RECORD_SENDER_HANDLE) {
      if (body.length > MAX_HANDLE_BYTES)
        throw new VeilError('malformed', 'sender handle too long');
      records.push({ type: 'sender-handle', handle: decodeUtf8(body) });
    }
  }
  return records;
}

/** A record's type and body: bytes, or text written as UTF-8 straight into the output. */
interface RecordPart {
  type: number;
  length: number;
  body?: Uint8Array;
  text?: string;
}

function recordPart(record: PlaintextRecord): RecordPart {
  switch (record.type) {
    case 'text':
      if (typeof record.text !== 'string')
        throw new VeilError('invalid-argument', 'text record needs a string');
      return { type: RECORD_TEXT, length: utf8Length(record.text), text: record.text };
    case 'sender-key-distribution':
      if (!(record.distribution instanceof Uint8Array))
        throw new VeilError('invalid-argument', 'distribution record needs bytes');
      return {
        type: RECORD_SENDER_KEY_DISTRIBUTION,
        length: record.distribution.length,
        body: record.distribution,
      };
    case 'sender-handle': {
      if (typeof record.handle !== 'string')
        throw new VeilError('invalid-argument', 'handle record needs a string');
      const body = utf8ToBytes(record.handle);
      if (body.length > MAX_HANDLE_BYTES)
        throw new VeilError('invalid-argument', 'sender handle too long');
      return { type: RECORD_SENDER_HANDLE, length: body.length, body };
    }
    default:
      throw new VeilError('invalid-argument', 'unknown record type');
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, offset: number, n: number): number {
  let o = offset;
  while (n >= 0x80) {
    out[o++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[o++] = n;
  return o;
}

/** Canonical LEB128 (≤ 2^32 − 1) at `offset`; returns [value, offset after]. */
function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (offset + i >= bytes.length) throw new VeilError('malformed', 'record length cut short');
    const byte = bytes[offset + i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) throw new VeilError('malformed', 'varint not in shortest form');
      if (value > 0xffff_ffff) throw new VeilError('malformed', 'varint out of range');
      return [value, offset + i + 1];
    }
    scale *= 128;
  }
  throw new VeilError('malformed', 'varint too long');
}

/**
 * Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points above U+10FFFF, and a
 * leading U+FEFF is kept as text (a host decoder would strip it).
 */
export function decodeUtf8(bytes: Uint8Array): string {
  const units: number[] = [];
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let cp: number;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      cp = ((b0 & 0x1f) << 6) | cont(bytes, i + 1);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      cp = ((b0 & 0x0f) << 12) | (cont(bytes, i + 1) << 6) | cont(bytes, i + 2);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
        throw new VeilError('malformed', 'text is not valid UTF-8');
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      cp =
        ((b0 & 0x07) << 18) |
        (cont(bytes, i + 1) << 12) |
        (cont(bytes, i + 2) << 6) |
        cont(bytes, i + 3);
      if (cp < 0x10000 || cp > 0x10ffff)
        throw new VeilError('malformed', 'text is not valid UTF-8');
      i += 4;
    } else throw new VeilError('malformed', 'text is not valid UTF-8');
    if (cp < 0x10000) units.push(cp);
    else units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    // Flush in slices: fromCharCode takes its arguments on the stack.
    if (units.length >= 4096) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

function cont(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  if (b === undefined || (b & 0xc0) !== 0x80)
    throw new VeilError('malformed', 'text is not valid UTF-8');
  return b & 0x3f;
}

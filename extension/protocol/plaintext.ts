// The AEAD plaintext of 1:1 and group messages (docs/protocol.md, "Plaintext framing and
// padding"): a list of typed records, then length-hiding padding. Pure.
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8Length, utf8ToBytes, writeUtf8 } from './bytes';
import { VeilError } from './errors';
import { paddedLength, unpad } from './padding';

export const RECORD_TEXT = 1;
export const RECORD_SENDER_KEY_DISTRIBUTION = 2;
export const RECORD_SENDER_HANDLE = 3;
export const RECORD_ORIGIN = 4;
export const RECORD_STAMP = 5;
export const RECORD_TREE_HEAD = 6;
export const RECORD_GROUP = 7;
export const RECORD_MEMBERSHIP = 8;
/** The sender's signed device list (device-list.ts binary form), with a linked device's first messages. */
export const RECORD_DEVICE_LIST = 9;
/**
 * In a group's pairwise part: `peerTag(handle)` of the account the device takes it for, so a
 * device key some contact's list borrows opens no group key as that contact's.
 */
export const RECORD_RECIPIENT = 10;
export const PEER_TAG_LENGTH = 8;
const PEER_TAG_PREFIX = utf8ToBytes('Veil peer v1');

/**
 * `SHA-256("Veil peer v1" || UTF-8(handle))[0..8]`: names a handle in a fixed 8 bytes (the
 * message keeps its size however long the handle), 2^64 work to find another with the same tag.
 */
export function peerTag(handle: string): Uint8Array {
  const h = utf8ToBytes(handle);
  const input = new Uint8Array(PEER_TAG_PREFIX.length + h.length);
  input.set(PEER_TAG_PREFIX);
  input.set(h, PEER_TAG_PREFIX.length);
  return sha256(input).slice(0, PEER_TAG_LENGTH);
}

export const MAX_HANDLE_BYTES = 64;
/** Longest site and conversation name sealed in an origin record, in UTF-8 bytes. */
export const MAX_ORIGIN_PART_BYTES = 128;
/** Longest transparency-log origin in a tree-head record (C2SP checkpoint origins). */
export const MAX_LOG_ORIGIN_BYTES = 255;
/** Most members a membership record names (the group bundle's pairwise limit). */
export const MAX_MEMBERS = 256;
export const GROUP_ID_LENGTH = 32;
export const ORIGIN_ID_LENGTH = 4;
/**
 * Largest padded plaintext we produce: leaves room for the biggest envelope header and the
 * AEAD tag within the 64 KiB envelope limit (envelope.ts MAX_ENVELOPE_LENGTH).
 */
export const MAX_PADDED_PLAINTEXT = 64 * 1024 - 256;
// Padded plaintexts we accept: anything an envelope can carry (the sender's limit is lower).
const MAX_ENVELOPE_PLAINTEXT = 64 * 1024;

/** Where a message was written, as the sender's page named it (shown, never compared). */
export interface SealedOrigin {
  /** The site, e.g. `The Lounge · 127.0.0.1:9000`. */
  site: string;
  /** The conversation's human name, e.g. `#veil` or a contact's name. */
  name: string;
}

/** A signed tree head of the sender's directory log, as gossiped (transparency.ts). */
export interface GossipedHead {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  timestamp: number;
  signature: Uint8Array;
}

export interface GroupMember {
  handle: string;
  /** Ed25519 identity key. */
  identityKey: Uint8Array;
}

export type PlaintextRecord =
  | { type: 'text'; text: string }
  /** Opaque here; sender-key.ts reads and writes its layout. */
  | { type: 'sender-key-distribution'; distribution: Uint8Array }
  | { type: 'sender-handle'; handle: string }
  /** Sent when it changes; later messages name it by `originId` in their stamp. */
  | ({ type: 'origin' } & SealedOrigin)
  /** In every message: the sender's per-conversation sequence, send time, and origin's id. */
  | { type: 'stamp'; seq: number; sentAt: number; originId: Uint8Array }
  | ({ type: 'tree-head' } & GossipedHead)
  /** Beside a distribution: the group (id) the sender key is for. */
  | { type: 'group'; groupId: Uint8Array }
  /** A group's member list as the sender now has it; `epoch` orders changes. */
  | { type: 'membership'; groupId: Uint8Array; epoch: number; members: GroupMember[] }
  /** Opaque here; device-list.ts reads and writes its layout. */
  | { type: 'device-list'; list: Uint8Array }
  /** The account (its peerTag) a group's pairwise part is for. */
  | { type: 'recipient'; tag: Uint8Array };

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
    } else if (type === RECORD_ORIGIN) records.push(decodeOrigin(body));
    else if (type === RECORD_STAMP) records.push(decodeStamp(body));
    else if (type === RECORD_TREE_HEAD) records.push(decodeTreeHead(body));
    else if (type === RECORD_GROUP) {
      if (body.length !== GROUP_ID_LENGTH) throw new VeilError('malformed', 'bad group id');
      records.push({ type: 'group', groupId: body.slice() });
    } else if (type === RECORD_MEMBERSHIP) records.push(decodeMembership(body));
    else if (type === RECORD_DEVICE_LIST) records.push({ type: 'device-list', list: body.slice() });
    else if (type === RECORD_RECIPIENT) {
      if (body.length !== PEER_TAG_LENGTH) throw new VeilError('malformed', 'bad recipient tag');
      records.push({ type: 'recipient', tag: body.slice() });
    }
  }
  return records;
}

// ---- record bodies (docs/protocol.md, "Sealed records") ----

const U64_MAX = Number.MAX_SAFE_INTEGER;

function decodeOrigin(body: Uint8Array): PlaintextRecord {
  const r = new BodyReader(body);
  const site = r.text(MAX_ORIGIN_PART_BYTES);
  const name = r.text(MAX_ORIGIN_PART_BYTES);
  r.end();
  return { type: 'origin', site, name };
}

function decodeStamp(body: Uint8Array): PlaintextRecord {
  const r = new BodyReader(body);
  const seq = r.varint();
  const sentAt = r.varint();
  const originId = r.bytes(ORIGIN_ID_LENGTH);
  r.end();
  return { type: 'stamp', seq, sentAt, originId };
}

function decodeTreeHead(body: Uint8Array): PlaintextRecord {
  const r = new BodyReader(body);
  const origin = r.text(MAX_LOG_ORIGIN_BYTES);
  const treeSize = r.u64();
  const rootHash = r.bytes(32);
  const timestamp = r.u64();
  const signature = r.bytes(64);
  r.end();
  return { type: 'tree-head', origin, treeSize, rootHash, timestamp, signature };
}

function decodeMembership(body: Uint8Array): PlaintextRecord {
  const r = new BodyReader(body);
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const epoch = r.varint();
  const count = r.varint();
  if (count > MAX_MEMBERS) throw new VeilError('malformed', 'too many members');
  const members: GroupMember[] = [];
  for (let i = 0; i < count; i++) {
    const handle = r.text(MAX_HANDLE_BYTES);
    members.push({ handle, identityKey: r.bytes(32) });
  }
  r.end();
  return { type: 'membership', groupId, epoch, members };
}

/** Bounds-checked reads inside one record body: anything off is `malformed`. */
class BodyReader {
  private o = 0;
  constructor(private readonly body: Uint8Array) {}

  varint(): number {
    const [value, next] = readVarint(this.body, this.o);
    this.o = next;
    return value;
  }

  /** A u64 as two varints (high 32 bits, low 32 bits), exact up to 2^53. */
  u64(): number {
    const high = this.varint();
    const low = this.varint();
    const value = high * 2 ** 32 + low;
    if (value > U64_MAX) throw new VeilError('malformed', 'number out of range');
    return value;
  }

  bytes(n: number): Uint8Array {
    if (this.o + n > this.body.length) throw new VeilError('malformed', 'record ends early');
    const out = this.body.slice(this.o, this.o + n);
    this.o += n;
    return out;
  }

  text(maxBytes: number): string {
    const n = this.varint();
    if (n > maxBytes) throw new VeilError('malformed', 'text field too long');
    return decodeUtf8(this.bytes(n));
  }

  end(): void {
    if (this.o !== this.body.length) throw new VeilError('malformed', 'record has extra bytes');
  }
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
    case 'origin':
      return bodyPart(RECORD_ORIGIN, encodeOriginBody(record));
    case 'stamp': {
      const w = new BodyWriter();
      w.varint(record.seq).varint(record.sentAt).bytes(record.originId, ORIGIN_ID_LENGTH);
      return bodyPart(RECORD_STAMP, w.finish());
    }
    case 'tree-head': {
      const w = new BodyWriter();
      w.text(record.origin, MAX_LOG_ORIGIN_BYTES)
        .u64(record.treeSize)
        .bytes(record.rootHash, 32)
        .u64(record.timestamp)
        .bytes(record.signature, 64);
      return bodyPart(RECORD_TREE_HEAD, w.finish());
    }
    case 'group':
      return bodyPart(RECORD_GROUP, new BodyWriter().bytes(record.groupId, 32).finish());
    case 'membership': {
      if (!Array.isArray(record.members) || record.members.length > MAX_MEMBERS)
        throw new VeilError('invalid-argument', 'too many members');
      const w = new BodyWriter();
      w.bytes(record.groupId, GROUP_ID_LENGTH).varint(record.epoch).varint(record.members.length);
      for (const m of record.members) w.text(m.handle, MAX_HANDLE_BYTES).bytes(m.identityKey, 32);
      return bodyPart(RECORD_MEMBERSHIP, w.finish());
    }
    case 'device-list':
      if (!(record.list instanceof Uint8Array))
        throw new VeilError('invalid-argument', 'device list record needs bytes');
      return bodyPart(RECORD_DEVICE_LIST, record.list);
    case 'recipient':
      return bodyPart(
        RECORD_RECIPIENT,
        new BodyWriter().bytes(record.tag, PEER_TAG_LENGTH).finish(),
      );
    default:
      throw new VeilError('invalid-argument', 'unknown record type');
  }
}

function bodyPart(type: number, body: Uint8Array): RecordPart {
  return { type, length: body.length, body };
}

/** An origin record's body: `lbytes(site) || lbytes(name)` (also what its id hashes). */
export function encodeOriginBody(origin: SealedOrigin): Uint8Array {
  return new BodyWriter()
    .text(origin.site, MAX_ORIGIN_PART_BYTES)
    .text(origin.name, MAX_ORIGIN_PART_BYTES)
    .finish();
}

/** Builds a record body; bad input is `invalid-argument` (the sender's mistake). */
class BodyWriter {
  private readonly parts: number[] = [];

  varint(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff)
      throw new VeilError('invalid-argument', 'number out of range');
    const out = new Uint8Array(5);
    const end = writeVarint(out, 0, n);
    for (let i = 0; i < end; i++) this.parts.push(out[i]!);
    return this;
  }

  u64(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new VeilError('invalid-argument', 'number out of range');
    return this.varint(Math.floor(n / 2 ** 32)).varint(n % 2 ** 32);
  }

  bytes(b: Uint8Array, length: number): this {
    if (!(b instanceof Uint8Array) || b.length !== length)
      throw new VeilError('invalid-argument', `field must be ${length} bytes`);
    for (const x of b) this.parts.push(x);
    return this;
  }

  text(t: string, maxBytes: number): this {
    if (typeof t !== 'string') throw new VeilError('invalid-argument', 'text field needs a string');
    const b = utf8ToBytes(t);
    if (b.length > maxBytes) throw new VeilError('invalid-argument', 'text field too long');
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
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

// Every envelope wire layout (docs/protocol.md, "Envelopes" and "Context"): strict encoders and
// parsers for types 1–4 and the context hash. Pure; parsers return views into the input.
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from './bytes';
import { VeilError } from './errors';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_PREKEY = 1;
export const ENVELOPE_RATCHET = 2;
export const ENVELOPE_SENDER_KEY = 3;
export const ENVELOPE_GROUP_BUNDLE = 4;
/** A pre-key message of post-quantum setup: type 1's header, then the KEM prekey id and ciphertext. */
export const ENVELOPE_PREKEY_PQ = 5;
/** One text sealed once for several devices: a wrapped content key per device, then the text. */
export const ENVELOPE_FANOUT = 6;
/** Inside a fan-out only: type 2's header around a wrapped 32-byte content key, no AEAD tag. */
export const ENVELOPE_KEY_WRAP = 7;

/** Largest envelope we write or read (64 KiB), inner envelopes of a bundle included. */
export const MAX_ENVELOPE_LENGTH = 64 * 1024;
/** Most pairwise envelopes in one group bundle. */
export const MAX_BUNDLE_COUNT = 256;
/** Most devices one fan-out message is wrapped for (16 per person, a few people). */
export const MAX_FANOUT_COUNT = 64;
/** A fan-out's content key, and what a key-wrap message carries. */
export const CONTENT_KEY_LENGTH = 32;

export const SESSION_TAG_LENGTH = 8;
export const RECIPIENT_TAG_LENGTH = 4;
export const SENDER_KEY_ID_LENGTH = 8;
export const CTX_TAG_LENGTH = 4;
export const CTX_HASH_LENGTH = 32;
/** Truncated HMAC over a type-2 header, checked before any chain is walked (ratchet.ts). */
export const HEADER_MAC_LENGTH = 8;
export const AEAD_TAG_LENGTH = 16;
export const SIGNATURE_LENGTH = 64;
const KEY_LENGTH = 32;
const MAX_U32 = 0xffff_ffff;

const BYTE0_PREKEY = (ENVELOPE_VERSION << 4) | ENVELOPE_PREKEY;
const BYTE0_RATCHET = (ENVELOPE_VERSION << 4) | ENVELOPE_RATCHET;
const BYTE0_SENDER_KEY = (ENVELOPE_VERSION << 4) | ENVELOPE_SENDER_KEY;
const BYTE0_GROUP_BUNDLE = (ENVELOPE_VERSION << 4) | ENVELOPE_GROUP_BUNDLE;
const BYTE0_PREKEY_PQ = (ENVELOPE_VERSION << 4) | ENVELOPE_PREKEY_PQ;
const BYTE0_FANOUT = (ENVELOPE_VERSION << 4) | ENVELOPE_FANOUT;
export const BYTE0_KEY_WRAP = (ENVELOPE_VERSION << 4) | ENVELOPE_KEY_WRAP;
/** ML-KEM-768 ciphertext (kem-prekey.ts re-exports it): parsing type 5 needs no ML-KEM code. */
export const KEM_CIPHERTEXT_LENGTH = 1088;

const CONTEXT_PREFIX = utf8ToBytes('Veil context v1');

// ---- context ----

/**
 * `SHA-256("Veil context v1" || UTF-8(context))`: binds a message to the site and conversation
 * it was written for, e.g. `contextHash('thelounge:127.0.0.1:6667/#veil')`.
 */
export function contextHash(context: string): Uint8Array {
  if (typeof context !== 'string') throw new VeilError('invalid-argument', 'context must be text');
  return sha256(concatBytes(CONTEXT_PREFIX, utf8ToBytes(context)));
}

/** The 4-byte tag of a context hash that travels in message headers. */
export function contextTag(ctxHash: Uint8Array): Uint8Array {
  if (!(ctxHash instanceof Uint8Array) || ctxHash.length !== CTX_HASH_LENGTH)
    throw new VeilError('invalid-argument', 'context hash must be 32 bytes');
  return ctxHash.subarray(0, CTX_TAG_LENGTH);
}

// ---- parsed forms ----

/** Type 2 (or a type-7 key wrap inside a fan-out). Every field is a view into the parsed bytes. */
export interface RatchetMessage {
  type: 2;
  /**
   * A type-7 key wrap: `ciphertext` is the 32-byte wrapped content key, or empty for the derived
   * wrap (the content key is made from this wrap's message key); no AEAD tag.
   */
  keyWrap?: true;
  sessionTag: Uint8Array;
  ratchetKey: Uint8Array;
  counter: number;
  previousCounter: number;
  headerMac: Uint8Array;
  /** Bytes 0.. up to the header MAC: what the header MAC covers (after the session's AD). */
  macedHeader: Uint8Array;
  /** Bytes 0.. up to the ciphertext (header MAC included): part of the AEAD associated data. */
  header: Uint8Array;
  /** Ciphertext || AEAD tag. */
  ciphertext: Uint8Array;
  /** The whole type-2 message. */
  bytes: Uint8Array;
}

export interface PrekeyFields {
  recipientTag: Uint8Array;
  /** Initiator's Ed25519 identity public key. */
  identityKey: Uint8Array;
  /** Initiator's ephemeral X25519 key (EK_A). */
  baseKey: Uint8Array;
  signedPrekeyId: number;
  /** 0 when no one-time prekey was used. */
  oneTimePrekeyId: number;
  /** Post-quantum setup (type 5): the KEM prekey used and the ciphertext to decapsulate. */
  kem?: { id: number; cipherText: Uint8Array };
}

/** Type 1: a pre-key header around a complete type-2 message. */
export interface PrekeyMessage extends PrekeyFields {
  type: 1;
  /** Bytes 0.. up to the inner message: part of the AEAD associated data. */
  prekeyHeader: Uint8Array;
  message: RatchetMessage;
  bytes: Uint8Array;
}

/** Type 3 (the crypto lives in sender-key.ts). */
export interface SenderKeyMessage {
  type: 3;
  senderKeyId: Uint8Array;
  iteration: number;
  ctxTag: Uint8Array;
  /** Bytes 0.. up to the ciphertext. */
  header: Uint8Array;
  /** Ciphertext || AEAD tag. */
  ciphertext: Uint8Array;
  /** Every byte before the signature: what the signature covers. */
  signedPart: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

/** Type 4: pairwise envelopes (each type 1 or 2) for some members, then one type-3 message. */
export interface GroupBundle {
  type: 4;
  pairwise: (PrekeyMessage | RatchetMessage)[];
  senderKeyMessage: SenderKeyMessage;
  bytes: Uint8Array;
}

/**
 * Type 6: the text sealed once under a fresh content key, that key wrapped for each device in
 * its own session (each wrap a type 7, or a type 1/5 around one), docs/protocol.md "Fan-out".
 */
export interface FanoutMessage {
  type: 6;
  wraps: (PrekeyMessage | RatchetMessage)[];
  /** ChaCha20-Poly1305 under the content key: ciphertext || tag. */
  content: Uint8Array;
  bytes: Uint8Array;
}

export type Envelope =
  PrekeyMessage | RatchetMessage | SenderKeyMessage | GroupBundle | FanoutMessage;
export type EnvelopeType = 1 | 2 | 3 | 4 | 5 | 6;

// ---- dispatch ----

/**
 * The type of an envelope from its first byte: `unknown-version` for another version,
 * `malformed` for an unknown type. Does not check the rest.
 */
export function envelopeType(bytes: Uint8Array): EnvelopeType {
  checkOuter(bytes);
  const byte0 = bytes[0]!;
  if (byte0 >> 4 !== ENVELOPE_VERSION)
    throw new VeilError('unknown-version', 'unknown envelope version');
  const type = byte0 & 0x0f;
  if (type < ENVELOPE_PREKEY || type > ENVELOPE_FANOUT)
    throw new VeilError('malformed', 'unknown envelope type');
  return type as EnvelopeType;
}

/** Parses any envelope strictly; fields are views into `bytes`. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  switch (envelopeType(bytes)) {
    case 1:
    case 5:
      return parsePrekeyMessage(bytes);
    case 2:
      return parseRatchetMessage(bytes);
    case 3:
      return parseSenderKeyMessage(bytes);
    case 4:
      return parseGroupBundle(bytes);
    case 6:
      return parseFanout(bytes);
  }
}

// ---- type 2: ratchet message ----

export interface RatchetHeaderFields {
  sessionTag: Uint8Array;
  ratchetKey: Uint8Array;
  counter: number;
  previousCounter: number;
}

/** Length of the type-2 header for these counters, header MAC included. */
export function ratchetHeaderLength(counter: number, previousCounter: number): number {
  return (
    1 +
    SESSION_TAG_LENGTH +
    KEY_LENGTH +
    varintLength(counter) +
    varintLength(previousCounter) +
    HEADER_MAC_LENGTH
  );
}

/**
 * Writes the type-2 header up to its MAC into `out` at `offset` and returns the offset after
 * it, where the caller writes the HEADER_MAC_LENGTH-byte header MAC. The ratchet uses this to
 * build an envelope in one buffer; the layout is defined here only.
 */
export function writeRatchetHeader(
  out: Uint8Array,
  offset: number,
  h: RatchetHeaderFields,
  byte0: number = BYTE0_RATCHET,
): number {
  checkLength(h.sessionTag, SESSION_TAG_LENGTH, 'session tag');
  checkLength(h.ratchetKey, KEY_LENGTH, 'ratchet key');
  let o = offset;
  out[o++] = byte0;
  out.set(h.sessionTag, o);
  o += SESSION_TAG_LENGTH;
  out.set(h.ratchetKey, o);
  o += KEY_LENGTH;
  o = writeVarint(out, o, h.counter);
  return writeVarint(out, o, h.previousCounter);
}

/** Encodes a type-2 message from its fields. */
export function encodeRatchetMessage(
  fields: RatchetHeaderFields & { headerMac: Uint8Array; ciphertext: Uint8Array },
): Uint8Array {
  checkLength(fields.headerMac, HEADER_MAC_LENGTH, 'header MAC');
  const headerLength = ratchetHeaderLength(fields.counter, fields.previousCounter);
  const out = new Uint8Array(headerLength + fields.ciphertext.length);
  const macAt = writeRatchetHeader(out, 0, fields);
  out.set(fields.headerMac, macAt);
  out.set(fields.ciphertext, headerLength);
  checkEncodedLength(out);
  return out;
}

/** Parses a type-2 message (or, with `keyWrap`, a type-7 key wrap) strictly. */
export function parseRatchetMessage(bytes: Uint8Array, keyWrap = false): RatchetMessage {
  checkByte0(
    bytes,
    keyWrap ? BYTE0_KEY_WRAP : BYTE0_RATCHET,
    keyWrap ? 'not a key wrap' : 'not a ratchet message',
  );
  const r = new Cursor(bytes, 1);
  const sessionTag = r.take(SESSION_TAG_LENGTH);
  const ratchetKey = r.take(KEY_LENGTH);
  const counter = r.varint();
  const previousCounter = r.varint();
  const macedHeader = bytes.subarray(0, r.offset);
  const headerMac = r.take(HEADER_MAC_LENGTH);
  const header = bytes.subarray(0, r.offset);
  const ciphertext = r.rest();
  // A key wrap carries a wrapped key, or nothing (the derived wrap: the key is its pad).
  if (keyWrap && ciphertext.length !== 0 && ciphertext.length !== CONTENT_KEY_LENGTH)
    throw new VeilError('malformed', 'a key wrap carries one key or none');
  if (!keyWrap && ciphertext.length < AEAD_TAG_LENGTH)
    throw new VeilError('truncated', 'ratchet message ends early');
  return {
    type: 2,
    ...(keyWrap ? { keyWrap: true as const } : {}),
    sessionTag,
    ratchetKey,
    counter,
    previousCounter,
    headerMac,
    macedHeader,
    header,
    ciphertext,
    bytes,
  };
}

// ---- type 1: pre-key message ----

/** Encodes the pre-key header (byte 0 up to the inner message). */
export function encodePrekeyHeader(f: PrekeyFields): Uint8Array {
  checkLength(f.recipientTag, RECIPIENT_TAG_LENGTH, 'recipient tag');
  checkLength(f.identityKey, KEY_LENGTH, 'identity key');
  checkLength(f.baseKey, KEY_LENGTH, 'base key');
  checkU32(f.signedPrekeyId, 'signed prekey id');
  checkU32(f.oneTimePrekeyId, 'one-time prekey id');
  if (f.kem) {
    checkU32(f.kem.id, 'KEM prekey id');
    if (f.kem.id === 0) throw new VeilError('invalid-argument', 'KEM prekey id must not be 0');
    checkLength(f.kem.cipherText, KEM_CIPHERTEXT_LENGTH, 'KEM ciphertext');
  }
  // Type 5 writes the signed prekey id as a varint too (ids count weekly rotations): the
  // 3 bytes it saves keep a 200-byte first message within 2,000 armored characters.
  const spkLength = f.kem ? varintLength(f.signedPrekeyId) : 4;
  const pq = f.kem ? varintLength(f.kem.id) + KEM_CIPHERTEXT_LENGTH : 0;
  const out = new Uint8Array(
    1 + RECIPIENT_TAG_LENGTH + 2 * KEY_LENGTH + spkLength + varintLength(f.oneTimePrekeyId) + pq,
  );
  let o = 0;
  out[o++] = f.kem ? BYTE0_PREKEY_PQ : BYTE0_PREKEY;
  out.set(f.recipientTag, o);
  o += RECIPIENT_TAG_LENGTH;
  out.set(f.identityKey, o);
  o += KEY_LENGTH;
  out.set(f.baseKey, o);
  o += KEY_LENGTH;
  if (f.kem) o = writeVarint(out, o, f.signedPrekeyId);
  else {
    new DataView(out.buffer, out.byteOffset).setUint32(o, f.signedPrekeyId);
    o += 4;
  }
  o = writeVarint(out, o, f.oneTimePrekeyId);
  if (f.kem) out.set(f.kem.cipherText, writeVarint(out, o, f.kem.id));
  return out;
}

/**
 * Parses a type-1 or type-5 message strictly, including its inner type-2 message (a type-7 key
 * wrap with `keyWrap`, inside a fan-out).
 */
export function parsePrekeyMessage(bytes: Uint8Array, keyWrap = false): PrekeyMessage {
  const pq = bytes instanceof Uint8Array && bytes[0] === BYTE0_PREKEY_PQ;
  checkByte0(bytes, pq ? BYTE0_PREKEY_PQ : BYTE0_PREKEY, 'not a pre-key message');
  const r = new Cursor(bytes, 1);
  const recipientTag = r.take(RECIPIENT_TAG_LENGTH);
  const identityKey = r.take(KEY_LENGTH);
  const baseKey = r.take(KEY_LENGTH);
  const signedPrekeyId = pq ? r.varint() : r.u32();
  const oneTimePrekeyId = r.varint();
  let kem: PrekeyFields['kem'];
  if (pq) {
    const id = r.varint();
    if (id === 0) throw new VeilError('malformed', 'KEM prekey id 0');
    kem = { id, cipherText: r.take(KEM_CIPHERTEXT_LENGTH) };
  }
  const prekeyHeader = bytes.subarray(0, r.offset);
  const message = parseRatchetMessage(r.rest(), keyWrap);
  return {
    type: 1,
    ...(kem ? { kem } : {}),
    recipientTag,
    identityKey,
    baseKey,
    signedPrekeyId,
    oneTimePrekeyId,
    prekeyHeader,
    message,
    bytes,
  };
}

// ---- type 3: sender-key message ----

export interface SenderKeyHeaderFields {
  senderKeyId: Uint8Array;
  iteration: number;
  ctxTag: Uint8Array;
}

/** Encodes the type-3 header (byte 0 up to the ciphertext): the AEAD associated data starts with it. */
export function encodeSenderKeyHeader(f: SenderKeyHeaderFields): Uint8Array {
  checkLength(f.senderKeyId, SENDER_KEY_ID_LENGTH, 'sender key id');
  checkLength(f.ctxTag, CTX_TAG_LENGTH, 'context tag');
  checkU32(f.iteration, 'iteration');
  const out = new Uint8Array(1 + SENDER_KEY_ID_LENGTH + varintLength(f.iteration) + CTX_TAG_LENGTH);
  out[0] = BYTE0_SENDER_KEY;
  out.set(f.senderKeyId, 1);
  const o = writeVarint(out, 1 + SENDER_KEY_ID_LENGTH, f.iteration);
  out.set(f.ctxTag, o);
  return out;
}

/** Encodes a whole type-3 message: header || ciphertext || signature. */
export function encodeSenderKeyMessage(
  f: SenderKeyHeaderFields & { ciphertext: Uint8Array; signature: Uint8Array },
): Uint8Array {
  checkLength(f.signature, SIGNATURE_LENGTH, 'signature');
  if (f.ciphertext.length < AEAD_TAG_LENGTH)
    throw new VeilError('invalid-argument', 'ciphertext shorter than its tag');
  const out = concatBytes(encodeSenderKeyHeader(f), f.ciphertext, f.signature);
  checkEncodedLength(out);
  return out;
}

/** Parses a type-3 message strictly (the signature is not checked here). */
export function parseSenderKeyMessage(bytes: Uint8Array): SenderKeyMessage {
  checkByte0(bytes, BYTE0_SENDER_KEY, 'not a sender-key message');
  const r = new Cursor(bytes, 1);
  const senderKeyId = r.take(SENDER_KEY_ID_LENGTH);
  const iteration = r.varint();
  const ctxTag = r.take(CTX_TAG_LENGTH);
  const headerEnd = r.offset;
  if (bytes.length - headerEnd < AEAD_TAG_LENGTH + SIGNATURE_LENGTH)
    throw new VeilError('truncated', 'sender-key message ends early');
  const signatureStart = bytes.length - SIGNATURE_LENGTH;
  return {
    type: 3,
    senderKeyId,
    iteration,
    ctxTag,
    header: bytes.subarray(0, headerEnd),
    ciphertext: bytes.subarray(headerEnd, signatureStart),
    signedPart: bytes.subarray(0, signatureStart),
    signature: bytes.subarray(signatureStart),
    bytes,
  };
}

// ---- type 4: group bundle ----

/** Encodes a group bundle; each pairwise envelope must itself be a type 1 or 2 envelope. */
export function encodeGroupBundle(
  pairwise: Uint8Array[],
  senderKeyMessage: Uint8Array,
): Uint8Array {
  if (pairwise.length > MAX_BUNDLE_COUNT)
    throw new VeilError('oversized', 'too many recipients in one group bundle');
  for (const p of pairwise) {
    const t = envelopeType(p);
    if (t !== ENVELOPE_PREKEY && t !== ENVELOPE_PREKEY_PQ && t !== ENVELOPE_RATCHET)
      throw new VeilError('invalid-argument', 'group bundle holds only type 1 or 2 envelopes');
  }
  if (envelopeType(senderKeyMessage) !== ENVELOPE_SENDER_KEY)
    throw new VeilError('invalid-argument', 'group bundle ends with a sender-key message');
  let length = 1 + varintLength(pairwise.length) + senderKeyMessage.length;
  for (const p of pairwise) length += varintLength(p.length) + p.length;
  if (length > MAX_ENVELOPE_LENGTH) throw new VeilError('oversized', 'envelope too long');
  const out = new Uint8Array(length);
  out[0] = BYTE0_GROUP_BUNDLE;
  let o = writeVarint(out, 1, pairwise.length);
  for (const p of pairwise) {
    o = writeVarint(out, o, p.length);
    out.set(p, o);
    o += p.length;
  }
  out.set(senderKeyMessage, o);
  return out;
}

/** Parses a group bundle strictly, including every inner envelope. */
export function parseGroupBundle(bytes: Uint8Array): GroupBundle {
  checkByte0(bytes, BYTE0_GROUP_BUNDLE, 'not a group bundle');
  const r = new Cursor(bytes, 1);
  const count = r.varint();
  if (count > MAX_BUNDLE_COUNT)
    throw new VeilError('oversized', 'too many recipients in one group bundle');
  const pairwise: (PrekeyMessage | RatchetMessage)[] = [];
  for (let i = 0; i < count; i++) {
    const inner = r.take(r.varint());
    const byte0 = inner[0];
    if (byte0 === BYTE0_PREKEY || byte0 === BYTE0_PREKEY_PQ)
      pairwise.push(parsePrekeyMessage(inner));
    else if (byte0 === BYTE0_RATCHET) pairwise.push(parseRatchetMessage(inner));
    else if (byte0 !== undefined && byte0 >> 4 !== ENVELOPE_VERSION)
      throw new VeilError('unknown-version', 'unknown envelope version');
    else if (byte0 === undefined) throw new VeilError('truncated', 'empty envelope in bundle');
    else throw new VeilError('malformed', 'group bundle holds only type 1 or 2 envelopes');
  }
  return { type: 4, pairwise, senderKeyMessage: parseSenderKeyMessage(r.rest()), bytes };
}

// ---- type 6: fan-out ----

/**
 * Encodes a fan-out: `byte0 || varint n || n × (varint len || wrap) || content`; each wrap is a
 * type-7 key wrap or a type 1/5 pre-key header around one.
 */
export function encodeFanout(wraps: Uint8Array[], content: Uint8Array): Uint8Array {
  if (wraps.length === 0 || wraps.length > MAX_FANOUT_COUNT)
    throw new VeilError('oversized', 'a fan-out is for 1 to 64 devices');
  for (const w of wraps) parseWrap(w);
  if (!(content instanceof Uint8Array) || content.length < AEAD_TAG_LENGTH)
    throw new VeilError('invalid-argument', 'fan-out content must be ciphertext and tag');
  let length = 1 + varintLength(wraps.length) + content.length;
  for (const w of wraps) length += varintLength(w.length) + w.length;
  if (length > MAX_ENVELOPE_LENGTH) throw new VeilError('oversized', 'envelope too long');
  const out = new Uint8Array(length);
  out[0] = BYTE0_FANOUT;
  let o = writeVarint(out, 1, wraps.length);
  for (const w of wraps) {
    o = writeVarint(out, o, w.length);
    out.set(w, o);
    o += w.length;
  }
  out.set(content, o);
  return out;
}

/** Parses a fan-out strictly, every wrap included. */
export function parseFanout(bytes: Uint8Array): FanoutMessage {
  checkByte0(bytes, BYTE0_FANOUT, 'not a fan-out');
  const r = new Cursor(bytes, 1);
  const count = r.varint();
  if (count === 0) throw new VeilError('malformed', 'a fan-out for no device');
  if (count > MAX_FANOUT_COUNT) throw new VeilError('oversized', 'too many devices in a fan-out');
  const wraps: (PrekeyMessage | RatchetMessage)[] = [];
  for (let i = 0; i < count; i++) wraps.push(parseWrap(r.take(r.varint())));
  const content = r.rest();
  if (content.length < AEAD_TAG_LENGTH) throw new VeilError('truncated', 'fan-out ends early');
  return { type: 6, wraps, content, bytes };
}

function parseWrap(bytes: Uint8Array): PrekeyMessage | RatchetMessage {
  const byte0 = bytes[0];
  if (byte0 === undefined) throw new VeilError('truncated', 'empty wrap in a fan-out');
  if (byte0 === BYTE0_PREKEY || byte0 === BYTE0_PREKEY_PQ) return parsePrekeyMessage(bytes, true);
  if (byte0 === BYTE0_KEY_WRAP) return parseRatchetMessage(bytes, true);
  if (byte0 >> 4 !== ENVELOPE_VERSION)
    throw new VeilError('unknown-version', 'unknown envelope version');
  throw new VeilError('malformed', 'a fan-out holds only key wraps');
}

// ---- internals ----

function checkOuter(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array))
    throw new VeilError('invalid-argument', 'envelope is not bytes');
  if (bytes.length === 0) throw new VeilError('truncated', 'envelope is empty');
  if (bytes.length > MAX_ENVELOPE_LENGTH) throw new VeilError('oversized', 'envelope too long');
}

function checkByte0(bytes: Uint8Array, expected: number, what: string): void {
  checkOuter(bytes);
  const byte0 = bytes[0]!;
  if (byte0 >> 4 !== ENVELOPE_VERSION)
    throw new VeilError('unknown-version', 'unknown envelope version');
  if (byte0 !== expected) throw new VeilError('malformed', what);
}

function checkEncodedLength(bytes: Uint8Array): void {
  if (bytes.length > MAX_ENVELOPE_LENGTH) throw new VeilError('oversized', 'envelope too long');
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length)
    throw new VeilError('invalid-argument', `${what} must be ${length} bytes`);
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32)
    throw new VeilError('invalid-argument', `${what} must be a u32`);
}

/** Bytes of the LEB128 encoding of a u32. */
export function varintLength(n: number): number {
  checkU32(n, 'varint');
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, offset: number, n: number): number {
  checkU32(n, 'varint');
  let o = offset;
  while (n >= 0x80) {
    out[o++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[o++] = n;
  return o;
}

// A bounds-checked reader over offsets (no copies): ends early → `truncated`; non-shortest or
// out-of-range varints → `malformed`, so each message has exactly one encoding.
class Cursor {
  constructor(
    private readonly buf: Uint8Array,
    public offset: number,
  ) {}

  take(n: number): Uint8Array {
    if (this.offset + n > this.buf.length) throw new VeilError('truncated', 'envelope ends early');
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u32(): number {
    const b = this.take(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.buf.length) throw new VeilError('truncated', 'envelope ends early');
      const byte = this.buf[this.offset++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new VeilError('malformed', 'varint not in shortest form');
        if (value > MAX_U32) throw new VeilError('malformed', 'varint out of range');
        return value;
      }
      scale *= 128;
    }
    throw new VeilError('malformed', 'varint too long');
  }

  rest(): Uint8Array {
    const out = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return out;
  }
}

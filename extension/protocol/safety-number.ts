// Safety numbers: Signal's numeric fingerprint (version 0, 5200 × SHA-512) and its scannable
// CombinedFingerprints protobuf, byte-for-byte what libsignal computes for the same keys. Pure.
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8ToBytes } from './bytes';
import { VeilError } from './errors';

export interface FingerprintParty {
  /** Stable identifier: the Veil handle. Its UTF-8 bytes are hashed. */
  id: string;
  /** The identity's 32-byte X25519 public key (`identityDhPublic` of the Ed25519 key). */
  identityKey: Uint8Array;
}

/** libsignal's iteration count for safety numbers. */
export const FINGERPRINT_ITERATIONS = 5200;
/** Version of the scannable (QR) form, as in libsignal's `Fingerprint::new(1, …)`. */
export const SCANNABLE_VERSION = 1;

// Signal serialises a Curve25519 public key with a type byte in front.
const DJB_KEY_TYPE = 0x05;
const HASH_LEN = 64;
const SCANNABLE_LEN = 32;

/** The 30-digit half for one party, e.g. what the directory shows next to a handle. */
export function fingerprintHalf(party: FingerprintParty): string {
  return displayDigits(partyHash(party));
}

/** The 60-digit safety number of a conversation, the same string on both sides. */
export function safetyNumber(local: FingerprintParty, remote: FingerprintParty): string {
  return combineDisplay(displayDigits(partyHash(local)), displayDigits(partyHash(remote)));
}

/** 12 blocks of 5 digits separated by spaces, as Signal shows them. */
export function formatSafetyNumber(digits: string): string {
  if (!/^[0-9]{60}$/.test(digits))
    throw new VeilError('invalid-argument', 'a safety number is 60 digits');
  return digits.match(/.{5}/g)!.join(' ');
}

/** Our scannable fingerprint (to show as a QR code): CombinedFingerprints{1, local, remote}. */
export function scannableFingerprint(
  local: FingerprintParty,
  remote: FingerprintParty,
): Uint8Array {
  return encodeCombined(
    SCANNABLE_VERSION,
    partyHash(local).subarray(0, SCANNABLE_LEN),
    partyHash(remote).subarray(0, SCANNABLE_LEN),
  );
}

/** Display string and scannable form together, hashing each party once. */
export function fingerprints(
  local: FingerprintParty,
  remote: FingerprintParty,
): { display: string; scannable: Uint8Array } {
  const l = partyHash(local);
  const r = partyHash(remote);
  return {
    display: combineDisplay(displayDigits(l), displayDigits(r)),
    scannable: encodeCombined(
      SCANNABLE_VERSION,
      l.subarray(0, SCANNABLE_LEN),
      r.subarray(0, SCANNABLE_LEN),
    ),
  };
}

/**
 * Checks a fingerprint scanned from the other device against ours, as libsignal's
 * `ScannableFingerprint::compare`: the scanned one lists the parties the other way round.
 * Different versions → VeilError('unknown-version'); a scan that does not parse or lacks a
 * party → VeilError('malformed'). False when the keys or identifiers differ.
 */
export function compareScannable(ours: Uint8Array, scanned: Uint8Array): boolean {
  const mine = decodeCombined(ours);
  if (mine.version === undefined || !mine.local || !mine.remote)
    throw new VeilError('malformed', 'our scannable fingerprint is incomplete');
  const theirs = decodeCombined(scanned);
  // Signal treats an absent version as 0: it then fails the version check below.
  if ((theirs.version ?? 0) !== mine.version)
    throw new VeilError('unknown-version', 'scanned fingerprint has a different version');
  if (!theirs.local || !theirs.remote)
    throw new VeilError('malformed', 'scanned fingerprint is incomplete');
  // Evaluate both comparisons so timing does not say which half differed.
  const sameLocal = sameBytes(theirs.local, mine.remote);
  const sameRemote = sameBytes(theirs.remote, mine.local);
  return sameLocal && sameRemote;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesEqual(a, b);
}

function partyHash(party: FingerprintParty): Uint8Array {
  if (!(party.identityKey instanceof Uint8Array) || party.identityKey.length !== 32)
    throw new VeilError('invalid-key', 'identity key must be a 32-byte X25519 public key');
  if (typeof party.id !== 'string')
    throw new VeilError('invalid-argument', 'stable identifier must be a string');
  const key = new Uint8Array(33);
  key[0] = DJB_KEY_TYPE;
  key.set(party.identityKey, 1);
  return iteratedFingerprintHash(utf8ToBytes(party.id), key, FINGERPRINT_ITERATIONS);
}

/**
 * @internal libsignal's `get_fingerprint` on raw bytes (exported for known-answer tests):
 * H = SHA-512(0x0000 || key || id || key), then H = SHA-512(H || key) until `iterations` hashes.
 * `serializedKey` is Signal's 33-byte form, 0x05 || X25519 public key.
 */
export function iteratedFingerprintHash(
  stableId: Uint8Array,
  serializedKey: Uint8Array,
  iterations: number,
): Uint8Array {
  // libsignal refuses the same range.
  if (!Number.isInteger(iterations) || iterations <= 1 || iterations > 1_000_000)
    throw new VeilError('invalid-argument', 'fingerprint iterations out of range');
  const first = new Uint8Array(2 + serializedKey.length * 2 + stableId.length);
  first.set(serializedKey, 2); // bytes 0..1 are the 0x0000 fingerprint version
  first.set(stableId, 2 + serializedKey.length);
  first.set(serializedKey, 2 + serializedKey.length + stableId.length);
  let hash = sha512(first);
  // One reusable buffer: H || key, with H overwritten each round.
  const round = new Uint8Array(HASH_LEN + serializedKey.length);
  round.set(serializedKey, HASH_LEN);
  for (let i = 1; i < iterations; i++) {
    round.set(hash, 0);
    hash = sha512(round);
  }
  return hash;
}

/** @internal Six 5-byte big-endian chunks of the hash, each mod 100000, zero-padded. */
export function displayDigits(hash: Uint8Array): string {
  let out = '';
  for (let c = 0; c < 6; c++) {
    let x = 0;
    // 40-bit value: exact in a double; taking the remainder as we go keeps it small anyway.
    for (let i = 0; i < 5; i++) x = (x * 256 + hash[c * 5 + i]!) % 100000;
    out += String(x).padStart(5, '0');
  }
  return out;
}

/** @internal The smaller half first, so both sides get the same string. */
export function combineDisplay(localDigits: string, remoteDigits: string): string {
  return localDigits < remoteDigits ? localDigits + remoteDigits : remoteDigits + localDigits;
}

// --- the CombinedFingerprints protobuf, by hand (libsignal's fingerprint.proto) ---
// message LogicalFingerprint { bytes content = 1; }
// message CombinedFingerprints { uint32 version = 1; LogicalFingerprint local_fingerprint = 2;
//                                LogicalFingerprint remote_fingerprint = 3; }

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_I32 = 5;

/** @internal Encodes CombinedFingerprints with every field present, as prost does. */
export function encodeCombined(version: number, local: Uint8Array, remote: Uint8Array): Uint8Array {
  const out: number[] = [];
  writeVarint(out, (1 << 3) | WIRE_VARINT);
  writeVarint(out, version);
  writeLogical(out, 2, local);
  writeLogical(out, 3, remote);
  return Uint8Array.from(out);
}

function writeLogical(out: number[], field: number, content: Uint8Array): void {
  const inner: number[] = [];
  writeVarint(inner, (1 << 3) | WIRE_LEN);
  writeVarint(inner, content.length);
  for (const b of content) inner.push(b);
  writeVarint(out, (field << 3) | WIRE_LEN);
  writeVarint(out, inner.length);
  for (const b of inner) out.push(b);
}

function writeVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

interface Combined {
  version?: number;
  local?: Uint8Array;
  remote?: Uint8Array;
}

/** @internal Decodes CombinedFingerprints with protobuf rules: unknown fields skipped, last wins. */
export function decodeCombined(bytes: Uint8Array): Combined {
  const result: Combined = {};
  const r = new ProtoReader(bytes);
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) {
      result.version = r.varint32();
    } else if ((field === 2 || field === 3) && wire === WIRE_LEN) {
      // A repeated embedded message merges into the earlier one: content present wins.
      const content = decodeLogical(r.lengthDelimited());
      if (content !== undefined) result[field === 2 ? 'local' : 'remote'] = content;
    } else if (field >= 1 && field <= 3) {
      throw new VeilError('malformed', 'fingerprint field has the wrong wire type');
    } else {
      r.skip(field, wire);
    }
  }
  return result;
}

function decodeLogical(bytes: Uint8Array): Uint8Array | undefined {
  let content: Uint8Array | undefined;
  const r = new ProtoReader(bytes);
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      if (wire !== WIRE_LEN)
        throw new VeilError('malformed', 'fingerprint content has the wrong wire type');
      content = r.lengthDelimited();
    } else {
      r.skip(field, wire);
    }
  }
  return content;
}

// Deep enough for any real message; bounds the work a hostile scan can cause.
const MAX_GROUP_DEPTH = 32;

class ProtoReader {
  private off = 0;
  constructor(private readonly buf: Uint8Array) {}

  done(): boolean {
    return this.off >= this.buf.length;
  }

  tag(): { field: number; wire: number } {
    const { low, fits32 } = this.varint();
    const field = low >>> 3;
    if (!fits32 || field === 0) throw new VeilError('malformed', 'bad protobuf field number');
    return { field, wire: low & 7 };
  }

  /** A uint32 field: protobuf keeps the low 32 bits of the varint. */
  varint32(): number {
    return this.varint().low;
  }

  lengthDelimited(): Uint8Array {
    const { low, fits32 } = this.varint();
    if (!fits32 || low > this.buf.length - this.off)
      throw new VeilError('malformed', 'protobuf field ends early');
    const out = this.buf.subarray(this.off, this.off + low);
    this.off += low;
    return out;
  }

  /** Skips one unknown field whose tag was just read, groups included. */
  skip(field: number, wire: number, depth = 0): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw new VeilError('malformed', 'protobuf nesting too deep');
        for (;;) {
          if (this.done()) throw new VeilError('malformed', 'protobuf group not closed');
          const inner = this.tag();
          if (inner.wire === WIRE_END_GROUP) {
            if (inner.field !== field)
              throw new VeilError('malformed', 'protobuf group mismatched');
            return;
          }
          this.skip(inner.field, inner.wire, depth + 1);
        }
      }
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        // An end-group with no start, or the non-existent wire types 6 and 7.
        throw new VeilError('malformed', 'unexpected protobuf wire type');
    }
  }

  /** Up to 10 bytes: the exact low 32 bits, and whether the value fits in 32 bits at all. */
  private varint(): { low: number; fits32: boolean } {
    let low = 0;
    let fits32 = true;
    for (let i = 0; i < 10; i++) {
      if (this.off >= this.buf.length)
        throw new VeilError('malformed', 'protobuf varint ends early');
      const b = this.buf[this.off++]!;
      if (i === 9 && b > 1) throw new VeilError('malformed', 'protobuf varint overflows 64 bits');
      const bits = b & 0x7f;
      if (i < 4) low += bits * 2 ** (7 * i);
      else if (i === 4) {
        low += (bits & 0x0f) * 2 ** 28; // only 4 of these 7 bits are below 2^32
        if (bits > 0x0f) fits32 = false;
      } else if (bits !== 0) fits32 = false;
      if ((b & 0x80) === 0) return { low, fits32 };
    }
    throw new VeilError('malformed', 'protobuf varint too long');
  }

  private advance(n: number): void {
    if (n > this.buf.length - this.off)
      throw new VeilError('malformed', 'protobuf field ends early');
    this.off += n;
  }
}

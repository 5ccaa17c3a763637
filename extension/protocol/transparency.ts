// Client side of the key directory's transparency log: RFC 9162 Merkle hashing, inclusion and
// consistency proof checks, and signed tree heads as C2SP checkpoints. Pure: @noble only, no
// clock, no I/O; every failure is a VeilError ('bad-proof', 'bad-signature' or 'malformed').
//
// Why: the directory is not trusted for keys (DESIGN.md §2.8). A key it serves must be a leaf
// of a log whose signed head the client checks, and every head the client sees must extend the
// one it remembered, so a directory that swaps a key must either log the swap (where the
// handle's owner and monitors see it) or show a fork (which consistency proofs expose).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, bytesToUtf8, concatBytes, utf8ToBytes } from './bytes';
import { base64Decode, base64Encode, isValidHandle } from './directory-request';
import { VeilError } from './errors';
import { verifyHandleLabel } from './vrf';

export const HASH_SIZE = 32;
/** Longest proof we accept: a tree of 2^53 leaves needs 53 hashes (plus one for consistency). */
export const MAX_PROOF_LENGTH = 64;

/** MTH({}) = SHA-256() = e3b0c442…b855 (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Leaf hash: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(0), data));
}

/** Interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

// --- log entries -------------------------------------------------------------------------------

/**
 * What an entry records: a key change of the handle ('publish', 'rotate', 'delete'), or a new
 * device list signed by its account key ('devices': the 32-byte field is deviceListDigest, see
 * device-list.ts). Only the first three say which key the handle has.
 */
export type LogAction = 'publish' | 'rotate' | 'delete' | 'devices';
export type KeyAction = Exclude<LogAction, 'devices'>;
const ACTION_CODES: Record<LogAction, number> = { publish: 1, rotate: 2, delete: 3, devices: 4 };
const ACTIONS_BY_CODE: (LogAction | undefined)[] = [
  undefined,
  'publish',
  'rotate',
  'delete',
  'devices',
];
const ENTRY_MAGIC = utf8ToBytes('VeilLog1');
const ENTRY_MAGIC_V2 = utf8ToBytes('VeilLog2');

/**
 * One key change, as a client knows it: of `handle`. Times are Unix seconds. An entry logged
 * since the directory labels handles (leaf v2) also has `label`, the handle's VRF label (vrf.ts),
 * and its leaf holds the label, never the handle; without `label` it is a v1 leaf (handle in
 * the clear), as every entry was before.
 */
export interface LogEntry {
  handle: string;
  /** v2 entries: the handle's 32-byte VRF label, checked against the handle by the reader. */
  label?: Uint8Array;
  /**
   * 32-byte Ed25519 identity public key (for 'delete': the key being removed; for 'devices':
   * the device list's digest, not a key).
   */
  identityKey: Uint8Array;
  action: LogAction;
  /** 1 for the handle's first entry, +1 for each later one (also across delete and re-claim). */
  sequence: number;
  timestamp: number;
}

/** A v2 entry as the log lists it to everyone (`GET /v1/log/entries`): the label, no handle. */
export interface LabeledLogEntry {
  label: Uint8Array;
  identityKey: Uint8Array;
  action: LogAction;
  sequence: number;
  timestamp: number;
}

/** What a leaf encodes: a v1 entry (handle) or a v2 one (label). */
export type LeafEntry = LogEntry | LabeledLogEntry;

/**
 * A pre-migration (v1) entry of a deleted handle: its data is erased, its leaf hash is kept so
 * the tree and every proof stay as they were. Readers accept it by that hash.
 */
export interface RedactedLogEntry {
  index: number;
  redacted: true;
  leafHash: Uint8Array;
}

/** One entry as `GET /v1/log/entries` lists it. */
export type ListedLogEntry =
  (LogEntry & { index: number }) | (LabeledLogEntry & { index: number }) | RedactedLogEntry;

function u64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new VeilError('invalid-argument', 'u64 out of range');
  const b = new Uint8Array(8);
  const view = new DataView(b.buffer);
  view.setUint32(0, Math.floor(n / 2 ** 32));
  view.setUint32(4, n >>> 0);
  return b;
}

function entryCode(entry: LeafEntry): number {
  if (entry.identityKey.length !== 32)
    throw new VeilError('invalid-key', 'identity key must be 32 bytes');
  const code = ACTION_CODES[entry.action];
  if (code === undefined) throw new VeilError('invalid-argument', 'unknown log action');
  if (!Number.isSafeInteger(entry.sequence) || entry.sequence < 1)
    throw new VeilError('invalid-argument', 'sequence must be >= 1');
  return code;
}

/**
 * Canonical leaf data. v1 (no label): `"VeilLog1" || u8 action || u8 len || handle ||
 * identityKey(32) || u64 sequence || u64 timestamp`; v2 (with a label): `"VeilLog2" || u8 action
 * || label(32) || identityKey(32) || u64 sequence || u64 timestamp` (big-endian). The magic
 * versions the leaf, so v1 leaves hash exactly as before and old proofs keep verifying. One
 * encoding per entry, so a leaf hash names exactly one (handle or label, key, action, sequence, time).
 */
export function encodeLogEntry(entry: LeafEntry): Uint8Array {
  const code = entryCode(entry);
  if (entry.label !== undefined) {
    if (entry.label.length !== 32)
      throw new VeilError('invalid-argument', 'label must be 32 bytes');
    return concatBytes(
      ENTRY_MAGIC_V2,
      Uint8Array.of(code),
      entry.label,
      entry.identityKey,
      u64(entry.sequence),
      u64(entry.timestamp),
    );
  }
  const { handle } = entry as LogEntry;
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'invalid handle');
  const handleBytes = utf8ToBytes(handle);
  return concatBytes(
    ENTRY_MAGIC,
    Uint8Array.of(code, handleBytes.length),
    handleBytes,
    entry.identityKey,
    u64(entry.sequence),
    u64(entry.timestamp),
  );
}

/** The leaf hash of a listed entry: of its data, or the kept hash of a redacted one. */
export function listedLeafHash(entry: ListedLogEntry): Uint8Array {
  if ('redacted' in entry) {
    if (entry.leafHash.length !== HASH_SIZE) throw badProof('leaf hash of the wrong size');
    return entry.leafHash;
  }
  return leafHash(encodeLogEntry(entry));
}

export function decodeLogEntry(data: Uint8Array): LeafEntry {
  const fail = () => new VeilError('malformed', 'not a log entry');
  if (data.length < ENTRY_MAGIC.length + 2) throw fail();
  const read64 = (view: DataView, off: number) =>
    view.getUint32(off) * 2 ** 32 + view.getUint32(off + 4);
  if (bytesEqual(data.subarray(0, 8), ENTRY_MAGIC_V2)) {
    const action = ACTIONS_BY_CODE[data[8]!];
    if (!action || data.length !== 9 + 32 + 32 + 16) throw fail();
    const view = new DataView(data.buffer, data.byteOffset + 73, 16);
    const entry: LabeledLogEntry = {
      label: data.slice(9, 41),
      identityKey: data.slice(41, 73),
      action,
      sequence: read64(view, 0),
      timestamp: read64(view, 8),
    };
    if (!Number.isSafeInteger(entry.sequence) || !Number.isSafeInteger(entry.timestamp))
      throw fail();
    return entry;
  }
  if (!bytesEqual(data.subarray(0, 8), ENTRY_MAGIC)) throw fail();
  const action = ACTIONS_BY_CODE[data[8]!];
  const handleLength = data[9]!;
  if (!action || data.length !== 10 + handleLength + 32 + 16) throw fail();
  const handle = bytesToUtf8(data.subarray(10, 10 + handleLength));
  if (!isValidHandle(handle)) throw fail();
  const view = new DataView(data.buffer, data.byteOffset + 42 + handleLength, 16);
  const entry: LogEntry = {
    handle,
    identityKey: data.slice(10 + handleLength, 42 + handleLength),
    action,
    sequence: read64(view, 0),
    timestamp: read64(view, 8),
  };
  if (!Number.isSafeInteger(entry.sequence) || !Number.isSafeInteger(entry.timestamp)) throw fail();
  return entry;
}

// --- handle labels (a VRF of the handle under the directory's VRF key) --------------------------

/**
 * What the directory's log key signs to vouch for its VRF key: `"veil-vrf-key/v1\n" || origin ||
 * "\n" || vrfKey`. A client that pinned the log key before the directory had a VRF key pins the
 * VRF key only with this signature (docs/transparency.md, "Re-pinning").
 */
export function vrfKeyMessage(origin: string, vrfKey: Uint8Array): Uint8Array {
  if (vrfKey.length !== 32) throw new VeilError('invalid-key', 'VRF key must be 32 bytes');
  return concatBytes(utf8ToBytes(`veil-vrf-key/v1\n${origin}\n`), vrfKey);
}

/** Throws VeilError('bad-signature') unless the pinned log key signed `vrfKey` for its origin. */
export function verifyVrfKeySignature(
  trust: DirectoryTrust,
  vrfKey: Uint8Array,
  signature: Uint8Array,
): void {
  let ok = false;
  try {
    ok =
      signature.length === 64 &&
      ed25519.verify(signature, vrfKeyMessage(trust.origin, vrfKey), trust.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new VeilError('bad-signature', 'the VRF key is not signed by the directory key');
}

/**
 * The label of `handle` proven by `vrfProof` under the pinned VRF key; VeilError('bad-proof')
 * when no VRF key is pinned or the proof does not verify (another key, another handle, altered).
 */
export function verifiedLabel(
  trust: DirectoryTrust,
  handle: string,
  vrfProof: Uint8Array,
): Uint8Array {
  if (!trust.vrfKey) throw badProof('a labelled entry, but no VRF key is pinned');
  return verifyHandleLabel(trust.vrfKey, handle, vrfProof);
}

/**
 * The entry a lookup proves, with its label when it is a v2 entry: the label comes from the
 * VRF proof (never from the directory's word), so the leaf only matches if the directory logged
 * exactly this handle's label.
 */
export function lookupEntry(lookup: KeyLookup, trust: DirectoryTrust): LogEntry {
  if (!lookup.vrfProof) return lookup.entry;
  return { ...lookup.entry, label: verifiedLabel(trust, lookup.entry.handle, lookup.vrfProof) };
}

// --- proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) ----------------------------------------------------

function badProof(message: string): VeilError {
  return new VeilError('bad-proof', message);
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw badProof(`${what} out of range`);
}

function checkHashes(hashes: readonly Uint8Array[], what: string): void {
  if (hashes.length > MAX_PROOF_LENGTH) throw badProof(`${what} too long`);
  for (const h of hashes)
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
      throw badProof(`${what} holds a hash of the wrong size`);
}

const half = (n: number) => Math.floor(n / 2);
const odd = (n: number) => n % 2 === 1;

/** The root an inclusion proof implies for `leaf` at `index` in a tree of `treeSize` leaves. */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkSize(index, 'index');
  checkSize(treeSize, 'tree size');
  checkHashes([leaf], 'leaf');
  checkHashes(proof, 'inclusion proof');
  if (index >= treeSize) throw badProof('index is outside the tree');
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw badProof('inclusion proof too long');
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw badProof('inclusion proof too short');
  return r;
}

/** Throws VeilError('bad-proof') unless `leaf` is leaf `index` of the tree with `rootHash`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
): void {
  const root = rootFromInclusionProof(leaf, index, treeSize, proof);
  if (!bytesEqual(root, rootHash)) throw badProof('inclusion proof does not match the root');
}

/** Throws VeilError('bad-proof') unless the tree (newSize, newRoot) extends (oldSize, oldRoot). */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  checkSize(oldSize, 'old size');
  checkSize(newSize, 'new size');
  checkHashes([oldRoot, newRoot], 'root');
  checkHashes(proof, 'consistency proof');
  if (oldSize > newSize) throw badProof('old tree is larger than the new one');
  if (oldSize === newSize) {
    if (proof.length !== 0) throw badProof('consistency proof for equal sizes must be empty');
    if (!bytesEqual(oldRoot, newRoot)) throw badProof('same size, different roots');
    return;
  }
  if (oldSize === 0) {
    // Every tree extends the empty one; there is nothing to prove.
    if (proof.length !== 0) throw badProof('consistency proof from the empty tree must be empty');
    if (!bytesEqual(oldRoot, EMPTY_ROOT)) throw badProof('empty tree with a non-empty root');
    return;
  }
  if (proof.length === 0) throw badProof('consistency proof is empty');
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw badProof('consistency proof too long');
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw badProof('consistency proof too short');
  if (!bytesEqual(fr, oldRoot)) throw badProof('consistency proof does not match the old root');
  if (!bytesEqual(sr, newRoot)) throw badProof('consistency proof does not match the new root');
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

// --- signed tree heads: C2SP tlog-checkpoint bodies with a tlog-cosignature/v1 signature -------

/**
 * A signed tree head. `timestamp` is Unix seconds; `signature` is Ed25519 by the directory key
 * over `treeHeadMessage(head)`, i.e. a C2SP tlog-cosignature/v1 by the log itself, so that
 * witnesses can add their own cosignature lines to the same checkpoint.
 */
export interface SignedTreeHead {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  timestamp: number;
  signature: Uint8Array;
}

export type UnsignedTreeHead = Omit<SignedTreeHead, 'signature'>;

/** Where clients learn to trust a directory: its checkpoint origin and Ed25519 public key. */
export interface DirectoryTrust {
  origin: string;
  publicKey: Uint8Array;
  /**
   * The directory's ECVRF key (vrf.ts) for handle labels; absent for a directory from before
   * labels (or pinned before them, until re-pinned).
   */
  vrfKey?: Uint8Array;
}

/** Checkpoint origins: schema-less URL style, no spaces, `+` or control characters. */
export const ORIGIN_PATTERN = /^[\x21-\x2a\x2c-\x7e]{1,255}$/;

/** The checkpoint note text: origin, tree size, base64 root, each ending in a newline. */
export function checkpointBody(origin: string, treeSize: number, rootHash: Uint8Array): string {
  if (!ORIGIN_PATTERN.test(origin)) throw new VeilError('invalid-argument', 'bad log origin');
  if (!Number.isSafeInteger(treeSize) || treeSize < 0)
    throw new VeilError('invalid-argument', 'bad tree size');
  if (rootHash.length !== HASH_SIZE) throw new VeilError('invalid-argument', 'bad root hash');
  return `${origin}\n${treeSize}\n${base64Encode(rootHash)}\n`;
}

/** What the log key signs: `"cosignature/v1\ntime <t>\n"` followed by the checkpoint body. */
export function treeHeadMessage(head: UnsignedTreeHead): Uint8Array {
  if (!Number.isSafeInteger(head.timestamp) || head.timestamp < 0)
    throw new VeilError('invalid-argument', 'bad timestamp');
  return utf8ToBytes(
    `cosignature/v1\ntime ${head.timestamp}\n` +
      checkpointBody(head.origin, head.treeSize, head.rootHash),
  );
}

/** Signed-note key ID for a tlog-cosignature/v1 key: SHA-256(name || "\n" || 0x04 || key)[:4]. */
export function checkpointKeyId(origin: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8ToBytes(`${origin}\n`), Uint8Array.of(0x04), publicKey)).slice(
    0,
    4,
  );
}

/** Signs a tree head (the directory does this; tests use it to play a directory). */
export function signTreeHead(head: UnsignedTreeHead, secretKey: Uint8Array): SignedTreeHead {
  return { ...head, signature: ed25519.sign(treeHeadMessage(head), secretKey) };
}

/** Throws unless `head` is signed by the trusted directory key for the trusted origin. */
export function verifySignedTreeHead(head: SignedTreeHead, trust: DirectoryTrust): void {
  if (head.origin !== trust.origin)
    throw new VeilError('bad-signature', 'tree head from another log');
  if (head.rootHash.length !== HASH_SIZE) throw badProof('root hash has the wrong size');
  if (head.signature.length !== 64) throw new VeilError('bad-signature', 'bad tree head signature');
  let ok = false;
  try {
    ok = ed25519.verify(head.signature, treeHeadMessage(head), trust.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new VeilError('bad-signature', 'tree head signature does not verify');
}

/** The full signed checkpoint text a witness consumes (body, blank line, signature line). */
export function formatCheckpoint(head: SignedTreeHead, publicKey: Uint8Array): string {
  const sig = concatBytes(
    checkpointKeyId(head.origin, publicKey),
    u64(head.timestamp),
    head.signature,
  );
  return `${checkpointBody(head.origin, head.treeSize, head.rootHash)}\n— ${head.origin} ${base64Encode(sig)}\n`;
}

/**
 * Parses a signed checkpoint and verifies the log's own signature line; other lines (witness
 * cosignatures) are ignored, as signed notes require for unknown keys.
 */
export function parseCheckpoint(text: string, trust: DirectoryTrust): SignedTreeHead {
  const malformed = () => new VeilError('malformed', 'not a signed checkpoint');
  if (text.length > 64 * 1024 || !text.endsWith('\n')) throw malformed();
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw malformed();
  const body = text.slice(0, split + 1);
  const lines = body.split('\n');
  if (lines.length < 4) throw malformed();
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) throw malformed();
  const treeSize = Number(sizeText);
  let rootHash: Uint8Array;
  try {
    rootHash = base64Decode(rootText);
  } catch {
    throw malformed();
  }
  if (rootHash.length !== HASH_SIZE || !Number.isSafeInteger(treeSize)) throw malformed();
  const keyId = checkpointKeyId(trust.origin, trust.publicKey);
  for (const line of text.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw malformed();
    if (m[1] !== trust.origin) continue;
    let raw: Uint8Array;
    try {
      raw = base64Decode(m[2]!);
    } catch {
      throw malformed();
    }
    if (raw.length !== 4 + 8 + 64 || !bytesEqual(raw.subarray(0, 4), keyId)) continue;
    const view = new DataView(raw.buffer, raw.byteOffset + 4, 8);
    const timestamp = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    const head: SignedTreeHead = {
      origin,
      treeSize,
      rootHash,
      timestamp,
      signature: raw.slice(12),
    };
    verifySignedTreeHead(head, trust);
    return head;
  }
  throw new VeilError('bad-signature', 'checkpoint carries no signature by the directory key');
}

// --- what a client checks ---------------------------------------------------------------------

/** A directory answer about one handle: the entry it claims is current, and the proof. */
export interface KeyLookup {
  /** The entry as the client rebuilds it (its handle; a v2 entry's label comes from vrfProof). */
  entry: LogEntry;
  /** Present when the entry is a v2 one: the VRF proof of the handle's label. */
  vrfProof?: Uint8Array;
  index: number;
  inclusionProof: readonly Uint8Array[];
  head: SignedTreeHead;
}

/**
 * Checks that the key a directory served is in its log under a head signed by the directory
 * key. Throws VeilError otherwise. The caller must also check `head` against the head it
 * remembers (`verifyHeadUpdate`) and pass the highest `sequence` it has seen for this handle
 * as `minSequence`, so an older (rotated-away) entry is refused.
 */
export function verifyKeyLookup(lookup: KeyLookup, trust: DirectoryTrust, minSequence = 1): void {
  verifySignedTreeHead(lookup.head, trust);
  if (lookup.entry.action === 'delete') throw badProof('the log entry deletes this key');
  if (lookup.entry.action === 'devices') throw badProof('the log entry is no key');
  if (lookup.entry.sequence < minSequence)
    throw badProof('the directory served an older entry than one seen before');
  const leaf = leafHash(encodeLogEntry(lookupEntry(lookup, trust)));
  verifyInclusion(
    leaf,
    lookup.index,
    lookup.head.treeSize,
    lookup.inclusionProof,
    lookup.head.rootHash,
  );
}

/**
 * Checks that a device list a directory served is logged: `lookup.entry` is the 'devices' entry
 * rebuilt with the digest of the list as served (so the proof covers that very list), under a
 * head signed by the directory key. The caller checks the list's signature (device-list.ts) and
 * the head against the one it remembers.
 */
export function verifyDeviceListEntry(lookup: KeyLookup, trust: DirectoryTrust): void {
  verifySignedTreeHead(lookup.head, trust);
  if (lookup.entry.action !== 'devices') throw badProof('the log entry is no device list');
  verifyInclusion(
    leafHash(encodeLogEntry(lookupEntry(lookup, trust))),
    lookup.index,
    lookup.head.treeSize,
    lookup.inclusionProof,
    lookup.head.rootHash,
  );
}

/**
 * Checks a newly seen head against the remembered one and returns the head to remember (the
 * larger). `consistencyProof` runs from the smaller tree to the larger. A fork, a rollback that
 * is not a prefix, or two roots for one size all throw VeilError('bad-proof').
 */
export function verifyHeadUpdate(
  remembered: SignedTreeHead | undefined,
  next: SignedTreeHead,
  consistencyProof: readonly Uint8Array[],
  trust: DirectoryTrust,
): SignedTreeHead {
  verifySignedTreeHead(next, trust);
  if (!remembered) return next;
  const [older, newer] =
    next.treeSize >= remembered.treeSize ? [remembered, next] : [next, remembered];
  verifyConsistency(
    older.treeSize,
    newer.treeSize,
    older.rootHash,
    newer.rootHash,
    consistencyProof,
  );
  return newer;
}

// --- compact ranges: following the whole log with O(log n) state ------------------------------

/**
 * The hashes of the complete subtrees covering leaves [0, size), largest first: one per set
 * bit of `size`. Enough to append leaves and compute every later root, so a monitor can check
 * that the entries a directory lists are exactly the leaves of its signed tree (an omitted or
 * altered entry changes the root) while remembering only ~log2(n) hashes.
 */
export interface CompactRange {
  size: number;
  hashes: readonly Uint8Array[];
}

/** How many subtrees cover [0, size): the number of set bits of `size`. */
export function compactRangeLength(size: number): number {
  checkSize(size, 'range size');
  let bits = 0;
  for (let s = size; s > 0; s = half(s)) if (odd(s)) bits++;
  return bits;
}

/** The range of the empty tree. */
export const EMPTY_COMPACT_RANGE: CompactRange = Object.freeze({ size: 0, hashes: [] });

/**
 * A range from a size and the hashes a directory served for it (not yet trusted: its root is
 * checked against a signed head by the caller). Throws VeilError('bad-proof') on a wrong count.
 */
export function compactRange(size: number, hashes: readonly Uint8Array[]): CompactRange {
  if (hashes.length !== compactRangeLength(size))
    throw badProof('compact range has the wrong number of hashes');
  for (const h of hashes)
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
      throw badProof('compact range holds a hash of the wrong size');
  return { size, hashes: [...hashes] };
}

/**
 * Appends leaf hashes (in log order) and returns the new range; `range` is not changed. Each
 * leaf merges with the equal-sized subtrees at the right edge, once per trailing 1-bit of the
 * size, exactly as the directory's Merkle frontier does.
 */
export function compactRangeAppend(
  range: CompactRange,
  leaves: readonly Uint8Array[],
): CompactRange {
  const hashes = [...range.hashes];
  let size = range.size;
  for (const leaf of leaves) {
    if (leaf.length !== HASH_SIZE) throw new VeilError('invalid-argument', 'leaf hash size');
    let right = leaf;
    for (let s = size; odd(s); s = half(s)) right = nodeHash(hashes.pop()!, right);
    hashes.push(right);
    size++;
  }
  return { size, hashes };
}

/** The Merkle tree hash of leaves [0, size): the cover folded from the right (RFC 9162). */
export function compactRangeRoot(range: CompactRange): Uint8Array {
  const h = range.hashes;
  if (h.length === 0) return EMPTY_ROOT;
  let root = h[h.length - 1]!;
  for (let i = h.length - 2; i >= 0; i--) root = nodeHash(h[i]!, root);
  return root;
}

// --- a handle's history -----------------------------------------------------------------------

/** A log entry with its position in the log. */
export interface IndexedLogEntry extends LogEntry {
  index: number;
}

/**
 * Where an Ed25519 key stands in a handle's logged history (entries of that one handle):
 * 'current' — the latest entry publishes or rotates to this key; 'earlier' — an earlier
 * publish or rotate named it, and a later entry replaced or deleted it; 'never' — no publish
 * or rotate of the handle names it. A sender check accepts 'current' for new contacts and
 * 'earlier' only to read what the key sealed before the change.
 */
export type KeyStanding = 'current' | 'earlier' | 'never';

export function keyStanding(entries: readonly LogEntry[], key: Uint8Array): KeyStanding {
  let latest: LogEntry | undefined;
  let named = false;
  for (const e of entries) {
    // A device list says nothing of the handle's key (its 32 bytes are a digest).
    if (e.action === 'devices') continue;
    if (!latest || e.sequence > latest.sequence) latest = e;
    if (e.action !== 'delete' && bytesEqual(e.identityKey, key)) named = true;
  }
  if (!named) return 'never';
  return latest!.action !== 'delete' && bytesEqual(latest!.identityKey, key)
    ? 'current'
    : 'earlier';
}

// --- the directory key, for comparing out of band -----------------------------------------------

/**
 * A short text naming a directory's log key, shown by the extension (Settings) and by the
 * directory's own page so a person can compare the two: the checkpoint key ID (binds origin
 * and key) and the first 128 bits of SHA-256 of the key, in hex groups of four.
 * Example: `3f2a9c1e · 8d41 07be 55c2 a913 e0f4 6b2d 1c88 7a05`.
 */
export function directoryKeyFingerprint(origin: string, publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new VeilError('invalid-key', 'directory key must be 32 bytes');
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const digest = hex(sha256(publicKey).subarray(0, 16));
  return `${hex(checkpointKeyId(origin, publicKey))} · ${digest.replace(/(.{4})(?=.)/g, '$1 ')}`;
}

// The key directory's wire conventions, shared by the extension (client) and key-directory/
// (server): base64 codecs, handle syntax, the canonical string a signed request covers, and the
// signed-prekey message. Pure: @noble only; the caller supplies the time and the nonce.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { utf8ToBytes } from './bytes';
import { fromBase64Url, toBase64Url } from './encoding';
import { VeilError } from './errors';
import { deviceListDigest, deviceListFromJson, type SignedDeviceList } from './device-list';
import { isValidHandle } from './identity';
import type {
  IndexedLogEntry,
  KeyLookup,
  LabeledLogEntry,
  ListedLogEntry,
  LogAction,
  RedactedLogEntry,
  SignedTreeHead,
} from './transparency';

export { isValidHandle, signedPrekeyMessage } from './identity';

/** The resource path a request for `handle` is signed over (never the raw request URL). */
export function identityPath(handle: string): string {
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'invalid handle');
  return `/v1/identities/${handle}`;
}

/** Header names of a signed directory request. */
export const SIGNATURE_HEADERS = {
  timestamp: 'x-veil-timestamp', // Unix time in seconds, decimal
  nonce: 'x-veil-nonce', // 16–64 base64url characters, fresh per request
  signature: 'x-veil-signature', // Ed25519 by the current identity key (or, on first publish, the key in the body)
  newKeySignature: 'x-veil-new-key-signature', // rotation only: the same string signed by the new identity key
} as const;

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export interface RequestToSign {
  method: string;
  /** `identityPath(handle)` */
  path: string;
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  /** Exact request body bytes (empty for DELETE). */
  body: Uint8Array;
}

/**
 * `"VeilDir1\n" || method || "\n" || path || "\n" || timestamp || "\n" || nonce || "\n" ||
 * hex(SHA-256(body))`: binds the signature to the handle, the exact body and a one-time nonce.
 */
export function canonicalRequest(req: RequestToSign): Uint8Array {
  if (!/^[A-Z]+$/.test(req.method)) throw new VeilError('invalid-argument', 'bad method');
  if (!Number.isSafeInteger(req.timestamp) || req.timestamp < 0)
    throw new VeilError('invalid-argument', 'bad timestamp');
  if (!NONCE_PATTERN.test(req.nonce)) throw new VeilError('invalid-argument', 'bad nonce');
  if (!/^\/[\x21-\x7e]*$/.test(req.path)) throw new VeilError('invalid-argument', 'bad path');
  const text = [
    'VeilDir1',
    req.method,
    req.path,
    String(req.timestamp),
    req.nonce,
    bytesToHex(sha256(req.body)),
  ].join('\n');
  return utf8ToBytes(text);
}

export interface SignRequestInput extends RequestToSign {
  /** 32-byte Ed25519 seed of the identity that currently owns the handle (or claims it). */
  identitySecretKey: Uint8Array;
  /** Rotation only: the seed of the new identity key named in the body. */
  newIdentitySecretKey?: Uint8Array;
}

/** Builds the signature headers for a directory write (`PUT` or `DELETE`). */
export function signDirectoryRequest(input: SignRequestInput): Record<string, string> {
  const message = canonicalRequest(input);
  const headers: Record<string, string> = {
    [SIGNATURE_HEADERS.timestamp]: String(input.timestamp),
    [SIGNATURE_HEADERS.nonce]: input.nonce,
    [SIGNATURE_HEADERS.signature]: base64UrlEncode(ed25519.sign(message, input.identitySecretKey)),
  };
  if (input.newIdentitySecretKey)
    headers[SIGNATURE_HEADERS.newKeySignature] = base64UrlEncode(
      ed25519.sign(message, input.newIdentitySecretKey),
    );
  return headers;
}

/** Nonce text from 16+ random bytes the caller drew. */
export function nonceFromBytes(random: Uint8Array): string {
  if (random.length < 12) throw new VeilError('invalid-argument', 'nonce needs 12+ random bytes');
  return base64UrlEncode(random);
}

// --- decoding directory answers (untrusted JSON) into what transparency.ts verifies ---------

function malformed(what: string): VeilError {
  return new VeilError('malformed', `directory answer: ${what}`);
}

function field<T>(obj: unknown, key: string, check: (v: unknown) => v is T, what: string): T {
  if (typeof obj !== 'object' || obj === null) throw malformed('not an object');
  const v = (obj as Record<string, unknown>)[key];
  if (!check(v)) throw malformed(`${key} must be ${what}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length <= 4096;
const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null;
const isAction = (v: unknown): v is LogAction =>
  v === 'publish' || v === 'rotate' || v === 'delete' || v === 'devices';

function bytesField(obj: unknown, key: string, length?: number): Uint8Array {
  const text = field(obj, key, isString, 'a base64url string');
  let out: Uint8Array;
  try {
    out = base64UrlDecode(text);
  } catch {
    throw malformed(`${key} must be base64url`);
  }
  if (length !== undefined && out.length !== length)
    throw malformed(`${key} must be ${length} bytes`);
  return out;
}

function hashList(obj: unknown, key: string): Uint8Array[] {
  const list = field(
    obj,
    key,
    (v): v is unknown[] => Array.isArray(v) && v.length <= 64,
    'a list of hashes',
  );
  return list.map((h) => {
    if (!isString(h)) throw malformed(`${key} must hold strings`);
    const b = (() => {
      try {
        return base64UrlDecode(h);
      } catch {
        throw malformed(`${key} must hold base64url`);
      }
    })();
    if (b.length !== 32) throw malformed(`${key} must hold 32-byte hashes`);
    return b;
  });
}

/** A signed tree head as the directory's JSON carries it (not yet verified). */
export function decodeTreeHead(json: unknown): SignedTreeHead {
  return {
    origin: field(json, 'origin', isString, 'a string'),
    treeSize: field(json, 'treeSize', isCount, 'a count'),
    rootHash: bytesField(json, 'rootHash', 32),
    timestamp: field(json, 'timestamp', isCount, 'Unix seconds'),
    signature: bytesField(json, 'signature', 64),
  };
}

export interface DecodedIdentity {
  handle: string;
  identityKey: Uint8Array;
  fingerprint: string;
  safetyNumberHalf: string;
  /** Pass to `verifyKeyLookup` with the directory's trust anchor. */
  lookup: KeyLookup;
}

/** Decodes `GET /v1/identities/{handle}` (or a bundle) for `expectedHandle`. */
export function decodeIdentityLookup(json: unknown, expectedHandle: string): DecodedIdentity {
  const handle = field(json, 'handle', isString, 'a string');
  if (handle !== expectedHandle) throw malformed('answer is for another handle');
  const identityKey = bytesField(json, 'identityKey', 32);
  const logEntry = field(
    json,
    'logEntry',
    (v): v is object => typeof v === 'object' && v !== null,
    'an object',
  );
  const action = field(
    logEntry,
    'action',
    (v): v is LogAction => v === 'publish' || v === 'rotate' || v === 'delete',
    'a log action',
  );
  return {
    handle,
    identityKey,
    fingerprint: field(json, 'fingerprint', isString, 'a string'),
    safetyNumberHalf: field(json, 'safetyNumberHalf', isString, 'a string'),
    lookup: {
      entry: {
        handle,
        identityKey,
        action,
        sequence: field(logEntry, 'sequence', isCount, 'a count'),
        timestamp: field(logEntry, 'timestamp', isCount, 'Unix seconds'),
      },
      ...labelProof(json, (logEntry as { version?: unknown }).version),
      index: field(json, 'logIndex', isCount, 'a count'),
      inclusionProof: hashList(json, 'inclusionProof'),
      head: decodeTreeHead(
        field(json, 'head', (v): v is object => typeof v === 'object', 'an object'),
      ),
    },
  };
}

/**
 * A v2 entry's VRF proof (`vrfProof`, 80 bytes) when `version` says 2; nothing for a v1 entry
 * (version absent or 1). The label itself is never read from the answer: the client computes it
 * from the proof (transparency.ts lookupEntry).
 */
function labelProof(json: unknown, version: unknown): { vrfProof?: Uint8Array } {
  if (version === undefined || version === 1) return {};
  if (version !== 2) throw malformed('unknown log entry version');
  return { vrfProof: bytesField(json, 'vrfProof', 80) };
}

export interface DecodedDeviceList {
  list: SignedDeviceList;
  /** The 'devices' entry rebuilt with the digest of the list as served: pass to verifyDeviceListEntry. */
  lookup: KeyLookup;
}

/** Decodes `GET /v1/identities/{handle}/devices` for `expectedHandle`. */
export function decodeDeviceListLookup(json: unknown, expectedHandle: string): DecodedDeviceList {
  const list = deviceListFromJson(field(json, 'deviceList', isObject, 'an object'));
  if (list.handle !== expectedHandle) throw malformed('answer is for another handle');
  return {
    list,
    lookup: {
      entry: {
        handle: list.handle,
        identityKey: deviceListDigest(list),
        action: 'devices',
        sequence: field(json, 'sequence', isCount, 'a count'),
        timestamp: field(json, 'timestamp', isCount, 'Unix seconds'),
      },
      ...labelProof(json, (json as { entryVersion?: unknown }).entryVersion),
      index: field(json, 'logIndex', isCount, 'a count'),
      inclusionProof: hashList(json, 'proof'),
      head: decodeTreeHead(field(json, 'head', isObject, 'an object')),
    },
  };
}

/** Decodes the `proof` list of `GET /v1/log/consistency`. */
export function decodeConsistencyProof(json: unknown): Uint8Array[] {
  return hashList(json, 'proof');
}

/**
 * Decodes one entry as the log routes list it: v1 `{ index, handle, identityKey, action, … }`,
 * v2 `{ index, version: 2, label, identityKey, action, … }` or redacted
 * `{ index, redacted: true, leafHash }`.
 */
export function decodeLogEntryJson(json: unknown): ListedLogEntry {
  const index = field(json, 'index', isCount, 'a count');
  const record = json as { redacted?: unknown; version?: unknown };
  if (record.redacted !== undefined) {
    if (record.redacted !== true) throw malformed('redacted must be true');
    return { index, redacted: true, leafHash: bytesField(json, 'leafHash', 32) };
  }
  const rest = {
    identityKey: bytesField(json, 'identityKey', 32),
    action: field(json, 'action', isAction, 'a log action'),
    sequence: field(json, 'sequence', isCount, 'a count'),
    timestamp: field(json, 'timestamp', isCount, 'Unix seconds'),
  };
  if (record.version === 2) return { index, label: bytesField(json, 'label', 32), ...rest };
  if (record.version !== undefined && record.version !== 1)
    throw malformed('unknown log entry version');
  return { index, handle: field(json, 'handle', isString, 'a string'), ...rest };
}

/** Longest list of entries accepted in one answer (the directory sends at most 1000). */
export const MAX_ENTRIES_PER_ANSWER = 1000;

const isList = (v: unknown): v is unknown[] =>
  Array.isArray(v) && v.length <= MAX_ENTRIES_PER_ANSWER;

/** Decodes `GET /v1/log/entries` (raw entries, for monitors). */
export function decodeLogEntries(json: unknown): ListedLogEntry[] {
  return field(json, 'entries', isList, 'a list of entries').map(decodeLogEntryJson);
}

/**
 * An entry of a handle's history: its own (v1 with the handle, v2 with the label as served,
 * still to be checked against the page's VRF proof), or a redacted pre-migration one, which
 * keeps its sequence so the history has no gap.
 */
export type HistoryEntry = IndexedLogEntry | (RedactedLogEntry & { sequence: number });

/** One page of `GET /v1/identities/{handle}/history` (not yet verified). */
export interface HistoryPage {
  head: SignedTreeHead;
  entries: { entry: HistoryEntry; inclusionProof: Uint8Array[] }[];
  /** More entries follow: ask again with `?after=` the last sequence. */
  more: boolean;
  /** The VRF proof of the handle's label (directories that label handles). */
  vrfProof?: Uint8Array;
}

/** Decodes a history page for `expectedHandle`; every entry must be that handle's. */
export function decodeHistoryPage(json: unknown, expectedHandle: string): HistoryPage {
  if (field(json, 'handle', isString, 'a string') !== expectedHandle)
    throw malformed('answer is for another handle');
  const entries = field(json, 'entries', isList, 'a list of entries').map((item) => {
    const raw = field(item, 'entry', isObject, 'an object');
    const listed = decodeLogEntryJson(raw);
    let entry: HistoryEntry;
    if ('redacted' in listed)
      entry = { ...listed, sequence: field(raw, 'sequence', isCount, 'a count') };
    else if ('handle' in listed) {
      if (listed.handle !== expectedHandle) throw malformed('entry is for another handle');
      entry = listed;
    } else entry = { ...(listed as LabeledLogEntry & { index: number }), handle: expectedHandle };
    if (field(item, 'index', isCount, 'a count') !== entry.index)
      throw malformed('entry index differs');
    return { entry, inclusionProof: hashList(item, 'inclusionProof') };
  });
  const proof = (json as { vrfProof?: unknown }).vrfProof;
  return {
    head: decodeTreeHead(field(json, 'head', isObject, 'an object')),
    entries,
    more: field(json, 'more', (v): v is boolean => typeof v === 'boolean', 'a boolean'),
    ...(proof === undefined ? {} : { vrfProof: bytesField(json, 'vrfProof', 80) }),
  };
}

/** Decodes `GET /v1/log/compact-range?size=` (hashes not yet checked against a root). */
export function decodeCompactRange(json: unknown): { size: number; hashes: Uint8Array[] } {
  return { size: field(json, 'size', isCount, 'a count'), hashes: hashList(json, 'hashes') };
}

// --- base64: url-safe (the JSON wire forms, shared with identity.ts) and standard (checkpoints) --

/** Unpadded base64url, as every byte field of the directory's JSON. */
export const base64UrlEncode = toBase64Url;
/** Strict unpadded base64url; VeilError('malformed') for any non-canonical spelling. */
export const base64UrlDecode = fromBase64Url;

const STD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const STD_DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < STD_ALPHABET.length; i++) STD_DECODE[STD_ALPHABET.charCodeAt(i)] = i;

/** Standard padded base64 (RFC 4648 §4), as C2SP checkpoints and signed notes use. */
export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      STD_ALPHABET[n >> 18]! +
      STD_ALPHABET[(n >> 12) & 63]! +
      STD_ALPHABET[(n >> 6) & 63]! +
      STD_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += STD_ALPHABET[n >> 18]! + STD_ALPHABET[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out +=
      STD_ALPHABET[n >> 18]! + STD_ALPHABET[(n >> 12) & 63]! + STD_ALPHABET[(n >> 6) & 63]! + '=';
  }
  return out;
}

/** Strict standard base64: padded, canonical (unused bits zero), else VeilError('malformed'). */
export function base64Decode(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new VeilError('malformed', 'bad base64 length');
  const s = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? STD_DECODE[c]! : -1;
    if (v < 0) throw new VeilError('malformed', 'bad base64 character');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) throw new VeilError('malformed', 'non-canonical base64');
  return out;
}

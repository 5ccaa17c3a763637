// Record sealing for the passphrase lock (background only): a secret table's value is stored as
// XChaCha20-Poly1305 of its serialised form under the data key, bound to its table and key so a
// sealed record cannot be moved to another slot. Where the key itself says something (a handle,
// an envelope's hash) the record is stored under a keyed hash of it (recordName) and the key is
// sealed with the value (version 2).
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { concatBytes, utf8ToBytes } from '../protocol/bytes';
import { VeilError } from '../protocol/errors';
import { decodeValue, encodeValue } from '../protocol/serialize';

const NONCE_LENGTH = 24;

/** What a sealed record looks like in IndexedDB. Protocol records never have `veilSealed`. */
export interface SealedValue {
  /** 1: the value; 2: [key, value], stored under recordName(key). */
  veilSealed: 1 | 2;
  /** nonce (24) || ciphertext || tag (16) */
  box: Uint8Array;
}

export function isSealed(value: unknown): value is SealedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as { veilSealed?: unknown }).veilSealed === 1 ||
      (value as { veilSealed?: unknown }).veilSealed === 2) &&
    (value as { box?: unknown }).box instanceof Uint8Array
  );
}

/** Binds a box to its slot, and to its version (a v2 box holds [key, value]). */
function recordAad(table: string, key: string, version: 1 | 2 = 1): Uint8Array {
  return utf8ToBytes(`veil-record/v${version}\n${table}\n${key}`);
}

export function sealValue(
  dataKey: Uint8Array,
  table: string,
  key: string,
  value: unknown,
  version: 1 | 2 = 1,
): SealedValue {
  const nonce = randomBytes(NONCE_LENGTH);
  const plain = encodeValue(value);
  const sealed = xchacha20poly1305(dataKey, nonce, recordAad(table, key, version)).encrypt(plain);
  plain.fill(0);
  return { veilSealed: version, box: concatBytes(nonce, sealed) };
}

const namesKeys = new WeakMap<Uint8Array, Uint8Array>();

/**
 * The name a record of `table` with `key` is stored under: `#` and 32 hex digits of an HMAC under
 * a key derived from the data key. Opaque without the data key; the same for the same key.
 */
export function recordName(dataKey: Uint8Array, table: string, key: string): string {
  let namesKey = namesKeys.get(dataKey);
  if (!namesKey) {
    namesKey = hkdf(sha256, dataKey, undefined, utf8ToBytes('veil-record-names/v1'), 32);
    namesKeys.set(dataKey, namesKey);
  }
  const mac = hmac(sha256, namesKey, utf8ToBytes(`${table}\u0000${key}`));
  return `#${bytesToHex(mac.subarray(0, 16))}`;
}

/** Seals `value` and its `key` together, for storing under `name` (recordName). */
export function sealNamed(
  dataKey: Uint8Array,
  table: string,
  name: string,
  key: string,
  value: unknown,
): SealedValue {
  return sealValue(dataKey, table, name, [key, value], 2);
}

/**
 * Opens a record stored under `stored`: its own key (a version-2 record's sealed one, else
 * `stored`) and its value.
 */
export function openRecord(
  dataKey: Uint8Array,
  table: string,
  stored: string,
  sealed: SealedValue,
): { key: string; value: unknown } {
  const opened = openBox(dataKey, table, stored, sealed);
  if (sealed.veilSealed === 1) return { key: stored, value: opened };
  if (!Array.isArray(opened) || opened.length !== 2 || typeof opened[0] !== 'string')
    throw new VeilError('bad-mac', 'a stored record is damaged');
  return { key: opened[0], value: opened[1] as unknown };
}

/** Opens a sealed record; a wrong key, a moved or altered record → VeilError('bad-mac'). */
export function openValue(
  dataKey: Uint8Array,
  table: string,
  key: string,
  sealed: SealedValue,
): unknown {
  return openRecord(dataKey, table, key, sealed).value;
}

function openBox(dataKey: Uint8Array, table: string, key: string, sealed: SealedValue): unknown {
  const box = sealed.box;
  if (box.length < NONCE_LENGTH + 16) throw new VeilError('bad-mac', 'a stored record is damaged');
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(
      dataKey,
      box.subarray(0, NONCE_LENGTH),
      recordAad(table, key, sealed.veilSealed),
    ).decrypt(box.subarray(NONCE_LENGTH));
  } catch {
    throw new VeilError('bad-mac', 'a stored record does not open with the data key');
  }
  const value = decodeValue(plain);
  plain.fill(0);
  return value;
}

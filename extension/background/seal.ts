// Record sealing for the passphrase lock (background only): a secret table's value is stored as
// XChaCha20-Poly1305 of its serialised form under the data key, bound to its table and key so a
// sealed record cannot be moved to another slot.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concatBytes, utf8ToBytes } from '../protocol/bytes';
import { VeilError } from '../protocol/errors';
import { decodeValue, encodeValue } from '../protocol/serialize';

const NONCE_LENGTH = 24;

/** What a sealed record looks like in IndexedDB. Protocol records never have `veilSealed`. */
export interface SealedValue {
  veilSealed: 1;
  /** nonce (24) || ciphertext || tag (16) */
  box: Uint8Array;
}

export function isSealed(value: unknown): value is SealedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { veilSealed?: unknown }).veilSealed === 1 &&
    (value as { box?: unknown }).box instanceof Uint8Array
  );
}

function recordAad(table: string, key: string): Uint8Array {
  return utf8ToBytes(`veil-record/v1\n${table}\n${key}`);
}

export function sealValue(
  dataKey: Uint8Array,
  table: string,
  key: string,
  value: unknown,
): SealedValue {
  const nonce = randomBytes(NONCE_LENGTH);
  const plain = encodeValue(value);
  const sealed = xchacha20poly1305(dataKey, nonce, recordAad(table, key)).encrypt(plain);
  plain.fill(0);
  return { veilSealed: 1, box: concatBytes(nonce, sealed) };
}

/** Opens a sealed record; a wrong key, a moved or altered record → VeilError('bad-mac'). */
export function openValue(
  dataKey: Uint8Array,
  table: string,
  key: string,
  sealed: SealedValue,
): unknown {
  const box = sealed.box;
  if (box.length < NONCE_LENGTH + 16) throw new VeilError('bad-mac', 'a stored record is damaged');
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(
      dataKey,
      box.subarray(0, NONCE_LENGTH),
      recordAad(table, key),
    ).decrypt(box.subarray(NONCE_LENGTH));
  } catch {
    throw new VeilError('bad-mac', 'a stored record does not open with the data key');
  }
  const value = decodeValue(plain);
  plain.fill(0);
  return value;
}

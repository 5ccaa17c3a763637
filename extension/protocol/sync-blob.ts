// The sync blob as the directory stores it (docs/devices.md "Sync"): the sealed state
// (sync-state.ts) followed by the writing device's Ed25519 signature over it. Pure.
//
// Why a signature on top of the AEAD: every device of the account holds the sync key, and so
// does a device after it was unlinked. The box alone cannot tell a listed device's blob from one
// an unlinked browser wrote (with a hostile or careless directory storing it); the signature
// under the device key that the header's device id names, checked against the account's current
// device list, can.
//
// `sealed || signature(64)`, the signature over `"VeilSyncSig1\0" || u8 len || handle || sealed`.
import { ed25519 } from '@noble/curves/ed25519.js';
import { ByteWriter, utf8ToBytes } from './bytes';
import { VeilError } from './errors';
import { isValidHandle } from './identity';

const LABEL = utf8ToBytes('VeilSyncSig1\u0000');
export const SYNC_SIGNATURE_LENGTH = 64;

/** The bytes a device signs for `sealed` under `handle`. */
export function syncBlobMessage(handle: string, sealed: Uint8Array): Uint8Array {
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'not a valid handle');
  const h = utf8ToBytes(handle);
  return new ByteWriter().bytes(LABEL).u8(h.length).bytes(h).bytes(sealed).finish();
}

/** `sealed || signature`: what goes to the directory. */
export function joinSyncBlob(sealed: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== SYNC_SIGNATURE_LENGTH)
    throw new VeilError('invalid-argument', 'a signature is 64 bytes');
  const out = new Uint8Array(sealed.length + SYNC_SIGNATURE_LENGTH);
  out.set(sealed);
  out.set(signature, sealed.length);
  return out;
}

/** Splits a stored blob; 'truncated' when it cannot hold a signature. */
export function splitSyncBlob(blob: Uint8Array): { sealed: Uint8Array; signature: Uint8Array } {
  if (!(blob instanceof Uint8Array) || blob.length <= SYNC_SIGNATURE_LENGTH)
    throw new VeilError('truncated', 'the sync blob ends early');
  const cut = blob.length - SYNC_SIGNATURE_LENGTH;
  return { sealed: blob.subarray(0, cut), signature: blob.subarray(cut) };
}

/**
 * Checks the writer's signature under `deviceKey` (the key the account's checked device list
 * names for the header's device id). 'bad-signature' otherwise.
 */
export function verifySyncBlob(
  handle: string,
  sealed: Uint8Array,
  signature: Uint8Array,
  deviceKey: Uint8Array,
): void {
  let ok = false;
  try {
    ok = ed25519.verify(signature, syncBlobMessage(handle, sealed), deviceKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new VeilError('bad-signature', 'the sync blob is not signed by a listed device');
}

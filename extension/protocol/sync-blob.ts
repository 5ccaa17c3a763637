// The sync blob as the directory stores it (docs/devices.md "Sync"): the sync key wrapped for
// each of the account's other listed devices, the sealed state (sync-state.ts), and the writing
// device's Ed25519 signature over both. Pure; randomness comes in as a parameter.
//
// Why a signature on top of the AEAD: every device of the account holds the sync key, and so
// does a device after it was unlinked. The box alone cannot tell a listed device's blob from one
// an unlinked browser wrote (with a hostile or careless directory storing it); the signature
// under the device key that the header's device id names, checked against the account's current
// device list, can. Why the wraps: when a device is unlinked the account's browser makes a new
// sync key; each writer wraps the key it seals under for every device its checked list names, so
// the remaining devices learn the new key from the next blob and the unlinked one never does.
//
// `u8 count || count × (u32 device || E(32) || nonce(24) || box(48)) || sealed || signature(64)`,
// wraps in increasing device order; a wrap's key is HKDF-SHA256(X25519(e, device's X25519 key),
// info "Veil sync key wrap" || u8 len || handle || u32 device), its AD the same info and E. The
// signature covers `"VeilSyncSig2\0" || u8 len || handle || everything before it`.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteReader, ByteWriter, utf8ToBytes } from './bytes';
import { VeilError } from './errors';
import { identityDhPublic, isValidHandle } from './identity';

const LABEL = utf8ToBytes('VeilSyncSig2\u0000');
const WRAP_INFO = utf8ToBytes('Veil sync key wrap');
export const SYNC_SIGNATURE_LENGTH = 64;
const KEY_LENGTH = 32;
const NONCE_LENGTH = 24;
const WRAP_LENGTH = 4 + 32 + NONCE_LENGTH + KEY_LENGTH + 16;
/** A device list holds at most 16 devices (device-list.ts). */
const MAX_WRAPS = 16;

/** The sync key sealed for one device: only that device's key opens it. */
export interface SyncKeyWrap {
  device: number;
  /** The writer's ephemeral X25519 public key. */
  ephemeral: Uint8Array;
  nonce: Uint8Array;
  box: Uint8Array;
}

export interface SyncBlobParts {
  wraps: SyncKeyWrap[];
  sealed: Uint8Array;
  signature: Uint8Array;
  /** What the signature covers (everything before it, under the label and handle). */
  signed: Uint8Array;
}

function handleBytes(handle: string): Uint8Array {
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'not a valid handle');
  return utf8ToBytes(handle);
}

function wrapInfo(handle: string, device: number): Uint8Array {
  const h = handleBytes(handle);
  return new ByteWriter().bytes(WRAP_INFO).u8(h.length).bytes(h).u32(device).finish();
}

function wrapKey(shared: Uint8Array, info: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, undefined, info, KEY_LENGTH);
}

/** Wraps `syncKey` for device `device` whose Ed25519 key is `deviceKey`. */
export function wrapSyncKey(
  syncKey: Uint8Array,
  opts: {
    handle: string;
    device: number;
    deviceKey: Uint8Array;
    randomBytes: (n: number) => Uint8Array;
  },
): SyncKeyWrap {
  if (syncKey.length !== KEY_LENGTH) throw new VeilError('invalid-argument', 'sync key length');
  const secret = opts.randomBytes(32);
  const ephemeral = x25519.getPublicKey(secret);
  const info = wrapInfo(opts.handle, opts.device);
  const key = wrapKey(x25519.getSharedSecret(secret, identityDhPublic(opts.deviceKey)), info);
  const nonce = opts.randomBytes(NONCE_LENGTH);
  const ad = new ByteWriter().bytes(info).bytes(ephemeral).finish();
  const box = xchacha20poly1305(key, nonce, ad).encrypt(syncKey);
  secret.fill(0);
  key.fill(0);
  return { device: opts.device, ephemeral, nonce, box };
}

/**
 * Opens our wrap with `dh` (X25519 of our device key's Montgomery form with the writer's
 * ephemeral key: Veil.deviceDh, the private key stays in the protocol core). 'bad-mac' when it
 * is not ours or was altered.
 */
export async function unwrapSyncKey(
  wrap: SyncKeyWrap,
  opts: { handle: string; dh: (publicKey: Uint8Array) => Promise<Uint8Array> },
): Promise<Uint8Array> {
  const info = wrapInfo(opts.handle, wrap.device);
  const key = wrapKey(await opts.dh(wrap.ephemeral), info);
  const ad = new ByteWriter().bytes(info).bytes(wrap.ephemeral).finish();
  try {
    return xchacha20poly1305(key, wrap.nonce, ad).decrypt(wrap.box);
  } catch {
    throw new VeilError('bad-mac', 'the wrapped sync key does not open');
  } finally {
    key.fill(0);
  }
}

/** Everything but the signature: what the writer signs (Veil.sign) for `handle`. */
export function syncBlobBody(wraps: readonly SyncKeyWrap[], sealed: Uint8Array): Uint8Array {
  if (wraps.length > MAX_WRAPS) throw new VeilError('invalid-argument', 'too many key wraps');
  const sorted = [...wraps].sort((a, b) => a.device - b.device);
  const w = new ByteWriter().u8(sorted.length);
  for (const x of sorted) w.u32(x.device).bytes(x.ephemeral).bytes(x.nonce).bytes(x.box);
  return w.bytes(sealed).finish();
}

/** The bytes a device signs for a blob body under `handle`. */
export function syncBlobMessage(handle: string, body: Uint8Array): Uint8Array {
  const h = handleBytes(handle);
  return new ByteWriter().bytes(LABEL).u8(h.length).bytes(h).bytes(body).finish();
}

/** `body || signature`: what goes to the directory. */
export function joinSyncBlob(body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== SYNC_SIGNATURE_LENGTH)
    throw new VeilError('invalid-argument', 'a signature is 64 bytes');
  const out = new Uint8Array(body.length + SYNC_SIGNATURE_LENGTH);
  out.set(body);
  out.set(signature, body.length);
  return out;
}

/** Splits a stored blob. Throws 'truncated' or 'malformed'. */
export function splitSyncBlob(blob: Uint8Array): SyncBlobParts {
  if (!(blob instanceof Uint8Array) || blob.length <= 1 + SYNC_SIGNATURE_LENGTH)
    throw new VeilError('truncated', 'the sync blob ends early');
  const cut = blob.length - SYNC_SIGNATURE_LENGTH;
  const body = blob.subarray(0, cut);
  const r = new ByteReader(body);
  const count = r.u8();
  if (count > MAX_WRAPS) throw new VeilError('malformed', 'too many key wraps');
  if (body.length < 1 + count * WRAP_LENGTH)
    throw new VeilError('truncated', 'the sync blob ends early');
  const wraps: SyncKeyWrap[] = [];
  let last = 0;
  for (let i = 0; i < count; i++) {
    const device = r.u32();
    if (device <= last) throw new VeilError('malformed', 'key wraps out of order');
    last = device;
    wraps.push({
      device,
      ephemeral: r.bytes(32),
      nonce: r.bytes(NONCE_LENGTH),
      box: r.bytes(KEY_LENGTH + 16),
    });
  }
  return { wraps, sealed: r.rest(), signature: blob.subarray(cut), signed: body };
}

/**
 * Checks the writer's signature under `deviceKey` (the key the account's checked device list
 * names for the sealed header's device id). 'bad-signature' otherwise.
 */
export function verifySyncBlob(handle: string, parts: SyncBlobParts, deviceKey: Uint8Array): void {
  let ok = false;
  try {
    ok = ed25519.verify(parts.signature, syncBlobMessage(handle, parts.signed), deviceKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new VeilError('bad-signature', 'the sync blob is not signed by a listed device');
}

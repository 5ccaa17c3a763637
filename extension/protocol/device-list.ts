// A person's device list (docs/devices.md): the account key (the identity key people verify,
// once per contact) signs which device keys speak for the handle. The directory publishes the
// newest list and logs a digest of every one, so a device added behind the person's back shows
// in their own log watch. Pure; signatures via CryptoProvider.
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from './bytes';
import type { CryptoProvider } from './crypto/provider';
import { jsonBytes, jsonInt, jsonRecord, toBase64Url } from './encoding';
import { VeilError } from './errors';
import { isValidHandle } from './identity';
import { decodeUtf8 } from './plaintext';

const PREFIX = utf8ToBytes('VeilDL1');
const KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const MAX_U32 = 0xffff_ffff;
/** Devices one person may link at once (Signal allows five linked to a phone). */
export const MAX_DEVICES = 16;

export interface Device {
  /** 1 … 2^32 − 1, unique in the list; never reused for another key. */
  id: number;
  /** Ed25519 public key of the device. */
  key: Uint8Array;
  /** Unix seconds when it was linked. */
  addedAt: number;
}

export interface DeviceList {
  handle: string;
  /** Strictly increasing with every change: an older list served again is refused. */
  version: number;
  devices: Device[];
}

export interface SignedDeviceList extends DeviceList {
  /** Ed25519 by the account key over deviceListMessage(list). */
  signature: Uint8Array;
}

export interface SignedDeviceListJson {
  handle: string;
  version: number;
  devices: { id: number; key: string; addedAt: number }[];
  signature: string;
}

/**
 * The exact bytes the account key signs: `"VeilDL1" || u8 len || handle || u32 version ||
 * u8 count || count × (u32 id || key(32) || u64 addedAt)`, devices in increasing id order, so a
 * list has one encoding and its digest names it.
 */
export function deviceListMessage(list: DeviceList): Uint8Array {
  checkList(list);
  const handle = utf8ToBytes(list.handle);
  const out = new Uint8Array(PREFIX.length + 1 + handle.length + 4 + 1 + list.devices.length * 44);
  out.set(PREFIX);
  let o = PREFIX.length;
  out[o++] = handle.length;
  out.set(handle, o);
  o += handle.length;
  const view = new DataView(out.buffer);
  view.setUint32(o, list.version);
  o += 4;
  out[o++] = list.devices.length;
  for (const d of list.devices) {
    view.setUint32(o, d.id);
    out.set(d.key, o + 4);
    view.setUint32(o + 36, Math.floor(d.addedAt / 2 ** 32));
    view.setUint32(o + 40, d.addedAt >>> 0);
    o += 44;
  }
  return out;
}

/** SHA-256 of the signed bytes: what the transparency log records for a list. */
export function deviceListDigest(list: DeviceList): Uint8Array {
  return sha256(deviceListMessage(list));
}

export async function signDeviceList(
  crypto: CryptoProvider,
  accountPrivateKey: Uint8Array,
  list: DeviceList,
): Promise<SignedDeviceList> {
  const sorted = { ...list, devices: [...list.devices].sort((a, b) => a.id - b.id) };
  const signature = await crypto.ed25519Sign(accountPrivateKey, deviceListMessage(sorted));
  return { ...sorted, signature };
}

/**
 * Checks a served list: signed by `accountKey`, for `handle`, and not older than the newest
 * version seen (`minVersion`). Throws VeilError: 'bad-signature', 'malformed', or 'bad-proof'
 * for a rollback.
 */
export async function verifyDeviceList(
  crypto: CryptoProvider,
  accountKey: Uint8Array,
  list: SignedDeviceList,
  opts: { handle: string; minVersion?: number },
): Promise<void> {
  checkList(list);
  if (list.handle !== opts.handle)
    throw new VeilError('malformed', 'device list of another handle');
  if (list.version < (opts.minVersion ?? 0))
    throw new VeilError('bad-proof', 'an older device list than one already seen');
  if (!(list.signature instanceof Uint8Array) || list.signature.length !== SIGNATURE_LENGTH)
    throw new VeilError('malformed', 'device list signature must be 64 bytes');
  if (!(await crypto.ed25519Verify(accountKey, deviceListMessage(list), list.signature)))
    throw new VeilError('bad-signature', 'device list not signed by the account key');
}

/** The binary form a message carries: the signed bytes, then the signature. */
export function encodeSignedDeviceList(list: SignedDeviceList): Uint8Array {
  const message = deviceListMessage(list);
  const out = new Uint8Array(message.length + SIGNATURE_LENGTH);
  out.set(message);
  out.set(list.signature, message.length);
  return out;
}

/** Parses encodeSignedDeviceList's bytes strictly (one encoding); throws VeilError('malformed'). */
export function decodeSignedDeviceList(bytes: Uint8Array): SignedDeviceList {
  const fail = () => new VeilError('malformed', 'not a signed device list');
  if (!(bytes instanceof Uint8Array) || bytes.length < PREFIX.length + 1) throw fail();
  for (let i = 0; i < PREFIX.length; i++) if (bytes[i] !== PREFIX[i]) throw fail();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = PREFIX.length;
  const handleLength = bytes[o++]!;
  const need = (n: number) => {
    if (o + n > bytes.length) throw fail();
  };
  need(handleLength + 5);
  let handle: string;
  try {
    handle = decodeUtf8(bytes.subarray(o, o + handleLength));
  } catch {
    throw fail();
  }
  o += handleLength;
  const version = view.getUint32(o);
  o += 4;
  const count = bytes[o++]!;
  need(count * 44 + SIGNATURE_LENGTH);
  if (o + count * 44 + SIGNATURE_LENGTH !== bytes.length) throw fail();
  const devices: Device[] = [];
  for (let i = 0; i < count; i++) {
    const addedAt = view.getUint32(o + 36) * 2 ** 32 + view.getUint32(o + 40);
    devices.push({ id: view.getUint32(o), key: bytes.slice(o + 4, o + 36), addedAt });
    o += 44;
  }
  const list: SignedDeviceList = {
    handle,
    version,
    devices,
    signature: bytes.slice(o, o + SIGNATURE_LENGTH),
  };
  checkList(list);
  return list;
}

export function deviceListToJson(list: SignedDeviceList): SignedDeviceListJson {
  return {
    handle: list.handle,
    version: list.version,
    devices: list.devices.map((d) => ({ id: d.id, key: toBase64Url(d.key), addedAt: d.addedAt })),
    signature: toBase64Url(list.signature),
  };
}

/** Parses the JSON form (shape, ranges, lengths, order); throws VeilError('malformed'). */
export function deviceListFromJson(value: unknown): SignedDeviceList {
  const o = jsonRecord(value, 'device list');
  if (!Array.isArray(o.devices)) throw new VeilError('malformed', 'devices must be a list');
  const list: SignedDeviceList = {
    handle: typeof o.handle === 'string' ? o.handle : '',
    version: jsonInt(o.version, 'version', 1),
    devices: o.devices.map((d: unknown) => {
      const e = jsonRecord(d, 'device');
      return {
        id: jsonInt(e.id, 'device id', 1),
        key: jsonBytes(e.key, KEY_LENGTH, 'device key'),
        addedAt: jsonInt(e.addedAt, 'addedAt', 0, Number.MAX_SAFE_INTEGER),
      };
    }),
    signature: jsonBytes(o.signature, SIGNATURE_LENGTH, 'device list signature'),
  };
  checkList(list);
  return list;
}

function checkList(list: DeviceList): void {
  if (!isValidHandle(list.handle)) throw new VeilError('malformed', 'device list handle');
  if (!Number.isInteger(list.version) || list.version < 1 || list.version > MAX_U32)
    throw new VeilError('malformed', 'device list version out of range');
  if (list.devices.length < 1 || list.devices.length > MAX_DEVICES)
    throw new VeilError('malformed', `a device list holds 1 to ${MAX_DEVICES} devices`);
  let last = 0;
  const keys = new Set<string>();
  for (const d of list.devices) {
    if (!Number.isInteger(d.id) || d.id <= last || d.id > MAX_U32)
      throw new VeilError('malformed', 'device ids must be unique and in increasing order');
    last = d.id;
    if (!(d.key instanceof Uint8Array) || d.key.length !== KEY_LENGTH)
      throw new VeilError('malformed', 'a device key is 32 bytes');
    const hex = toBase64Url(d.key);
    if (keys.has(hex)) throw new VeilError('malformed', 'a device key is listed twice');
    keys.add(hex);
    if (!Number.isSafeInteger(d.addedAt) || d.addedAt < 0)
      throw new VeilError('malformed', 'addedAt out of range');
  }
}

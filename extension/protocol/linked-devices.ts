// Which device keys speak for a person (docs/devices.md): the pinned account key, and the keys a
// device list signed by it names. Pure helpers for veil.ts; the store and the crypto are its.
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual } from './bytes';
import type { CryptoProvider } from './crypto/provider';
import {
  MAX_DEVICES,
  signDeviceList,
  verifyDeviceList,
  type Device,
  type SignedDeviceList,
} from './device-list';
import { VeilError } from './errors';
import { pinnedTrust, type TrustStatus } from './placement';

/** A device of a contact, from their newest device list we checked. */
export interface ContactDevice {
  id: number;
  key: Uint8Array;
}

/** What a contact record holds about devices (veil.ts Contact). */
export interface DeviceHolder {
  identityKey: Uint8Array;
  verified: boolean;
  pendingKey?: Uint8Array;
  devices?: ContactDevice[];
  deviceListVersion?: number;
  /** Device key hex → the session we send to that device on (the account key's is `session`). */
  sessions?: Record<string, string>;
}

/** Our own account's devices (`meta`, key `own-devices`). */
export interface OwnDevices {
  list: SignedDeviceList;
  /** Device key hex → the session we send to that device of ours on. */
  sessions: Record<string, string>;
}

/**
 * The pin's word on a device key: the account key as pinnedTrust says; a key the contact's
 * checked device list names counts as the account key does (verified once, per person), unless
 * a key change is pending (then nothing of theirs is trusted until the user accepts it).
 */
export function deviceTrust(contact: DeviceHolder | undefined, key: Uint8Array): TrustStatus {
  const pinned = pinnedTrust(contact, key);
  if (pinned !== 'unknown-sender' || !contact || contact.pendingKey) return pinned;
  if (contact.devices?.some((d) => bytesEqual(d.key, key)))
    return contact.verified ? 'verified' : 'unverified';
  return 'unknown-sender';
}

/** The device keys a message to this contact goes to: the listed ones, else the account key. */
export function contactDeviceKeys(contact: DeviceHolder): Uint8Array[] {
  if (!contact.devices?.length) return [contact.identityKey];
  return contact.devices.map((d) => d.key);
}

/** The session a contact's device is sent to on (the account key's is the caller's `session`). */
export function deviceSessionTag(contact: DeviceHolder, key: Uint8Array): string | undefined {
  return contact.sessions?.[bytesToHex(key)];
}

/** Checks a contact's list under their pinned account key and applies it (newer only). */
export async function applyContactDeviceList<T extends DeviceHolder>(
  crypto: CryptoProvider,
  contact: T,
  handle: string,
  list: SignedDeviceList,
): Promise<T> {
  await verifyDeviceList(crypto, contact.identityKey, list, {
    handle,
    minVersion: contact.deviceListVersion ?? 0,
  });
  if (list.version === contact.deviceListVersion) return contact;
  const devices = list.devices.map((d) => ({ id: d.id, key: d.key.slice() }));
  const keep = new Set(devices.map((d) => bytesToHex(d.key)));
  const sessions = Object.fromEntries(
    Object.entries(contact.sessions ?? {}).filter(([hex]) => keep.has(hex)),
  );
  return { ...contact, devices, deviceListVersion: list.version, sessions };
}

/**
 * The next list of our account: `current` (or ourselves alone as device 1) changed by `edit`,
 * version one above the last and never below the time in seconds (a list made again after a
 * restore from backup must still be newer than what the directory holds).
 */
export async function nextOwnList(
  crypto: CryptoProvider,
  account: { handle: string; publicKey: Uint8Array; privateKey: Uint8Array },
  current: SignedDeviceList | undefined,
  nowSeconds: number,
  edit: (devices: Device[]) => Device[],
): Promise<SignedDeviceList> {
  const base: Device[] = current?.devices ?? [
    { id: 1, key: account.publicKey.slice(), addedAt: nowSeconds },
  ];
  const devices = edit(base.map((d) => ({ ...d })));
  if (devices.length > MAX_DEVICES)
    throw new VeilError('invalid-argument', `at most ${MAX_DEVICES} devices`);
  if (!devices.some((d) => bytesEqual(d.key, account.publicKey)))
    throw new VeilError('invalid-argument', 'the device holding the account key stays linked');
  const version = Math.max((current?.version ?? 0) + 1, nowSeconds);
  return signDeviceList(crypto, account.privateKey, { handle: account.handle, version, devices });
}

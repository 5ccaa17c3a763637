// Row mapping, the publish decision and small helpers shared by the SQLite and PostgreSQL
// directory stores: both return rows as plain objects with Buffers for BLOB/BYTEA columns and
// numbers or strings for integers.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesEqual } from '../extension/protocol/bytes';
import { proveHandleLabel, vrfPublicKey } from '../extension/protocol/vrf';
import {
  type Device,
  type SignedDeviceList,
  deviceListDigest,
  deviceListFromJson,
  deviceListToJson,
} from '../extension/protocol/device-list';
import { toBase64Url } from '../extension/protocol/encoding';
import type { LogAction } from '../extension/protocol/transparency';
import type {
  DeviceListRecord,
  IdentityRecord,
  HandleLabel,
  KemPrekeyRecord,
  LoggedEntry,
  PublishInput,
  PutDeviceListInput,
  PutDeviceListResult,
  PutSyncInput,
  PutSyncResult,
  StoredLogEntry,
} from './store';

export type Row = Record<string, unknown>;

export const u8 = (b: unknown): Uint8Array => {
  const buf = b as Buffer;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};
export const blob = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
export const num = (v: unknown): number => Number(v);
export const seconds = (ms: number) => Math.floor(ms / 1000);

/** Key comparison for both stores: the protocol's constant-time one. */
export { bytesEqual as sameBytes };

export function identityFromRow(r: Row): IdentityRecord {
  return {
    handle: r.handle as string,
    identityKey: u8(r.identity_key),
    signedPrekey: {
      id: num(r.spk_id),
      publicKey: u8(r.spk_public_key),
      signature: u8(r.spk_signature),
    },
    fingerprint: r.fingerprint as string,
    safetyNumberHalf: r.safety_number_half as string,
    logIndex: num(r.log_index),
    logAction: r.log_action as 'publish' | 'rotate',
    sequence: num(r.sequence),
    logTimestamp: num(r.log_timestamp),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** A row of kem_one_time_prekeys or kem_last_resort_prekeys (which one says `lastResort`). */
export function kemPrekeyFromRow(r: Row, lastResort: boolean): KemPrekeyRecord {
  return { id: num(r.id), publicKey: u8(r.public_key), signature: u8(r.signature), lastResort };
}

export function logEntryFromRow(r: Row): LoggedEntry {
  if (r.leaf_hash != null)
    return {
      index: num(r.idx),
      redacted: true,
      leafHash: u8(r.leaf_hash),
      sequence: num(r.sequence),
    };
  return {
    index: num(r.idx),
    ...(r.label != null ? { label: u8(r.label) } : { handle: r.handle as string }),
    identityKey: u8(r.identity_key),
    action: r.action as LogAction,
    sequence: num(r.sequence),
    timestamp: num(r.timestamp),
  };
}

/** A key entry read by handle (never redacted: those are not key entries any more). */
export function keyEntryFromRow(r: Row): StoredLogEntry {
  const e = logEntryFromRow(r);
  if ('redacted' in e) throw new Error('a redacted entry is no key entry');
  return e;
}

/** The v2 form of an entry to append: the label, never the handle. */
export function labelledEntry(
  entry: Omit<StoredLogEntry, 'index'>,
  label: Uint8Array,
): Omit<StoredLogEntry, 'index'> {
  return {
    label,
    identityKey: entry.identityKey,
    action: entry.action,
    sequence: entry.sequence,
    timestamp: entry.timestamp,
  };
}

/** Handle labels kept in memory at most (a lookup's label costs one VRF proof, ~3 ms). */
const LABEL_CACHE_ENTRIES = 10_000;

/**
 * The directory's VRF key and the labels it computed, shared by both stores. The cache is
 * memory only and forgets a handle on delete, so no label ties back to a deleted handle.
 */
export class HandleLabels {
  private readonly cache = new Map<string, HandleLabel>();
  readonly publicKey: Uint8Array;

  constructor(private readonly secretKey: Uint8Array) {
    this.publicKey = vrfPublicKey(secretKey);
  }

  of(handle: string): HandleLabel {
    const hit = this.cache.get(handle);
    if (hit) return hit;
    const made = proveHandleLabel(this.secretKey, handle);
    if (this.cache.size >= LABEL_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(handle, made);
    return made;
  }

  forget(handle: string): void {
    this.cache.delete(handle);
  }
}

/** A fresh VRF secret key (32 bytes from the platform's CSPRNG via noble). */
export function generateVrfKey(): Uint8Array {
  return ed25519.utils.randomSecretKey();
}

/** Thrown inside a transaction to roll it back and report `result` instead. */
export class Rollback<T> extends Error {
  constructor(readonly result: T) {
    super('rollback');
  }
}

/** A log entry that puts a key in place (a deletion is never planned by a publish). */
export type KeyLogEntry = Omit<StoredLogEntry, 'index' | 'action'> & {
  action: 'publish' | 'rotate';
};

export type PublishPlan =
  | { ok: false; reason: 'handle-taken' | 'conflict' }
  | {
      ok: true;
      status: 'created' | 'updated' | 'rotated';
      /** The log entry the identity row points at: a new one for a new or changed key. */
      entry: KeyLogEntry;
      /** Index of `entry` when it is already logged (the key is unchanged); else append it. */
      loggedAt: number | undefined;
      /**
       * The old key's one-time prekeys, all its KEM prekeys and its device list (signed by it)
       * were made for it: a rotation drops them.
       */
      dropOneTimePrekeys: boolean;
      /** The identity row's timestamps, in milliseconds. */
      createdAt: number;
      updatedAt: number;
    };

/**
 * What a publish does, decided from the handle's row as read inside the write transaction:
 * refuse a claim of a taken handle, refuse a write whose signer is no longer the current key
 * (the row moved on since the request was checked), log a new or changed key, or only refresh
 * prekeys. `lastSequence` is the handle's latest sequence in the log (0 if none; it survives a
 * deletion, so a re-claimed handle continues it; 'devices' entries count, they share it). `now` is in milliseconds.
 */
export function planPublish(
  input: Pick<PublishInput, 'handle' | 'identityKey' | 'expectedCurrentKey'>,
  current: IdentityRecord | undefined,
  lastSequence: number,
  now: number,
): PublishPlan {
  if (input.expectedCurrentKey === null) {
    if (current) return { ok: false, reason: 'handle-taken' };
  } else if (!current || !bytesEqual(current.identityKey, input.expectedCurrentKey)) {
    return { ok: false, reason: 'conflict' };
  }
  const timestamps = { createdAt: current?.createdAt ?? now, updatedAt: now };
  if (current && bytesEqual(current.identityKey, input.identityKey))
    return {
      ok: true,
      status: 'updated',
      entry: {
        handle: current.handle,
        identityKey: current.identityKey,
        action: current.logAction,
        sequence: current.sequence,
        timestamp: current.logTimestamp,
      },
      loggedAt: current.logIndex,
      dropOneTimePrekeys: false,
      ...timestamps,
    };
  return {
    ok: true,
    status: current ? 'rotated' : 'created',
    entry: {
      handle: input.handle,
      identityKey: input.identityKey,
      action: current ? 'rotate' : 'publish',
      sequence: lastSequence + 1,
      timestamp: seconds(now),
    },
    loggedAt: undefined,
    dropOneTimePrekeys: current !== undefined,
    ...timestamps,
  };
}

/**
 * The upsert of a published identity for both stores; `param(n)` names the n-th (1-based)
 * parameter in the driver's syntax. `created_at` is kept on update.
 */
export function identityUpsertSql(param: (n: number) => string): string {
  const values = Array.from({ length: 13 }, (_, i) => param(i + 1)).join(', ');
  return `INSERT INTO identities (handle, identity_key, spk_id, spk_public_key, spk_signature, fingerprint,
      safety_number_half, log_index, log_action, sequence, log_timestamp, created_at, updated_at)
    VALUES (${values})
    ON CONFLICT (handle) DO UPDATE SET identity_key = excluded.identity_key, spk_id = excluded.spk_id,
      spk_public_key = excluded.spk_public_key, spk_signature = excluded.spk_signature,
      fingerprint = excluded.fingerprint, safety_number_half = excluded.safety_number_half,
      log_index = excluded.log_index, log_action = excluded.log_action, sequence = excluded.sequence,
      log_timestamp = excluded.log_timestamp, updated_at = excluded.updated_at`;
}

/** The parameters of `identityUpsertSql` for a planned publish. */
export function identityRowValues(
  input: PublishInput,
  plan: Extract<PublishPlan, { ok: true }>,
  logIndex: number,
): unknown[] {
  const spk = input.signedPrekey;
  return [
    input.handle,
    blob(input.identityKey),
    spk.id,
    blob(spk.publicKey),
    blob(spk.signature),
    input.fingerprint,
    input.safetyNumberHalf,
    logIndex,
    plan.entry.action,
    plan.entry.sequence,
    plan.entry.timestamp,
    plan.createdAt,
    plan.updatedAt,
  ];
}

/** A device_lists row (columns as in migration 3) back to the list and its log entry. */
export function deviceListFromRow(r: Row): DeviceListRecord {
  return {
    list: deviceListFromJson({
      handle: r.handle,
      version: num(r.version),
      devices: JSON.parse(r.devices as string) as unknown,
      signature: toBase64Url(u8(r.signature)),
    }),
    logIndex: num(r.log_index),
    sequence: num(r.sequence),
    logTimestamp: num(r.log_timestamp),
    updatedAt: num(r.updated_at),
  };
}

/**
 * Whether a device list may replace the stored one, decided inside the write transaction: the
 * handle must still have the key the list was checked against, and the version must go up.
 */
export function planDeviceList(
  input: PutDeviceListInput,
  current: IdentityRecord | undefined,
  storedVersion: number | undefined,
): Extract<PutDeviceListResult, { ok: false }> | undefined {
  if (!current) return { ok: false, reason: 'not-found' };
  if (!bytesEqual(current.identityKey, input.expectedCurrentKey))
    return { ok: false, reason: 'conflict' };
  if (storedVersion !== undefined && input.list.version <= storedVersion)
    return { ok: false, reason: 'stale' };
  return undefined;
}

/** The 'devices' log entry of a list: its digest in the 32-byte field, `now` in milliseconds. */
export function deviceListLogEntry(
  list: SignedDeviceList,
  sequence: number,
  now: number,
): Omit<StoredLogEntry, 'index'> {
  return {
    handle: list.handle,
    identityKey: deviceListDigest(list),
    action: 'devices',
    sequence,
    timestamp: seconds(now),
  };
}

/** The upsert of a handle's device list for both stores (`param` as for identityUpsertSql). */
export function deviceListUpsertSql(param: (n: number) => string): string {
  const values = Array.from({ length: 8 }, (_, i) => param(i + 1)).join(', ');
  return `INSERT INTO device_lists (handle, version, devices, signature, log_index, sequence,
      log_timestamp, updated_at)
    VALUES (${values})
    ON CONFLICT (handle) DO UPDATE SET version = excluded.version, devices = excluded.devices,
      signature = excluded.signature, log_index = excluded.log_index, sequence = excluded.sequence,
      log_timestamp = excluded.log_timestamp, updated_at = excluded.updated_at`;
}

/** The parameters of `deviceListUpsertSql`: devices as the JSON of SignedDeviceListJson. */
export function deviceListRowValues(
  list: SignedDeviceList,
  entry: Omit<StoredLogEntry, 'index'>,
  logIndex: number,
  now: number,
): unknown[] {
  return [
    list.handle,
    list.version,
    JSON.stringify(deviceListToJson(list).devices),
    blob(list.signature),
    logIndex,
    entry.sequence,
    entry.timestamp,
    now,
  ];
}

/** The device `deviceId` of a stored list, if the list names one. */
export function listedDevice(
  record: DeviceListRecord | undefined,
  deviceId: number,
): Device | undefined {
  return record?.list.devices.find((d) => d.id === deviceId);
}

/**
 * Whether `deviceKey` is a listed device other than the account: the only devices whose
 * prekeys live in the device tables (the account device's are the identity's own).
 */
export function isOtherListedDevice(
  identity: IdentityRecord | undefined,
  record: DeviceListRecord | undefined,
  deviceId: number,
  deviceKey: Uint8Array,
): boolean {
  const device = listedDevice(record, deviceId);
  return (
    identity !== undefined &&
    device !== undefined &&
    bytesEqual(device.key, deviceKey) &&
    !bytesEqual(device.key, identity.identityKey)
  );
}

/**
 * The stored devices (rows of device_keys) a new list no longer names with the same key: their
 * prekeys go in the transaction that stores the list.
 */
export function droppedDevices(rows: readonly Row[], list: SignedDeviceList): number[] {
  return rows
    .filter((r) => {
      const device = list.devices.find((d) => d.id === num(r.device_id));
      return !device || !bytesEqual(device.key, u8(r.device_key));
    })
    .map((r) => num(r.device_id));
}

/** Tables holding a device's prekeys, children first (deleted in this order). */
export const DEVICE_TABLES = [
  'device_one_time_prekeys',
  'device_kem_one_time_prekeys',
  'device_kem_last_resort_prekeys',
  'device_keys',
] as const;

/**
 * Whether a sync blob may be written, decided inside the write transaction: the handle has an
 * identity, the signer is its account key or a device of its current list, and the version is
 * exactly one above the stored one.
 */
export function planSync(
  input: PutSyncInput,
  identity: IdentityRecord | undefined,
  record: DeviceListRecord | undefined,
  storedVersion: number | undefined,
): Extract<PutSyncResult, { ok: false }> | undefined {
  if (!identity) return { ok: false, reason: 'not-found' };
  const listed =
    bytesEqual(identity.identityKey, input.signerKey) ||
    (record?.list.devices.some((d) => bytesEqual(d.key, input.signerKey)) ?? false);
  if (!listed) return { ok: false, reason: 'not-listed' };
  if (input.version !== (storedVersion ?? 0) + 1)
    return { ok: false, reason: 'stale', storedVersion: storedVersion ?? 0 };
  return undefined;
}

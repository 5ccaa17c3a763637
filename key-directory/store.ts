// The directory's storage interface. Two implementations (store-sqlite.ts, store-postgres.ts)
// pass one contract suite (store.contract.test.ts). Each write is one transaction: an identity,
// its prekeys (X25519 and KEM), its log entry, the new Merkle nodes and the signed head commit together or not
// at all, so a crash never leaves a half-written identity or a log without a head. A device list
// (signed by the handle's identity key) is written the same way, with its own log entry. A listed
// device's own prekeys and the handle's sync blob are not logged; they are written atomically too.
import type { Device, SignedDeviceList } from '../extension/protocol/device-list';
import type { LogAction } from '../extension/protocol/transparency';
import type { LinkStore } from './link-store';

export interface SignedPrekeyRecord {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export interface OneTimePrekeyRecord {
  id: number;
  publicKey: Uint8Array;
}

/** An ML-KEM-768 prekey as published: signed by the identity key over kemPrekeyMessage. */
export interface KemPrekeyRecord {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
  /** Whether it is the handle's last-resort key (signed too; the store keeps it apart). */
  lastResort: boolean;
}

/** KEM prekeys a publish brings (already verified by the app). */
export interface KemPrekeysInput {
  /** Replaces the handle's last-resort KEM prekey. */
  lastResort?: KemPrekeyRecord;
  /** Added to the handle's one-time KEM prekeys (an existing id is overwritten). */
  oneTime?: KemPrekeyRecord[];
}

export interface KemPrekeyCounts {
  /** One-time KEM prekeys not yet handed out. */
  oneTime: number;
  /** Id of the last-resort KEM prekey, null when there is none. */
  lastResortId: number | null;
}

export interface IdentityRecord {
  handle: string;
  identityKey: Uint8Array;
  signedPrekey: SignedPrekeyRecord;
  /** Hex SHA-256 of the identity key. */
  fingerprint: string;
  /** This party's 30-digit half of Signal's safety number. */
  safetyNumberHalf: string;
  /** The log entry that put this key in place (publish or rotate; never a 'devices' entry). */
  logIndex: number;
  logAction: 'publish' | 'rotate';
  sequence: number;
  /** Unix seconds of that log entry. */
  logTimestamp: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * A log entry as stored. v1 entries (before migration 5) name the handle; v2 entries (every
 * entry since) carry its VRF label instead and never the handle.
 */
export interface StoredLogEntry {
  index: number;
  /** v1 entries only. */
  handle?: string;
  /** v2 entries: the handle's 32-byte VRF label. */
  label?: Uint8Array;
  /** The identity key; for a 'devices' entry the device list's digest (deviceListDigest). */
  identityKey: Uint8Array;
  action: LogAction;
  sequence: number;
  timestamp: number;
}

/**
 * A v1 entry of a deleted handle: data erased, the leaf hash kept (and the sequence, so the
 * handle's history stays without gaps).
 */
export interface RedactedStoredEntry {
  index: number;
  redacted: true;
  leafHash: Uint8Array;
  sequence: number;
}

/** A row of the log: an entry, or a redacted one. */
export type LoggedEntry = StoredLogEntry | RedactedStoredEntry;

/** A handle's VRF label and its proof (extension/protocol/vrf.ts). */
export interface HandleLabel {
  label: Uint8Array;
  proof: Uint8Array;
}

export interface StoredTreeHead {
  treeSize: number;
  rootHash: Uint8Array;
  /** Unix seconds. */
  timestamp: number;
  signature: Uint8Array;
}

/** A complete Merkle subtree: leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeRef {
  level: number;
  index: number;
}

/** Signs a tree head (the directory key); called inside the write transaction. */
export type HeadSigner = (treeSize: number, rootHash: Uint8Array, timestamp: number) => Uint8Array;

export interface WriteContext {
  /** Milliseconds since the epoch (the app's clock). */
  now: number;
  /** The request's nonce, recorded so the same signed request is refused a second time. */
  nonce: string;
  /** Milliseconds since the epoch after which the nonce may be forgotten. */
  nonceExpiresAt: number;
  signHead: HeadSigner;
}

export interface PublishInput {
  handle: string;
  identityKey: Uint8Array;
  signedPrekey: SignedPrekeyRecord;
  oneTimePrekeys: OneTimePrekeyRecord[];
  fingerprint: string;
  safetyNumberHalf: string;
  /**
   * The key the request's signature was checked against: null when claiming a free handle,
   * otherwise the current key. If the stored state moved on meanwhile the write is refused.
   */
  expectedCurrentKey: Uint8Array | null;
  /** Upper bound on one-time prekeys stored for the handle after this write. */
  maxStoredOneTimePrekeys: number;
  /**
   * KEM prekeys to store. Absent (an older client): a same-key update leaves the stored ones as
   * they are; a rotation still drops the old key's.
   */
  kemPrekeys?: KemPrekeysInput;
  /** Upper bound on one-time KEM prekeys stored for the handle after this write (default none). */
  maxStoredKemPrekeys?: number;
}

export type PublishResult =
  | {
      ok: true;
      status: 'created' | 'updated' | 'rotated';
      logIndex: number;
      sequence: number;
      oneTimePrekeys: number;
      kemOneTimePrekeys: number;
    }
  | {
      ok: false;
      reason: 'handle-taken' | 'conflict' | 'replay' | 'too-many-prekeys' | 'too-many-kem-prekeys';
    };

export interface DeleteInput {
  handle: string;
  expectedCurrentKey: Uint8Array;
}

export type DeleteResult =
  | { ok: true; logIndex: number; sequence: number }
  | { ok: false; reason: 'not-found' | 'conflict' | 'replay' };

/** A handle's current device list and the log entry that recorded it. */
export interface DeviceListRecord {
  list: SignedDeviceList;
  logIndex: number;
  /** The handle's sequence of that entry (one sequence for key and device-list entries). */
  sequence: number;
  /** Unix seconds of that log entry. */
  logTimestamp: number;
  /** Milliseconds. */
  updatedAt: number;
}

export interface PutDeviceListInput {
  handle: string;
  /** Parsed, and verified by the app under `expectedCurrentKey`. */
  list: SignedDeviceList;
  /**
   * The identity key the request and the list were checked against; if the handle's key is
   * another by the time the write runs (a rotation meanwhile), the write is refused.
   */
  expectedCurrentKey: Uint8Array;
}

export type PutDeviceListResult =
  | { ok: true; logIndex: number; sequence: number }
  | {
      ok: false;
      /** 'stale': the stored list's version is not lower than the new one's. */
      reason: 'not-found' | 'conflict' | 'replay' | 'stale';
    };

export interface Bundle {
  identity: IdentityRecord;
  /** Absent when the handle has no one-time prekeys left. */
  oneTimePrekey?: OneTimePrekeyRecord;
  /**
   * A one-time KEM prekey, removed in the same transaction; when none is left the last-resort
   * one (kept); absent when the handle has neither.
   */
  kemPrekey?: KemPrekeyRecord;
}

/** A listed device's prekeys (the app verified them under `deviceKey`). */
export interface DevicePrekeysInput {
  handle: string;
  deviceId: number;
  /** The device's key the request was checked against; it must still be listed under `deviceId`. */
  deviceKey: Uint8Array;
  /** Replaces the device's signed prekey. */
  signedPrekey: SignedPrekeyRecord;
  /** Added to the device's one-time prekeys (an existing id is overwritten). */
  oneTimePrekeys: OneTimePrekeyRecord[];
  /** As for an identity: a new last-resort key replaces the old one, one-time ones are added. */
  kemPrekeys?: KemPrekeysInput;
  maxStoredOneTimePrekeys: number;
  maxStoredKemPrekeys: number;
}

export type PutDevicePrekeysResult =
  | { ok: true; oneTimePrekeys: number; kemOneTimePrekeys: number }
  | {
      ok: false;
      /** 'not-listed': the handle's current list has no device with that id and key. */
      reason: 'replay' | 'not-listed' | 'too-many-prekeys' | 'too-many-kem-prekeys';
    };

/** One device's bundle, taken in one transaction with the device list that names the device. */
export interface DeviceBundle {
  deviceList: DeviceListRecord;
  device: Device;
  signedPrekey: SignedPrekeyRecord;
  /** Absent when the device has no one-time prekeys left. */
  oneTimePrekey?: OneTimePrekeyRecord;
  /** A one-time KEM prekey (removed), else the last-resort one (kept); absent when neither. */
  kemPrekey?: KemPrekeyRecord;
}

export interface DevicePrekeyCounts {
  signedPrekeyId: number;
  oneTimePrekeys: number;
  kem: KemPrekeyCounts;
}

/** The handle's end-to-end encrypted sync state: the directory stores ciphertext only. */
export interface SyncBlob {
  version: number;
  ciphertext: Uint8Array;
  /** Milliseconds. */
  updatedAt: number;
}

export interface PutSyncInput {
  handle: string;
  /** Must be the stored version + 1 (1 when none is stored). */
  version: number;
  ciphertext: Uint8Array;
  /** The key the request was checked against: the account key or a listed device's key. */
  signerKey: Uint8Array;
}

export type PutSyncResult =
  | { ok: true }
  | { ok: false; reason: 'replay' | 'not-found' | 'not-listed' }
  | { ok: false; reason: 'stale'; storedVersion: number };

export interface StoreStats {
  identities: number;
  oneTimePrekeys: number;
  kemOneTimePrekeys: number;
  logSize: number;
}

export interface DirectoryStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Link requests relayed between an account's browsers (link-store.ts; nothing logged). */
  readonly links: LinkStore;
  /** Applies (or with `target`, reverts) numbered migrations. */
  migrate(target?: number): Promise<void>;
  schemaVersion(): Promise<number>;
  /** The directory's Ed25519 seed; generated by `generate` on first start, then persisted. */
  loadOrCreateDirectoryKey(generate: () => Uint8Array, now: number): Promise<Uint8Array>;
  /**
   * The directory's VRF secret key (32 bytes); generated by `generate` on first use, then
   * persisted (like the log key). Tests seed one key into several stores with it.
   */
  loadOrCreateVrfKey(generate: () => Uint8Array): Promise<Uint8Array>;
  /** The directory's VRF public key; its secret key is generated on first use and persisted. */
  vrfPublicKey(): Promise<Uint8Array>;
  /**
   * The VRF label of `handle` and its proof, under the directory's VRF key. Deterministic;
   * kept in memory (bounded) and forgotten when the handle is deleted.
   */
  handleLabel(handle: string): Promise<HandleLabel>;
  /** Signs and stores the empty tree's head if the log has no head yet. */
  ensureHead(now: number, signHead: HeadSigner): Promise<void>;
  latestHead(): Promise<StoredTreeHead | undefined>;
  /** Entries in the log now (one cheap read; lookups use it to validate cached answers). */
  treeSize(): Promise<number>;
  getIdentity(handle: string): Promise<IdentityRecord | undefined>;
  publish(input: PublishInput, ctx: WriteContext): Promise<PublishResult>;
  deleteIdentity(input: DeleteInput, ctx: WriteContext): Promise<DeleteResult>;
  /**
   * Replaces the handle's device list and logs it ('devices', digest, the handle's next
   * sequence) in one transaction with the new nodes and signed head.
   */
  putDeviceList(input: PutDeviceListInput, ctx: WriteContext): Promise<PutDeviceListResult>;
  /** The handle's device list; none after a rotation or deletion until a new one is put. */
  getDeviceList(handle: string): Promise<DeviceListRecord | undefined>;
  /**
   * Stores a listed device's prekeys (not the account key's: those go with `publish`), refused
   * if the device is no longer listed with that key when the write runs.
   */
  putDevicePrekeys(input: DevicePrekeysInput, ctx: WriteContext): Promise<PutDevicePrekeysResult>;
  /**
   * The bundle of the device listed under `deviceId`, consuming its one-time prekeys (X25519,
   * KEM) atomically; for the device whose key is the account key, the identity's own prekeys (as
   * takeBundle). Undefined without an identity, a list naming the device, or its prekeys.
   */
  takeDeviceBundle(handle: string, deviceId: number): Promise<DeviceBundle | undefined>;
  /** A listed device's prekey counts; undefined when it published none under `deviceKey`. */
  countDevicePrekeys(
    handle: string,
    deviceId: number,
    deviceKey: Uint8Array,
  ): Promise<DevicePrekeyCounts | undefined>;
  /** Replaces the sync blob if `version` is the stored one + 1 and the signer is still listed. */
  putSyncBlob(input: PutSyncInput, ctx: WriteContext): Promise<PutSyncResult>;
  getSyncBlob(handle: string): Promise<SyncBlob | undefined>;
  /** Records that device `deviceId` of `handle` made a signed request at `at` (ms). */
  noteDeviceSeen(handle: string, deviceId: number, at: number): Promise<void>;
  /** When each device of `handle` last made a signed request (ms), by device id. */
  devicesSeen(handle: string): Promise<{ deviceId: number; at: number }[]>;
  /**
   * Deleting erases: the identity, its prekeys, KEM prekeys and device list go; the handle's v1
   * log entries are redacted (leaf hash kept); the 'delete' entry logged is v2 (label only).
   */
  /** Returns the bundle and removes its one-time prekeys (X25519, KEM) in one atomic step. */
  takeBundle(handle: string): Promise<Bundle | undefined>;
  countOneTimePrekeys(handle: string): Promise<number>;
  countKemPrekeys(handle: string): Promise<KemPrekeyCounts>;
  /**
   * The handle's latest key entry (publish, rotate or delete), if any: 'devices' entries are
   * passed over, their 32 bytes are not a key.
   */
  latestKeyEntry(handle: string): Promise<StoredLogEntry | undefined>;
  getLogEntries(start: number, count: number): Promise<LoggedEntry[]>;
  /**
   * A handle's log entries with sequence > `afterSequence`, in sequence (= log) order, at most
   * `limit` of them; deletions and device-list entries included. Empty when the handle has none there.
   */
  logEntriesForHandle(handle: string, afterSequence: number, limit: number): Promise<LoggedEntry[]>;
  /** Hashes of complete subtrees, in the order asked; throws if one is missing. */
  getLogNodes(refs: readonly NodeRef[]): Promise<Uint8Array[]>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/** Thrown by a store when its data contradicts itself (a missing Merkle node, say): a 500. */
export class StoreIntegrityError extends Error {
  override readonly name = 'StoreIntegrityError';
}

// The protocol's high-level API: identity, prekeys, contacts (pinned keys), 1:1 sessions and
// sender-key groups, from plaintext to armored chunks and back, with where and when each
// message was written sealed inside it. Pure: all state goes through the caller's
// ProtocolStore, time comes from the caller's clock. It decides no trust beyond the user's own
// pins: a sender it cannot match to a pinned key is `unknown-sender`, for the caller to check
// against the directory (extension/background/sender-trust.ts).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { openChaCha20Poly1305, sealChaCha20Poly1305 } from './aead';
import { armor, dearmor } from './armor';
import { bytesEqual, utf8ToBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import { verifyDeviceList, type SignedDeviceList } from './device-list';
import {
  contextHash,
  contextTag,
  decodeEnvelope,
  encodeFanout,
  encodeGroupBundle,
  type FanoutMessage,
  type PrekeyMessage,
  type RatchetMessage,
  type SenderKeyMessage,
} from './envelope';
import { VeilError, isVeilError, type VeilErrorCode } from './errors';
import {
  RECEIVED_KEYS_KEPT,
  acceptsMembership,
  deviceRemoved,
  groupState,
  holdersOf,
  memberKeysOf,
  removedMembers,
  rotationNeeded,
  sameMembers,
  type DeviceKeys,
  type GroupState,
  type MemberKeys,
} from './groups';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  identityDhPrivate,
  identityDhPublic,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
  validateHandle,
  type IdentityKeyPair,
  type OneTimePrekey,
  type OneTimePrekeyPublic,
  type PrekeyBundle,
  type SignedPrekey,
  type SignedPrekeyPublic,
} from './identity';
import {
  createKemPrekeys,
  kemPrekeyPublic,
  type KemPrekey,
  type KemPrekeyPublic,
} from './kem-prekey';
import {
  applyContactDeviceList,
  contactDeviceKeys,
  deviceSessionTag,
  deviceTrust,
  nextOwnList,
  type ContactDevice,
  type OwnDevices,
} from './linked-devices';
import {
  combineStatus,
  isMoved,
  type MessageStatus,
  type PageView,
  type TrustStatus,
} from './placement';
import {
  ORIGIN_ID_LENGTH,
  decodePlaintext,
  encodeOriginBody,
  encodePlaintext,
  peerTag,
  type GossipedHead,
  type GroupMember,
  type PlaintextRecord,
  type SealedOrigin,
} from './plaintext';
import { RATCHET_MAX_FIRST_JUMP } from './ratchet';
import { safetyNumber } from './safety-number';
import {
  createSenderKey,
  distributionRecord,
  acceptDistribution,
  groupDecrypt,
  groupEncrypt,
  parseDistribution,
  senderKeySignatureCheck,
  type OwnSenderKey,
  type ReceivedSenderKey,
} from './sender-key';
import {
  createInitiatorSession,
  sessionDecrypt,
  sessionEncrypt,
  sessionFromPrekeyMessage,
  type SessionRecord,
} from './session';
import type { ProtocolStore, StoreOp, StoreTable } from './store';
import { recipientTag } from './x3dh';

export type { MessageStatus, PageView, TrustStatus } from './placement';
export type { GossipedHead, SealedOrigin } from './plaintext';

/** Where and when a message says it was written, and its place in the sender's order. */
export interface SealedInfo {
  kind: 'direct' | 'group';
  /** The sender's per-conversation sequence (1 for the first message). */
  seq?: number;
  /** When the sender's clock says it was written, milliseconds since the epoch (to the second). */
  sentAt?: number;
  /** Absent when the message that carried it was never seen here. */
  origin?: SealedOrigin;
  /** Group messages: the group id. */
  groupId?: Uint8Array;
  /**
   * The order this message's `seq` counts in: one per sender identity key and conversation
   * (`d:<key hex>` for 1:1, `g:<key hex>:<group id hex>` for a group).
   */
  stream: string;
}

export interface DecryptResult {
  status: MessageStatus;
  /** The sender as pinned by the user (`unknown-sender` when no pin matches). */
  trust?: TrustStatus;
  /** The page shows the block where a different conversation is (placement.ts isMoved). */
  moved?: boolean;
  /** The sender's handle as the sender names it; evidence only once `trust` says so. */
  sender?: string;
  senderIdentityKey?: Uint8Array;
  plaintext?: string;
  /** 'direct' for 1:1 (Double Ratchet), 'group' for sender-key messages. */
  kind?: 'direct' | 'group';
  sealed?: SealedInfo;
  /** The sender's latest directory tree head, when the message carried one. */
  treeHead?: GossipedHead;
  /** Why it failed (status 'failed'): replay, bad-mac, own-message … */
  error?: VeilErrorCode;
  /** Written on another device of ours (`sender` is our handle); `peer` is who it went to. */
  fromOwnDevice?: true;
}

export interface Contact {
  handle: string;
  /** The pinned Ed25519 identity key; only the user changes it (acknowledgeKeyChange). */
  identityKey: Uint8Array;
  verified: boolean;
  firstSeen: number;
  /** A different key the directory showed for this handle, not yet accepted: sending is blocked. */
  pendingKey?: Uint8Array;
  /** Hex session tag of the session we send on. */
  session?: string;
  /**
   * They set sessions up post-quantum (a KEM prekey in their bundle, or a type-5 message from
   * them): from then on a bundle without one is a downgrade and refused.
   */
  postQuantum?: true;
  /** Their devices from the newest device list signed by `identityKey` that we checked. */
  devices?: ContactDevice[];
  deviceListVersion?: number;
  /** Device key hex → session we send to that device on (the account key's is `session`). */
  sessions?: Record<string, string>;
  /** When a newer list than the first we saw linked or unlinked one of their devices (ms). */
  devicesChangedAt?: number;
}

export interface PublicIdentity {
  handle: string;
  /** The account key: what people pin and compare safety numbers of. */
  identityKey: Uint8Array;
  /** This browser's own key and id (the account key and 1 unless linked to another device's account). */
  deviceKey?: Uint8Array;
  deviceId?: number;
}

export interface PublishedIdentity extends PublicIdentity {
  signedPrekey: SignedPrekeyPublic;
  oneTimePrekeys: OneTimePrekeyPublic[];
  /** ML-KEM-768 prekeys: the current last-resort one and fresh one-time ones. */
  kemPrekeys: { lastResort: KemPrekeyPublic; oneTime: KemPrekeyPublic[] };
}

export interface Conversation {
  /** The page's conversation id; a group's id is `contextHash(context)` (docs/protocol.md). */
  context: string;
  /** Handles of the people who should read it (never ourselves). */
  recipients: string[];
  /** Default: one recipient → direct, more → group. A direct message has exactly one. */
  kind?: 'direct' | 'group';
  /** Sealed and shown to the readers; default `{ site: '', name: context }`. */
  origin?: SealedOrigin;
  /** Our latest verified directory tree head, sealed when it changed (split-view detection). */
  treeHead?: GossipedHead;
}

/** What encryptSealed sealed, for the caller's own copy of the message. */
export interface SentMessage {
  envelope: Uint8Array;
  kind: 'direct' | 'group';
  seq: number;
  sentAt: number;
  groupId?: Uint8Array;
}

interface IdentityRecord extends IdentityKeyPair {
  handle: string;
  createdAt: number;
  signedPrekeyId: number;
  nextOneTimePrekeyId: number;
  /** Absent in identities made before post-quantum setup: the next publish adds them. */
  nextKemPrekeyId?: number;
  kemLastResortId?: number;
  /** Linked into another device's account: its account key and our id there. */
  account?: { key: Uint8Array; deviceId: number };
}

/** Our own sender key for one group (`senderKeys`, key `own:<group id hex>`). */
interface OwnGroupRecord {
  groupId: Uint8Array;
  key: OwnSenderKey;
  /** Who holds this sender key: handle → the identity key (hex) it was given to. */
  memberKeys: MemberKeys;
  /** The devices that hold it: handle → device keys (hex); absent in keys made before devices. */
  devices?: DeviceKeys;
  createdAt: number;
  /** Messages sent with it. */
  sent: number;
  /** A membership change asks for a new key before the next message. */
  rotate?: boolean;
}

/** Another member's sender key (`senderKeys`, key `in:<sender key id hex>`, a list). */
interface ReceivedGroupRecord {
  sender: string;
  /** The device key that wrote it (and signs with it). */
  senderIdentityKey: Uint8Array;
  /** The account that device claims to write for, when not the device key itself. */
  accountKey?: Uint8Array;
  groupId: Uint8Array;
  key: ReceivedSenderKey;
  receivedAt: number;
  /** Filed from a sender no pin vouched for (it gives way first; its chain may skip little). */
  unvouched?: true;
}

/** What we last sealed in one of our own conversations (`meta`, key `out/<stream>`). */
interface OutStream {
  seq: number;
  originId?: string;
  headSize?: number;
  headOrigin?: string;
}

/** Signed prekeys older than this are replaced on the next publish (Signal rotates weekly-ish). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/** Retired signed prekeys are kept this long for messages still in flight. */
const SIGNED_PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000;
const MAX_TEXT_BYTES = 60 * 1024;
/** Origins remembered per sender (their messages name them by id). */
const MAX_ORIGINS_PER_SENDER = 32;

export interface VeilOptions {
  store: ProtocolStore;
  crypto?: CryptoProvider;
  clock?: () => number;
}

/** A page view from the plain context string older callers pass; checked, as it is the page's. */
function pageOf(page: string | PageView): PageView {
  const view = typeof page === 'string' ? { context: page } : page;
  if (
    typeof view?.context !== 'string' ||
    (view.kind !== undefined && view.kind !== 'direct' && view.kind !== 'group') ||
    (view.peers !== undefined &&
      (!Array.isArray(view.peers) || view.peers.some((h) => typeof h !== 'string')))
  )
    throw new VeilError('invalid-argument', 'not a page conversation');
  return view;
}

/** The 4-byte id a stamp names an origin by: SHA-256 of the origin record's body. */
export function originId(origin: SealedOrigin): Uint8Array {
  return sha256(encodeOriginBody(origin)).slice(0, ORIGIN_ID_LENGTH);
}

export class Veil {
  private readonly store: ProtocolStore;
  private readonly crypto: CryptoProvider;
  private readonly clock: () => number;
  // Every operation runs after the previous one: two decrypts racing on one session could
  // otherwise both succeed from the same state and reopen a replay window.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly contexts = new Map<string, ContextInfo>();

  private constructor(opts: VeilOptions) {
    this.store = opts.store;
    this.crypto = opts.crypto ?? nobleProvider;
    this.clock = opts.clock ?? (() => 0);
  }

  static async create(opts: VeilOptions): Promise<Veil> {
    return new Veil(opts);
  }

  /** Conversation facts derived and kept in memory (rebuilt from the store on use). */
  derivedSize(): number {
    return this.contexts.size;
  }

  forgetDerived(): void {
    this.contexts.clear();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- identity and prekeys ----

  /** Creates this device's identity and its first signed prekey. Refuses to overwrite one. */
  createIdentity(handle: string): Promise<PublicIdentity> {
    return this.serial(async () => {
      validateHandle(handle);
      if (await this.store.get('identity', 'self'))
        throw new VeilError('invalid-argument', 'an identity already exists; delete it first');
      const keys = await generateIdentity(this.crypto);
      const now = this.clock();
      const spk = await createSignedPrekey(this.crypto, keys, 1, now);
      const record: IdentityRecord = {
        ...keys,
        handle,
        createdAt: now,
        signedPrekeyId: spk.id,
        nextOneTimePrekeyId: 1,
      };
      await this.store.commit([
        { op: 'put', table: 'identity', key: 'self', value: record },
        { op: 'put', table: 'signedPrekeys', key: String(spk.id), value: spk },
      ]);
      return { handle, identityKey: keys.publicKey.slice() };
    });
  }

  async getIdentity(): Promise<PublicIdentity | undefined> {
    const id = await this.store.get<IdentityRecord>('identity', 'self');
    return (
      id && {
        handle: id.handle,
        identityKey: accountKeyOf(id),
        deviceKey: id.publicKey,
        deviceId: id.account?.deviceId ?? 1,
      }
    );
  }

  // ---- linked devices (docs/devices.md) ----

  /** Our account's newest device list we hold (none before a device was linked or published). */
  async ownDevices(): Promise<SignedDeviceList | undefined> {
    return (await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY))?.list;
  }

  /**
   * Our list as published: the one held, else (first publish) this device alone as device 1,
   * signed and kept, so later lists are newer than it.
   */
  ownDeviceList(): Promise<SignedDeviceList> {
    return this.serial(async () => {
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      if (own) return own.list;
      const id = await this.accountHolder();
      const list = await nextOwnList(this.crypto, id, undefined, this.seconds(), (d) => d);
      await this.store.commit([this.ownDevicesPut(list, undefined)]);
      return list;
    });
  }

  /**
   * This device (holding the account key) signs a list with `deviceKey` added; the caller
   * publishes it. Linking the same key again returns a list that still has it once.
   */
  linkDevice(deviceKey: Uint8Array): Promise<SignedDeviceList> {
    return this.serial(async () => {
      if (!(deviceKey instanceof Uint8Array) || deviceKey.length !== 32)
        throw new VeilError('invalid-key', 'a device key is 32 bytes');
      const id = await this.accountHolder();
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      const list = await nextOwnList(this.crypto, id, own?.list, this.seconds(), (devices) =>
        devices.some((d) => bytesEqual(d.key, deviceKey))
          ? devices
          : [
              ...devices,
              {
                id: Math.max(...devices.map((d) => d.id)) + 1,
                key: deviceKey.slice(),
                addedAt: this.seconds(),
              },
            ],
      );
      await this.store.commit([this.ownDevicesPut(list, own)]);
      return list;
    });
  }

  /** A list without device `deviceId`; its sessions are dropped: nothing sent later reaches it. */
  removeDevice(deviceId: number): Promise<SignedDeviceList> {
    return this.serial(async () => {
      const id = await this.accountHolder();
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      const list = await nextOwnList(this.crypto, id, own?.list, this.seconds(), (devices) =>
        devices.filter((d) => d.id !== deviceId),
      );
      await this.store.commit([
        this.ownDevicesPut(list, own),
        ...(await this.dropUnlistedKeys(
          id.handle,
          list.devices.map((d) => d.key),
        )),
      ]);
      return list;
    });
  }

  /**
   * A new browser joins the account whose key is `accountKey` (shown on the linking device):
   * the list must be signed by it, name our handle and hold our device key.
   */
  joinAccount(list: SignedDeviceList, accountKey: Uint8Array): Promise<PublicIdentity> {
    return this.serial(async () => {
      const id = await this.identity();
      if (id.account && !bytesEqual(id.account.key, accountKey))
        throw new VeilError('invalid-argument', 'this device is linked to another account');
      await verifyDeviceList(this.crypto, accountKey, list, { handle: id.handle });
      const me = list.devices.find((d) => bytesEqual(d.key, id.publicKey));
      if (!me) throw new VeilError('not-for-us', 'the device list does not name this device');
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      const next: IdentityRecord = { ...id, account: { key: accountKey.slice(), deviceId: me.id } };
      await this.store.commit([
        { op: 'put', table: 'identity', key: 'self', value: next },
        this.ownDevicesPut(list, own),
      ]);
      return {
        handle: id.handle,
        identityKey: accountKey.slice(),
        deviceKey: id.publicKey,
        deviceId: me.id,
      };
    });
  }

  /**
   * A newer list of our own account (from the directory or a message): checked under the
   * account key; sessions with devices it no longer names are dropped. `removed` when it no
   * longer names this device: the caller stops (nothing sent to the account reaches us).
   */
  setOwnDevices(list: SignedDeviceList): Promise<'ok' | 'removed'> {
    return this.serial(async () => {
      const id = await this.identity();
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      await verifyDeviceList(this.crypto, accountKeyOf(id), list, {
        handle: id.handle,
        minVersion: own?.list.version ?? 0,
      });
      await this.store.commit([
        this.ownDevicesPut(list, own),
        ...(await this.dropUnlistedKeys(
          id.handle,
          list.devices.map((d) => d.key),
        )),
      ]);
      return list.devices.some((d) => bytesEqual(d.key, id.publicKey)) ? 'ok' : 'removed';
    });
  }

  /** A contact's device list (the caller checked it against the log): signed by their pinned key. */
  setContactDevices(handle: string, list: SignedDeviceList): Promise<Contact> {
    return this.serial(async () => {
      const c = await this.contact(handle);
      if (c.pendingKey)
        throw new VeilError('untrusted-identity', 'acknowledge the key change first');
      let next = await applyContactDeviceList(this.crypto, c, handle, list);
      // A device linked or unlinked since a list we held: a quiet note, not a key change.
      const keys = (x: Contact) =>
        (x.devices ?? [])
          .map((d) => bytesToHex(d.key))
          .sort()
          .join();
      if (next !== c && c.devices && keys(next) !== keys(c))
        next = { ...next, devicesChangedAt: this.clock() };
      if (next !== c)
        await this.store.commit([
          { op: 'put', table: 'contacts', key: handle, value: next },
          // A device they unlinked writes nothing more that we take as theirs.
          ...(await this.dropUnlistedKeys(handle, [next.identityKey, ...contactDeviceKeys(next)])),
        ]);
      return next;
    });
  }

  /**
   * Devices of these contacts and our own other devices we have no session with yet: the caller
   * fetches their bundles (`GET …/devices/{id}/bundle`) and calls startSession with each.
   */
  async missingSessions(
    handles: readonly string[],
  ): Promise<{ handle: string; deviceId: number; key: Uint8Array }[]> {
    const id = await this.identity();
    const out: { handle: string; deviceId: number; key: Uint8Array }[] = [];
    for (const handle of new Set(handles)) {
      const c = await this.store.get<Contact>('contacts', handle);
      if (!c || c.pendingKey || !c.devices) continue;
      for (const d of c.devices) {
        if (bytesEqual(d.key, c.identityKey)) continue;
        const tag = deviceSessionTag(c, d.key);
        if (!tag || !(await this.store.get('sessions', tag)))
          out.push({ handle, deviceId: d.id, key: d.key });
      }
    }
    const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
    for (const d of own?.list.devices ?? []) {
      if (bytesEqual(d.key, id.publicKey)) continue;
      const tag = own!.sessions[bytesToHex(d.key)];
      if (!tag || !(await this.store.get('sessions', tag)))
        out.push({ handle: id.handle, deviceId: d.id, key: d.key });
    }
    return out;
  }

  private ownDevicesPut(list: SignedDeviceList, before: OwnDevices | undefined): StoreOp {
    const keep = new Set(list.devices.map((d) => bytesToHex(d.key)));
    const sessions = Object.fromEntries(
      Object.entries(before?.sessions ?? {}).filter(([hex]) => keep.has(hex)),
    );
    return { op: 'put', table: 'meta', key: OWN_DEVICES_KEY, value: { list, sessions } };
  }

  /** Our identity when this device holds the account key (only it signs device lists). */
  private async accountHolder(): Promise<IdentityRecord> {
    const id = await this.identity();
    if (id.account && !bytesEqual(id.account.key, id.publicKey))
      throw new VeilError(
        'invalid-argument',
        'only the device holding the account key can do that',
      );
    return id;
  }

  private seconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  /**
   * What to publish to the directory: the identity, the current signed prekey (rotated when
   * older than SIGNED_PREKEY_ROTATION_MS) and `oneTimePrekeys` fresh one-time prekeys.
   */
  publicBundle(
    opts: { oneTimePrekeys?: number; kemPrekeys?: number } = {},
  ): Promise<PublishedIdentity> {
    return this.serial(async () => {
      const id = await this.identity();
      const now = this.clock();
      const ops: StoreOp[] = [];
      let spk = await this.store.get<SignedPrekey>('signedPrekeys', String(id.signedPrekeyId));
      if (!spk || now - spk.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
        spk = await createSignedPrekey(this.crypto, id, id.signedPrekeyId + 1, now);
        ops.push({ op: 'put', table: 'signedPrekeys', key: String(spk.id), value: spk });
        ops.push(...(await this.retire('signedPrekeys', now, (old) => old.id !== spk!.id)));
        id.signedPrekeyId = spk.id;
      }
      const count = opts.oneTimePrekeys ?? 20;
      const otps: OneTimePrekey[] =
        count > 0 ? await createOneTimePrekeys(this.crypto, id.nextOneTimePrekeyId, count) : [];
      for (const otp of otps)
        ops.push({ op: 'put', table: 'oneTimePrekeys', key: String(otp.id), value: otp });
      id.nextOneTimePrekeyId += otps.length;
      // The last-resort KEM prekey is served when no one-time one is left; it is replaced on
      // the signed prekey's schedule and kept as long for messages in flight.
      let lastResort = id.kemLastResortId
        ? await this.store.get<KemPrekey>('kemPrekeys', String(id.kemLastResortId))
        : undefined;
      let nextKem = id.nextKemPrekeyId ?? 1;
      if (!lastResort || now - lastResort.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
        [lastResort] = (await createKemPrekeys(this.crypto, id.privateKey, nextKem, 1, {
          lastResort: true,
          now,
        })) as [KemPrekey];
        nextKem += 1;
        ops.push({ op: 'put', table: 'kemPrekeys', key: String(lastResort.id), value: lastResort });
        ops.push(
          ...(await this.retire(
            'kemPrekeys',
            now,
            (old) => old.lastResort === true && old.id !== lastResort!.id,
          )),
        );
        id.kemLastResortId = lastResort.id;
      }
      const kems = await createKemPrekeys(
        this.crypto,
        id.privateKey,
        nextKem,
        opts.kemPrekeys ?? 10,
        { lastResort: false, now },
      );
      for (const k of kems)
        ops.push({ op: 'put', table: 'kemPrekeys', key: String(k.id), value: k });
      id.nextKemPrekeyId = nextKem + kems.length;
      ops.push({ op: 'put', table: 'identity', key: 'self', value: id });
      await this.store.commit(ops);
      return {
        handle: id.handle,
        identityKey: id.publicKey,
        signedPrekey: signedPrekeyPublic(spk),
        oneTimePrekeys: otps.map(oneTimePrekeyPublic),
        kemPrekeys: { lastResort: kemPrekeyPublic(lastResort), oneTime: kems.map(kemPrekeyPublic) },
      };
    });
  }

  /**
   * The signed prekey we publish now, and whether it (or the last-resort KEM prekey, made on
   * the same schedule; absent in identities from before post-quantum setup) is due.
   */
  async signedPrekeyStatus(): Promise<{ id: number; due: boolean }> {
    const id = await this.identity();
    const spk = await this.store.get<SignedPrekey>('signedPrekeys', String(id.signedPrekeyId));
    const kem = id.kemLastResortId
      ? await this.store.get<KemPrekey>('kemPrekeys', String(id.kemLastResortId))
      : undefined;
    const old = (createdAt: number) => this.clock() - createdAt >= SIGNED_PREKEY_ROTATION_MS;
    return { id: id.signedPrekeyId, due: !spk || old(spk.createdAt) || !kem || old(kem.createdAt) };
  }

  /**
   * Deletes replaced keys of `table` past the grace period (messages in flight still open with
   * them until then); `replaced` picks the records that rotate (not the current one).
   */
  private async retire(
    table: 'signedPrekeys' | 'kemPrekeys',
    now: number,
    replaced: (record: { id: number; createdAt: number; lastResort?: boolean }) => boolean,
  ): Promise<StoreOp[]> {
    const ops: StoreOp[] = [];
    for (const key of await this.store.keys(table)) {
      const old = await this.store.get<{ id: number; createdAt: number; lastResort?: boolean }>(
        table,
        key,
      );
      if (old && replaced(old) && now - old.createdAt > SIGNED_PREKEY_GRACE_MS)
        ops.push({ op: 'delete', table, key });
    }
    return ops;
  }

  /**
   * X25519 of this device's key (its Montgomery form) with `publicKey`: opens what another of our
   * devices wrapped for this one (a new sync key, device-sync.ts). The private key stays here.
   */
  async deviceDh(publicKey: Uint8Array): Promise<Uint8Array> {
    const id = await this.identity();
    return this.crypto.x25519(identityDhPrivate(id.privateKey), publicKey);
  }

  /** Signs arbitrary bytes with the identity key (directory requests). Keys stay here. */
  async sign(message: Uint8Array): Promise<Uint8Array> {
    const id = await this.identity();
    return this.crypto.ed25519Sign(id.privateKey, message);
  }

  // ---- contacts and trust ----

  async getContact(handle: string): Promise<Contact | undefined> {
    return this.store.get<Contact>('contacts', handle);
  }

  async listContacts(): Promise<Contact[]> {
    const out: Contact[] = [];
    for (const key of await this.store.keys('contacts')) {
      const c = await this.store.get<Contact>('contacts', key);
      if (c) out.push(c);
    }
    return out.sort((a, b) => a.handle.localeCompare(b.handle));
  }

  /**
   * Pins a contact's key, as the user chose it (from a directory lookup the caller checked). A
   * different key for a known handle is recorded as pending (status key-changed, sending
   * blocked) until acknowledgeKeyChange. Only the user's actions call this: a message never does.
   */
  addContact(handle: string, identityKey: Uint8Array): Promise<Contact> {
    return this.serial(async () => {
      const { contact, ops } = await this.pin(handle, identityKey);
      await this.store.commit(ops);
      return contact;
    });
  }

  markVerified(handle: string, verified = true): Promise<Contact> {
    return this.serial(async () => {
      const c = await this.contact(handle);
      if (c.pendingKey)
        throw new VeilError('untrusted-identity', 'acknowledge the key change before verifying');
      const next = { ...c, verified };
      await this.store.commit([{ op: 'put', table: 'contacts', key: handle, value: next }]);
      return next;
    });
  }

  /** Accepts a contact's new key: it becomes the pinned key, unverified, and sending resumes. */
  acknowledgeKeyChange(handle: string): Promise<Contact> {
    return this.serial(async () => {
      const c = await this.contact(handle);
      if (!c.pendingKey) return c;
      const next: Contact = { ...c, identityKey: c.pendingKey, verified: false };
      delete next.pendingKey;
      delete next.session;
      // Their old account key's device list and device sessions speak for nobody now.
      delete next.devices;
      delete next.deviceListVersion;
      delete next.sessions;
      await this.store.commit([{ op: 'put', table: 'contacts', key: handle, value: next }]);
      return next;
    });
  }

  /** The 60-digit safety number with a contact (their pinned key, or the pending one). */
  async safetyNumber(handle: string, opts: { pending?: boolean } = {}): Promise<string> {
    const id = await this.identity();
    const c = await this.contact(handle);
    const key = opts.pending && c.pendingKey ? c.pendingKey : c.identityKey;
    return safetyNumber(
      { id: id.handle, identityKey: identityDhPublic(accountKeyOf(id)) },
      { id: c.handle, identityKey: identityDhPublic(key) },
    );
  }

  private async pin(
    handle: string,
    identityKey: Uint8Array,
  ): Promise<{ contact: Contact; ops: StoreOp[]; changed: boolean }> {
    validateHandle(handle);
    const existing = await this.store.get<Contact>('contacts', handle);
    let contact: Contact;
    let changed = false;
    if (!existing) {
      contact = {
        handle,
        identityKey: identityKey.slice(),
        verified: false,
        firstSeen: this.clock(),
      };
    } else if (bytesEqual(existing.identityKey, identityKey)) {
      contact = existing;
    } else {
      changed = true;
      contact = { ...existing, pendingKey: identityKey.slice() };
      delete contact.session;
    }
    return {
      contact,
      changed,
      ops: [{ op: 'put', table: 'contacts', key: handle, value: contact }],
    };
  }

  // ---- sessions ----

  /**
   * Starts a 1:1 session from a prekey bundle fetched from the directory. Pins the key on first
   * use; a key that differs from the pinned one throws 'untrusted-identity' (and is recorded as
   * pending so the user can compare and acknowledge it).
   */
  startSession(bundle: PrekeyBundle, opts: { deviceId?: number } = {}): Promise<void> {
    return this.serial(async () => {
      const id = await this.identity();
      if (opts.deviceId !== undefined) return this.startDeviceSession(id, bundle, opts.deviceId);
      const { contact, ops, changed } = await this.pin(bundle.handle, bundle.identityKey);
      if (changed || contact.pendingKey) {
        await this.store.commit(ops);
        throw new VeilError('untrusted-identity', 'the contact identity key changed');
      }
      // Someone between us and the directory may strip the KEM prekey to record a session a
      // quantum computer could open later: once a contact used post-quantum setup, refuse.
      if (contact.postQuantum && !bundle.kemPrekey)
        throw new VeilError(
          'downgrade',
          'this contact sets sessions up post-quantum, but the bundle has no KEM prekey',
        );
      const record = await createInitiatorSession(this.crypto, {
        ourIdentity: id,
        theirBundle: bundle,
      });
      const tag = bytesToHex(record.sessionTag);
      const next: Contact = { ...contact, session: tag };
      if (bundle.kemPrekey) next.postQuantum = true;
      await this.store.commit([
        { op: 'put', table: 'sessions', key: tag, value: record },
        { op: 'put', table: 'contacts', key: bundle.handle, value: next },
      ]);
    });
  }

  /**
   * A session with one device of a contact (or of ours) that their checked device list names
   * with this key; the bundle's `identityKey` is the device key. Refused (`untrusted-identity`)
   * for a device the list does not name: the directory cannot add devices to a person.
   */
  private async startDeviceSession(
    id: IdentityRecord,
    bundle: PrekeyBundle,
    deviceId: number,
  ): Promise<void> {
    validateHandle(bundle.handle);
    const named = (devices: readonly { id: number; key: Uint8Array }[] | undefined) =>
      devices?.some((d) => d.id === deviceId && bytesEqual(d.key, bundle.identityKey)) ?? false;
    const keyHex = bytesToHex(bundle.identityKey);
    // Every browser that can be linked publishes KEM prekeys: a device bundle without one was
    // stripped on the way, so no classical session with it.
    if (!bundle.kemPrekey) throw new VeilError('downgrade', 'a device bundle without a KEM prekey');
    if (bundle.handle === id.handle) {
      const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      if (!own || !named(own.list.devices) || bytesEqual(bundle.identityKey, id.publicKey))
        throw new VeilError('untrusted-identity', 'not one of our other devices');
      const record = await createInitiatorSession(this.crypto, {
        ourIdentity: id,
        theirBundle: bundle,
      });
      const tag = bytesToHex(record.sessionTag);
      await this.store.commit([
        sessionPut(record),
        {
          op: 'put',
          table: 'meta',
          key: OWN_DEVICES_KEY,
          value: { ...own, sessions: { ...own.sessions, [keyHex]: tag } },
        },
      ]);
      return;
    }
    const contact = await this.contact(bundle.handle);
    if (contact.pendingKey)
      throw new VeilError('untrusted-identity', 'the contact identity key changed');
    if (!named(contact.devices))
      throw new VeilError('untrusted-identity', 'their device list does not name this device');
    const record = await createInitiatorSession(this.crypto, {
      ourIdentity: id,
      theirBundle: bundle,
    });
    const tag = bytesToHex(record.sessionTag);
    await this.store.commit([
      sessionPut(record),
      {
        op: 'put',
        table: 'contacts',
        key: contact.handle,
        value: { ...contact, sessions: { ...contact.sessions, [keyHex]: tag } },
      },
    ]);
  }

  /**
   * Whether we can send to `handle` now: a contact without a pending key change and a session
   * to send on (or one they started with the pinned key, which is adopted here). False too when
   * our session went unanswered so long that its next pre-key message could not be read
   * (RATCHET_MAX_FIRST_JUMP): the caller then starts a new one from the directory.
   */
  async hasSession(handle: string): Promise<boolean> {
    return (await this.sendable(handle)) === 'ready';
  }

  /**
   * hasSession, telling apart why not: `key-changed` (a pending key the user must accept first)
   * or `none` (no contact, or no session yet: start one from the directory).
   */
  sendable(handle: string): Promise<'ready' | 'none' | 'key-changed'> {
    return this.serial(async () => {
      const contact = await this.store.get<Contact>('contacts', handle);
      if (!contact) return 'none';
      if (contact.pendingKey) return 'key-changed';
      const found = await this.usableSession(contact);
      if (found && found.tag !== contact.session)
        await this.store.commit([
          { op: 'put', table: 'contacts', key: handle, value: { ...contact, session: found.tag } },
        ]);
      return found ? 'ready' : 'none';
    });
  }

  /** The contact's session to send on: theirs, else the last one they started with their key. */
  private async usableSession(
    contact: Contact,
    reader: Pick<ProtocolStore, 'get'> = this.store,
  ): Promise<{ tag: string; record: SessionRecord } | undefined> {
    for (const tag of [
      contact.session,
      await reader.get<string>('meta', inboundKey(contact.handle, contact.identityKey)),
    ]) {
      if (!tag) continue;
      const record = await reader.get<SessionRecord>('sessions', tag);
      if (!record || !bytesEqual(record.remoteIdentityKey, contact.identityKey)) continue;
      if (record.remoteHandle !== undefined && record.remoteHandle !== contact.handle) continue;
      if (record.pendingPrekey && record.state.sendCounter > RATCHET_MAX_FIRST_JUMP) continue;
      return { tag, record };
    }
    return undefined;
  }

  // ---- groups ----

  /**
   * Our view of the members of the group a page conversation is (none before its first
   * message), and who was taken out at which epoch.
   */
  async groupMembers(
    context: string,
  ): Promise<
    { epoch: number; members: GroupMember[]; removed: Record<string, number> } | undefined
  > {
    const state = await this.store.get<GroupState>('meta', groupKey(this.ctx(context).hex));
    return state && { epoch: state.epoch, members: state.members, removed: state.removed ?? {} };
  }

  // ---- encrypt ----

  /** Encrypts text for a conversation and armors it in chunks of at most `maxChunkLength`. */
  async encrypt(
    conversation: Conversation,
    plaintext: string,
    opts: { maxChunkLength?: number } = {},
  ): Promise<string[]> {
    const envelope = await this.encryptEnvelope(conversation, plaintext);
    return armor(envelope, {
      maxChunkLength: opts.maxChunkLength,
      randomBytes: (n) => this.crypto.randomBytes(n),
    });
  }

  async encryptEnvelope(conversation: Conversation, plaintext: string): Promise<Uint8Array> {
    return (await this.encryptSealed(conversation, plaintext)).envelope;
  }

  /**
   * Encrypts with the conversation, time and sequence sealed inside (docs/protocol.md "Sealed
   * conversation, time and order"); returns the envelope and what was sealed.
   */
  encryptSealed(conversation: Conversation, plaintext: string): Promise<SentMessage> {
    return this.serial(async () => {
      const id = await this.identity();
      const recipients = [...new Set(conversation.recipients)].filter((h) => h !== id.handle);
      if (recipients.length === 0)
        throw new VeilError('invalid-argument', 'a message needs at least one recipient');
      if (typeof plaintext !== 'string' || plaintext.length > MAX_TEXT_BYTES)
        throw new VeilError('oversized', 'message too long');
      const kind = conversation.kind ?? (recipients.length === 1 ? 'direct' : 'group');
      if (kind === 'direct' && recipients.length !== 1)
        throw new VeilError('invalid-argument', 'a direct message has exactly one recipient');
      const origin = conversation.origin ?? { site: '', name: conversation.context };
      const sentAt = Math.floor(this.clock() / 1000);
      const ops: StoreOp[] = [];
      if (kind === 'direct') {
        const [handle] = recipients as [string];
        const targets = await this.directTargets(id, handle, ops);
        const pending = targets.some((t) => !!t.record.pendingPrekey);
        const stream = `d:${handle}`;
        const { records, seq } = await this.sealedRecords(stream, origin, conversation, sentAt, {
          force: pending,
          ops,
        });
        records.unshift({ type: 'text', text: plaintext });
        if (pending) records.push({ type: 'sender-handle', handle: id.handle });
        const body = encodePlaintext(records);
        // To the peer's account key alone the session binds it; to any other key (a device some
        // list names, which could be anyone's) it goes as a fan-out, whose wraps bind the handle
        // each device takes it for.
        const accountKey = (await this.store.get<Contact>('contacts', handle))!.identityKey;
        let envelope: Uint8Array;
        if (targets.length === 1 && bytesEqual(targets[0]!.key, accountKey)) {
          const out = await sessionEncrypt(this.crypto, targets[0]!.record, body);
          ops.push(sessionPut(out.record));
          envelope = out.envelope;
        } else envelope = await this.fanout(targets, body, ops);
        await this.store.commit(ops);
        return { envelope, kind, seq, sentAt: sentAt * 1000 };
      }
      const ctx = this.ctx(conversation.context);
      const { envelope, seq } = await this.encryptGroup(
        id,
        ctx,
        recipients,
        plaintext,
        origin,
        conversation,
        sentAt,
        ops,
      );
      await this.store.commit(ops);
      return { envelope, kind, seq, sentAt: sentAt * 1000, groupId: ctx.hash.slice() };
    });
  }

  /**
   * The stamp (next sequence, time, origin id) and, when they changed on this stream or
   * `force`, the origin and tree-head records; queues the stream's new state in `ops`.
   */
  private async sealedRecords(
    stream: string,
    origin: SealedOrigin,
    conversation: Conversation,
    sentAt: number,
    opts: { force: boolean; ops: StoreOp[] },
  ): Promise<{ records: PlaintextRecord[]; seq: number }> {
    const last = (await this.store.get<OutStream>('meta', outKey(stream))) ?? { seq: 0 };
    const id = originId(origin);
    const idHex = bytesToHex(id);
    const seq = last.seq + 1;
    const records: PlaintextRecord[] = [{ type: 'stamp', seq, sentAt, originId: id }];
    const next: OutStream = { ...last, seq, originId: idHex };
    if (opts.force || last.originId !== idHex) records.push({ type: 'origin', ...origin });
    const head = conversation.treeHead;
    if (
      head &&
      (opts.force || last.headSize !== head.treeSize || last.headOrigin !== head.origin)
    ) {
      records.push({ type: 'tree-head', ...head });
      next.headSize = head.treeSize;
      next.headOrigin = head.origin;
    }
    opts.ops.push({ op: 'put', table: 'meta', key: outKey(stream), value: next });
    return { records, seq };
  }

  /**
   * Every device a direct message to `handle` goes to: each of theirs (their checked list, else
   * the account key) we have a session with, and each other device of ours. Queues the contact's
   * chosen sessions in `ops`. `no-session` when none of theirs has one.
   */
  private async directTargets(
    id: IdentityRecord,
    handle: string,
    ops: StoreOp[],
  ): Promise<DirectTarget[]> {
    const theirs = await this.contactTargets(id, handle, ops);
    return [...theirs.targets, ...(await this.ownTargets(id)).targets];
  }

  /**
   * The devices of one contact a message goes to (those with a session), and every key their
   * checked list names (`keys`, hex; ours and repeats left out). `no-session` when none of
   * theirs has a session.
   */
  private async contactTargets(
    id: IdentityRecord,
    handle: string,
    ops: StoreOp[],
  ): Promise<{ contact: Contact; targets: DirectTarget[]; keys: string[] }> {
    const contact = await this.store.get<Contact>('contacts', handle);
    if (contact?.pendingKey)
      throw new VeilError('untrusted-identity', 'the contact identity key changed');
    if (!contact) throw new VeilError('no-session', 'no session with this contact yet');
    const targets: DirectTarget[] = [];
    let next = contact;
    const ownKeys = [id.publicKey, ...((await this.ownDevices())?.devices.map((d) => d.key) ?? [])];
    const seen = new Set<string>();
    for (const key of contactDeviceKeys(contact)) {
      // A contact's list naming one of our keys (or one twice) gets no wrap for it.
      const hex = bytesToHex(key);
      if (seen.has(hex) || ownKeys.some((k) => bytesEqual(k, key))) continue;
      seen.add(hex);
      if (bytesEqual(key, contact.identityKey)) {
        const found = await this.usableSession(contact);
        if (!found) continue;
        targets.push({ handle, key, ...found, own: false });
        if (contact.session !== found.tag) next = { ...next, session: found.tag };
        continue;
      }
      const record = await this.deviceSession(deviceSessionTag(contact, key), key);
      if (record)
        targets.push({ handle, key, tag: bytesToHex(record.sessionTag), record, own: false });
    }
    if (targets.length === 0) throw new VeilError('no-session', 'no session with this contact yet');
    if (next !== contact) ops.push({ op: 'put', table: 'contacts', key: handle, value: next });
    return { contact: next, targets, keys: [...seen] };
  }

  /** Our other devices with a session, and every other device our list names (`keys`, hex). */
  private async ownTargets(
    id: IdentityRecord,
  ): Promise<{ targets: DirectTarget[]; keys: string[] }> {
    const own = await this.store.get<OwnDevices>('meta', OWN_DEVICES_KEY);
    const targets: DirectTarget[] = [];
    const keys: string[] = [];
    for (const d of own?.list.devices ?? []) {
      if (bytesEqual(d.key, id.publicKey)) continue;
      keys.push(bytesToHex(d.key));
      const record = await this.deviceSession(own!.sessions[bytesToHex(d.key)], d.key);
      if (record)
        targets.push({
          handle: id.handle,
          key: d.key,
          tag: bytesToHex(record.sessionTag),
          record,
          own: true,
        });
    }
    return { targets, keys };
  }

  private async deviceSession(
    tag: string | undefined,
    key: Uint8Array,
  ): Promise<SessionRecord | undefined> {
    const record = tag ? await this.store.get<SessionRecord>('sessions', tag) : undefined;
    if (!record || !bytesEqual(record.remoteIdentityKey, key)) return undefined;
    if (record.pendingPrekey && record.state.sendCounter > RATCHET_MAX_FIRST_JUMP) return undefined;
    return record;
  }

  /**
   * Seals `body` once under a fresh content key and wraps that key for each target in its own
   * session (docs/protocol.md "Fan-out"): about 84 bytes per further device instead of the
   * whole text again.
   */
  private async fanout(
    targets: DirectTarget[],
    body: Uint8Array,
    ops: StoreOp[],
  ): Promise<Uint8Array> {
    // The first device's wrap makes the content key from its own message key (no key sent);
    // the others get that key wrapped. Each wrap's MAC covers the content.
    const content = new Uint8Array(body.length + 16);
    let contentKey = EMPTY_BYTES;
    const [first, ...rest] = targets;
    const wraps: Uint8Array[] = [];
    let digest = EMPTY_BYTES;
    const primary = await sessionEncrypt(this.crypto, first!.record, EMPTY_BYTES, {
      keyWrap: {
        deriveKey: (key) => {
          contentKey = key.slice();
          sealChaCha20Poly1305(contentKey, FANOUT_NONCE, FANOUT_AD, body, content);
          digest = sha256(content);
          return fanoutBinding(first!.handle, digest);
        },
      },
    });
    ops.push(sessionPut(primary.record));
    wraps.push(primary.envelope);
    try {
      for (const t of rest) {
        const out = await sessionEncrypt(this.crypto, t.record, contentKey, {
          keyWrap: { contentHash: fanoutBinding(t.handle, digest) },
        });
        ops.push(sessionPut(out.record));
        wraps.push(out.envelope);
      }
    } finally {
      contentKey.fill(0);
    }
    return encodeFanout(wraps, content);
  }

  /**
   * A group message: the text under our sender key for this group (type 3), with pairwise parts
   * (a group bundle) for every device of a member, or of ours, that lacks the key, and for every
   * device when the member list changed (docs/protocol.md "Groups across devices").
   */
  private async encryptGroup(
    id: IdentityRecord,
    ctx: ContextInfo,
    recipients: string[],
    plaintext: string,
    origin: SealedOrigin,
    conversation: Conversation,
    sentAt: number,
    ops: StoreOp[],
  ): Promise<{ envelope: Uint8Array; seq: number }> {
    const now = this.clock();
    // Members are accounts (handle and account key); devices are where the key goes.
    const members: GroupMember[] = [{ handle: id.handle, identityKey: accountKeyOf(id) }];
    const targets: DirectTarget[] = [];
    const listed: DeviceKeys = {};
    for (const handle of recipients) {
      const theirs = await this.contactTargets(id, handle, ops);
      members.push({ handle, identityKey: theirs.contact.identityKey });
      targets.push(...theirs.targets);
      listed[handle] = theirs.keys;
    }
    const mine = await this.ownTargets(id);
    targets.push(...mine.targets);
    listed[id.handle] = mine.keys;
    const others = members.slice(1);

    // The member list: ours changes when the user picked other recipients than it names.
    const stateKey = groupKey(ctx.hex);
    let state = await this.store.get<GroupState>('meta', stateKey);
    let membershipChanged = false;
    if (!state || !sameMembers(state.members, members)) {
      const before = state;
      state = groupState(ctx.hash, (state?.epoch ?? 0) + 1, members, state);
      ops.push({ op: 'put', table: 'meta', key: stateKey, value: state });
      membershipChanged = true;
      // Those we take out lose what they could still write to us in this group with.
      const gone = new Set(removedMembers(before?.members ?? [], members).map((m) => m.handle));
      if (gone.size > 0) ops.push(...(await this.dropGroupKeysOf(gone, ctx.hash)));
    }

    const ownKey = `own:${ctx.hex}`;
    const held = await this.store.get<OwnGroupRecord>('senderKeys', ownKey);
    // A device that holds our key and left its person's list (or ours) must not read on.
    const keep =
      held && !rotationNeeded(held, others, now) && !deviceRemoved(holdersOf(held), listed);
    const own: OwnGroupRecord = keep
      ? held
      : {
          groupId: ctx.hash,
          key: await createSenderKey(this.crypto),
          memberKeys: {},
          createdAt: now,
          sent: 0,
        };
    const holders: DeviceKeys = {};
    if (keep)
      for (const [handle, keys] of Object.entries(holdersOf(held)))
        if (listed[handle]) holders[handle] = [...keys];
    // Pairwise parts, each bound to the account the device takes it for: the sender key for the
    // devices that lack it, the member list for every device when it changed (so each applies
    // the change and rotates its own key).
    const distribution = distributionRecord(own.key);
    const pairwise: Uint8Array[] = [];
    for (const t of targets) {
      const hex = bytesToHex(t.key);
      const newcomer = !(holders[t.handle] ?? []).includes(hex);
      if (!newcomer && !membershipChanged) continue;
      const records: PlaintextRecord[] = [{ type: 'group', groupId: ctx.hash }];
      if (newcomer) records.push({ type: 'sender-key-distribution', distribution });
      records.push({
        type: 'membership',
        groupId: ctx.hash,
        epoch: state.epoch,
        members: state.members,
      });
      records.push({ type: 'recipient', tag: peerTag(t.handle) });
      if (t.record.pendingPrekey) records.push({ type: 'sender-handle', handle: id.handle });
      const out = await sessionEncrypt(this.crypto, t.record, encodePlaintext(records));
      ops.push(sessionPut(out.record));
      pairwise.push(out.envelope);
      if (newcomer) holders[t.handle] = [...(holders[t.handle] ?? []), hex];
    }
    const { records, seq } = await this.sealedRecords(
      `g:${ctx.hex}`,
      origin,
      conversation,
      sentAt,
      {
        force: pairwise.length > 0,
        ops,
      },
    );
    records.unshift({ type: 'text', text: plaintext });
    const { own: advanced, envelope } = await groupEncrypt(
      this.crypto,
      own.key,
      encodePlaintext(records),
      { ctxHash: ctx.hash, ctxTag: ctx.tag, ...senderOf(id) },
    );
    const next: OwnGroupRecord = {
      groupId: ctx.hash,
      key: advanced,
      memberKeys: memberKeysOf(others),
      devices: holders,
      createdAt: own.createdAt,
      sent: own.sent + 1,
    };
    ops.push({ op: 'put', table: 'senderKeys', key: ownKey, value: next });
    return {
      envelope: pairwise.length ? encodeGroupBundle(pairwise, envelope) : envelope,
      seq,
    };
  }

  // ---- decrypt ----

  /**
   * Decrypts one whole armored message shown where `page` says (a context string, or the page's
   * view with kind and peers). Never throws for bad input.
   */
  async decrypt(page: string | PageView, armored: string): Promise<DecryptResult> {
    let envelope: Uint8Array;
    try {
      envelope = dearmor(armored);
    } catch (e) {
      return failed(e);
    }
    return this.decryptEnvelope(page, envelope);
  }

  decryptEnvelope(page: string | PageView, bytes: Uint8Array): Promise<DecryptResult> {
    return this.serial(async () => {
      try {
        const view = pageOf(page);
        const tx = new StoreTx(this.store);
        const result = await this.decryptIn(tx, view, bytes, this.crypto);
        await this.store.commit(tx.ops());
        return result;
      } catch (e) {
        return failed(e);
      }
    });
  }

  /**
   * Decrypts many whole armored messages shown on one page, in order — what a page shows when
   * it loads. The results are those of calling `decrypt` on each in turn: state moves on message
   * by message, a message that fails leaves nothing behind, a repeat of one is a replay. Faster:
   * records are read once per batch, the batch is written in one commit, and the sender-key
   * signatures (which do not depend on chain state) are checked ahead, concurrently; the
   * in-order pass still checks each signature before it walks a chain (a memo of the exact
   * public key, signed bytes and signature verified ahead, else a verification of its own).
   * Should that final commit fail, every message that had decrypted is reported failed (nothing
   * was stored, as for a failed `decrypt`). Never throws for bad input.
   */
  async decryptMany(page: string | PageView, armored: readonly string[]): Promise<DecryptResult[]> {
    const parsed: (Uint8Array | DecryptResult)[] = Array.from(armored, (text) => {
      try {
        return dearmor(text);
      } catch (e) {
        return failed(e);
      }
    });
    return this.decryptParsed(page, parsed);
  }

  /**
   * `decryptMany` for messages already dearmored (a caller that needed the envelope bytes first,
   * e.g. to look them up in a cache, need not dearmor them twice). Never throws for bad input.
   */
  decryptEnvelopes(
    page: string | PageView,
    envelopes: readonly Uint8Array[],
  ): Promise<DecryptResult[]> {
    return this.decryptParsed(
      page,
      Array.from(envelopes, (e) => (e instanceof Uint8Array ? e : failed(undefined))),
    );
  }

  private async decryptParsed(
    pageIn: string | PageView,
    parsed: (Uint8Array | DecryptResult)[],
  ): Promise<DecryptResult[]> {
    let page: PageView;
    try {
      page = pageOf(pageIn);
    } catch (e) {
      return parsed.map((p) => (p instanceof Uint8Array ? failed(e) : p));
    }
    return this.serial(async () => {
      const batch = new StoreTx(this.store, undefined, true);
      let verified: VerifyMemo = new Map();
      try {
        verified = await this.verifyAhead(batch, parsed);
      } catch {
        // Each message meets the same error below, in decrypt's order of checks.
      }
      const crypto = verified.size ? withVerifyMemo(this.crypto, verified) : this.crypto;
      const results: DecryptResult[] = [];
      for (const item of parsed) {
        if (!(item instanceof Uint8Array)) {
          results.push(item);
          continue;
        }
        const tx = new StoreTx(this.store, batch);
        try {
          results.push(await this.decryptIn(tx, page, item, crypto));
          tx.mergeIntoParent();
        } catch (e) {
          results.push(failed(e));
        }
      }
      try {
        await this.store.commit(batch.ops());
      } catch (e) {
        const why = failed(e);
        return results.map((r) => (r.status === 'failed' ? r : why));
      }
      return results;
    });
  }

  /**
   * Verifies ahead, concurrently, the sender-key signatures the in-order pass will check: for
   * each group message, its candidate states (as held at the start of the batch) in the order
   * the pass tries them, up to the first that verifies. Returns the memo by signature; a state
   * that changes within the batch just misses it.
   */
  private async verifyAhead(
    batch: StoreTx,
    parsed: (Uint8Array | DecryptResult)[],
  ): Promise<VerifyMemo> {
    const memo: VerifyMemo = new Map();
    const jobs: (() => Promise<void>)[] = [];
    const queued = new Map<string, Uint8Array[]>(); // signature hex → message bytes queued
    for (const item of parsed) {
      if (!(item instanceof Uint8Array)) continue;
      let message: SenderKeyMessage;
      try {
        const envelope = decodeEnvelope(item);
        if (envelope.type === 3) message = envelope;
        else if (envelope.type === 4) message = envelope.senderKeyMessage;
        else continue;
      } catch {
        continue;
      }
      // A repeat of a message (a re-rendered page) is verified once.
      const sigHex = bytesToHex(message.signature);
      const same = queued.get(sigHex) ?? [];
      if (same.some((b) => bytesEqual(b, message.bytes))) continue;
      queued.set(sigHex, [...same, message.bytes]);
      jobs.push(async () => {
        const list = await batch.get<ReceivedGroupRecord[]>(
          'senderKeys',
          `in:${bytesToHex(message.senderKeyId)}`,
        );
        for (const candidate of list ?? []) {
          const check = senderKeySignatureCheck(candidate.key, message, groupContext(candidate));
          if (!check) continue;
          const valid = await this.crypto.ed25519Verify(
            check.publicKey,
            check.message,
            check.signature,
          );
          rememberVerify(memo, check, valid);
          if (valid) break;
        }
      });
    }
    // A few in flight: enough to keep a threaded WebCrypto busy, bounded for huge pages.
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        try {
          await jobs[next++]!();
        } catch {
          // The in-order pass meets the same error and reports it.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(VERIFY_AHEAD, jobs.length) }, worker));
    return memo;
  }

  /** One message, all its reads and writes through `tx` (the caller commits). */
  private async decryptIn(
    tx: StoreTx,
    page: PageView,
    bytes: Uint8Array,
    crypto: CryptoProvider,
  ): Promise<DecryptResult> {
    const id = await this.identity(tx);
    const envelope = decodeEnvelope(bytes);
    switch (envelope.type) {
      case 1:
      case 2:
      case 6: {
        const r =
          envelope.type === 6
            ? await this.decryptFanout(tx, id, envelope)
            : await this.decryptPairwise(tx, id, envelope);
        const text = r.records.find((x) => x.type === 'text');
        if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
        const sealed = await this.sealedInfo(tx, r.senderIdentityKey, r.records, {
          kind: 'direct',
          stream: `d:${bytesToHex(r.senderIdentityKey)}`,
        });
        // Our own message from another browser: the reader shows the conversation it sealed; a
        // direct page's peer is not judged (the message does not name whom it went to).
        const out = this.result(
          page,
          {
            trust: r.trust,
            sender: r.sender,
            senderIdentityKey: r.senderIdentityKey,
            plaintext: text.text,
            sealed,
            treeHead: treeHeadOf(r.records),
          },
          r.fromOwnDevice ? { placeAs: '' } : {},
        );
        if (r.fromOwnDevice) out.fromOwnDevice = true;
        return out;
      }
      case 3:
        return this.decryptGroupMessage(tx, page, envelope, crypto);
      case 4: {
        // A bundle holds one envelope per recipient: one for us at most. More would only make
        // us run key agreements for nothing (a page can put our recipient tag on all of them).
        let ours = 0;
        for (const p of envelope.pairwise) {
          if (!(await this.addressedToUs(tx, id, p))) continue;
          if (++ours > 1) throw new VeilError('malformed', 'a bundle holds two envelopes for us');
          try {
            await this.decryptPairwise(tx, id, p);
          } catch (e) {
            // Already processed (the page re-rendered): the sender key is stored by now.
            if (!isVeilError(e, 'replay')) throw e;
          }
        }
        return this.decryptGroupMessage(tx, page, envelope.senderKeyMessage, crypto);
      }
    }
  }

  private result(
    page: PageView,
    r: {
      trust: TrustStatus;
      sender: string;
      senderIdentityKey: Uint8Array;
      plaintext: string;
      sealed: SealedInfo;
      treeHead?: GossipedHead;
    },
    opts: { notMember?: boolean; placeAs?: string } = {},
  ): DecryptResult {
    // Our own message from another device sits in the conversation with its peer.
    const moved = opts.notMember === true || isMoved(r.sealed, opts.placeAs ?? r.sender, page);
    const out: DecryptResult = {
      status: combineStatus(r.trust, { moved }),
      trust: r.trust,
      moved,
      sender: r.sender,
      senderIdentityKey: r.senderIdentityKey,
      plaintext: r.plaintext,
      kind: r.sealed.kind,
      sealed: r.sealed,
    };
    if (r.treeHead) out.treeHead = r.treeHead;
    return out;
  }

  /** The stamp's sequence and time, and the origin it names (remembered per sender). */
  private async sealedInfo(
    tx: StoreTx,
    senderKey: Uint8Array,
    records: PlaintextRecord[],
    base: { kind: 'direct' | 'group'; stream: string; groupId?: Uint8Array },
  ): Promise<SealedInfo> {
    const sealed: SealedInfo = { ...base };
    const key = originsKey(senderKey);
    const origin = records.find((r) => r.type === 'origin');
    let known = await tx.get<Record<string, SealedOrigin>>('meta', key);
    if (origin && origin.type === 'origin') {
      const o: SealedOrigin = { site: origin.site, name: origin.name };
      const idHex = bytesToHex(originId(o));
      if (!known?.[idHex]) {
        const entries = Object.entries(known ?? {}).filter(([k]) => k !== idHex);
        known = Object.fromEntries([...entries.slice(-(MAX_ORIGINS_PER_SENDER - 1)), [idHex, o]]);
        tx.put('meta', key, known);
      }
    }
    const stamp = records.find((r) => r.type === 'stamp');
    if (stamp && stamp.type === 'stamp') {
      sealed.seq = stamp.seq;
      sealed.sentAt = stamp.sentAt * 1000;
      const o = known?.[bytesToHex(stamp.originId)];
      if (o) sealed.origin = o;
    }
    return sealed;
  }

  /**
   * A fan-out: the one wrap for this device (two are refused, as in a bundle) opens the content
   * key through its session, the key's MAC covering the content; then the content.
   */
  private async decryptFanout(
    tx: StoreTx,
    id: IdentityRecord,
    envelope: FanoutMessage,
  ): ReturnType<Veil['decryptPairwise']> {
    let mine: PrekeyMessage | RatchetMessage | undefined;
    for (const w of envelope.wraps) {
      if (!(await this.addressedToUs(tx, id, w))) continue;
      if (mine) throw new VeilError('malformed', 'a fan-out holds two wraps for us');
      mine = w;
    }
    if (!mine) throw new VeilError('not-for-us', 'no wrap in this message is for this device');
    return this.decryptPairwise(tx, id, mine, envelope.content);
  }

  private async addressedToUs(
    tx: StoreTx,
    id: IdentityRecord,
    p: PrekeyMessage | RatchetMessage,
  ): Promise<boolean> {
    if (p.type === 1) return bytesEqual(p.recipientTag, recipientTag(id.publicKey));
    return !!(await tx.get('sessions', bytesToHex(p.sessionTag)));
  }

  /**
   * 1:1 decryption, reading and writing through `tx`; applies the sender keys and member lists
   * it carries. The sender is who the first message named; only a pinned contact with the same
   * key makes it more than a claim. A new session from a pinned contact becomes the one we
   * answer on (a session reset); any other is kept for its later messages only.
   */
  private async decryptPairwise(
    tx: StoreTx,
    id: IdentityRecord,
    envelope: PrekeyMessage | RatchetMessage,
    fanoutContent?: Uint8Array,
  ): Promise<{
    trust: TrustStatus;
    sender: string;
    senderIdentityKey: Uint8Array;
    records: PlaintextRecord[];
    fromOwnDevice?: true;
  }> {
    const keyWrap = fanoutContent
      ? { keyWrap: { contentHash: fanoutBinding(id.handle, sha256(fanoutContent)) } }
      : {};
    const inner = envelope.type === 1 ? envelope.message : envelope;
    const tag = bytesToHex(inner.sessionTag);
    const known = await tx.get<SessionRecord>('sessions', tag);
    let record: SessionRecord;
    let plaintext: Uint8Array;
    if (known) {
      // A peer no pin vouches for may be the page itself (anyone can start a session from the
      // directory's public prekeys): it may skip only as far as a session's first message.
      const vouched =
        known.remoteHandle !== undefined &&
        (await this.trustOf(tx, id, known.remoteHandle, known.remoteIdentityKey)) !==
          'unknown-sender';
      ({ record, plaintext } = await sessionDecrypt(this.crypto, known, envelope, {
        ...(vouched ? {} : { maxJump: RATCHET_MAX_FIRST_JUMP }),
        ...keyWrap,
      }));
    } else {
      if (envelope.type !== 1) throw new VeilError('no-session', 'no session for this message');
      let kem: KemPrekey | undefined;
      const out = await sessionFromPrekeyMessage(
        this.crypto,
        id,
        async ({ signedPrekeyId, oneTimePrekeyId, kemPrekeyId }) => {
          const spk = await tx.get<SignedPrekey>('signedPrekeys', String(signedPrekeyId));
          const otp = oneTimePrekeyId
            ? await tx.get<OneTimePrekey>('oneTimePrekeys', String(oneTimePrekeyId))
            : undefined;
          kem = kemPrekeyId
            ? await tx.get<KemPrekey>('kemPrekeys', String(kemPrekeyId))
            : undefined;
          return { signedPrekey: spk?.keyPair, oneTimePrekey: otp?.keyPair, kemPrekey: kem };
        },
        envelope,
        keyWrap,
      );
      record = out.record;
      plaintext = out.plaintext;
      if (out.usedOneTimePrekeyId) tx.delete('oneTimePrekeys', String(out.usedOneTimePrekeyId));
      // A one-time KEM prekey opens one session; the last-resort one stays.
      if (kem && !kem.lastResort) tx.delete('kemPrekeys', String(kem.id));
    }
    if (fanoutContent) {
      try {
        plaintext = openChaCha20Poly1305(plaintext, FANOUT_NONCE, FANOUT_AD, fanoutContent);
      } catch {
        throw new VeilError('bad-mac', 'fan-out content fails authentication');
      }
    }
    const records = decodePlaintext(plaintext);
    // A group's pairwise part names the account it is for: a device key that some contact's
    // list borrows from us is sent their group keys as theirs, and must not take them as ours.
    if (records.some((r) => r.type === 'group' || r.type === 'membership')) {
      const to = records.find((r) => r.type === 'recipient');
      if (!to || to.type !== 'recipient' || !bytesEqual(to.tag, peerTag(id.handle)))
        throw new VeilError('not-for-us', 'this group part was sent to another account');
    }
    if (!record.remoteHandle) {
      const h = records.find((r) => r.type === 'sender-handle');
      if (!h || h.type !== 'sender-handle')
        throw new VeilError('malformed', 'first message does not name its sender');
      record = { ...record, remoteHandle: validateHandle(h.handle) };
    }
    const sender = record.remoteHandle!;
    const senderKey = record.remoteIdentityKey;
    const trust = await this.trustOf(tx, id, sender, senderKey);
    const own = sender === id.handle && trust === 'verified';
    tx.put('sessions', tag, record);
    let contact = await tx.get<Contact>('contacts', sender);
    if (!known && own) {
      // Another device of ours started a session: we answer (and write) to it on this one.
      const state = (await tx.get<OwnDevices>('meta', OWN_DEVICES_KEY))!;
      tx.put('meta', OWN_DEVICES_KEY, {
        ...state,
        sessions: { ...state.sessions, [bytesToHex(senderKey)]: tag },
      });
    } else if (
      !known &&
      contact &&
      !bytesEqual(contact.identityKey, senderKey) &&
      trust !== 'unknown-sender'
    ) {
      // One of a contact's listed devices started it: we send to that device on it.
      contact = { ...contact, sessions: { ...contact.sessions, [bytesToHex(senderKey)]: tag } };
      tx.put('contacts', sender, contact);
    }
    if (!known) {
      tx.put('meta', inboundKey(sender, senderKey), tag);
      const pinned =
        contact &&
        bytesEqual(contact.identityKey, senderKey) &&
        (trust === 'verified' || trust === 'unverified');
      // A session they set up post-quantum tells us they can: no classical one from us after.
      const pq = envelope.type === 1 && envelope.kem !== undefined;
      if (contact && pinned && (contact.session !== tag || (pq && !contact.postQuantum)))
        tx.put('contacts', sender, {
          ...contact,
          session: tag,
          ...(pq || contact.postQuantum ? { postQuantum: true as const } : {}),
        });
      // Anyone can start sessions (prekeys are public): those of senders no pin vouches for are
      // kept up to a bound, the oldest dropped, so a page cannot fill the store with them.
      if (trust === 'unknown-sender') {
        const strangers = [...((await tx.get<string[]>('meta', STRANGERS_KEY)) ?? []), tag];
        for (const old of strangers.splice(
          0,
          Math.max(0, strangers.length - MAX_STRANGER_SESSIONS),
        ))
          tx.delete('sessions', old);
        tx.put('meta', STRANGERS_KEY, strangers);
      }
    }
    const group = records.find((r) => r.type === 'group');
    const vouched = trust !== 'unknown-sender';
    const distributes = records.some((r) => r.type === 'sender-key-distribution');
    // Membership is by account: a device speaks for its member only while their checked list
    // (or ours) names it; its sender key is filed as that device's.
    const account = await this.accountFor(tx, id, sender, senderKey);
    const member: GroupMember = { handle: sender, identityKey: vouched ? account : senderKey };
    for (const r of records) {
      if (r.type === 'sender-key-distribution' && group?.type === 'group')
        await this.acceptGroupKey(
          tx,
          { handle: sender, identityKey: senderKey },
          group.groupId,
          r.distribution,
          vouched,
          account,
        );
      else if (r.type === 'membership')
        await this.applyMembership(tx, id, member, { vouched, distributes }, r);
    }
    if (own) {
      return { trust, sender, senderIdentityKey: senderKey, records, fromOwnDevice: true };
    }
    return { trust, sender, senderIdentityKey: senderKey, records };
  }

  /**
   * What our pins say of a sender's device key: our own other devices (our checked list) are
   * verified; a contact's as deviceTrust says.
   */
  private async trustOf(
    tx: Pick<ProtocolStore, 'get'>,
    id: IdentityRecord,
    sender: string,
    key: Uint8Array,
  ): Promise<TrustStatus> {
    if (sender === id.handle) {
      const own = await tx.get<OwnDevices>('meta', OWN_DEVICES_KEY);
      const listed = own?.list.devices.some((d) => bytesEqual(d.key, key));
      return listed && !bytesEqual(key, id.publicKey) ? 'verified' : 'unknown-sender';
    }
    return deviceTrust(await tx.get<Contact>('contacts', sender), key);
  }

  /**
   * The account a device key writes for under `handle`: ours, or the contact's pinned key (the
   * key itself when it is the pinned or pending one, or the handle is nobody we know). Only a
   * claim: trustOf says whether their checked list names the device.
   */
  private async accountFor(
    tx: Pick<ProtocolStore, 'get'>,
    id: IdentityRecord,
    handle: string,
    key: Uint8Array,
  ): Promise<Uint8Array> {
    if (handle === id.handle) return accountKeyOf(id);
    const c = await tx.get<Contact>('contacts', handle);
    if (!c || bytesEqual(c.identityKey, key) || (c.pendingKey && bytesEqual(c.pendingKey, key)))
      return key;
    return c.identityKey;
  }

  /**
   * Files another member's sender key for a group. Their keys are told apart by handle and
   * identity key, so nobody claiming a handle can push out its owner's; of the owner's, the
   * newest two per group are kept (late messages). A key id holds a few candidates (a member
   * may re-send someone's id); one filed by a sender no pin vouches for gives way first, and
   * those are kept up to a bound overall, so a page cannot make every message verify many
   * signatures or fill the store.
   */
  private async acceptGroupKey(
    tx: StoreTx,
    sender: GroupMember,
    groupId: Uint8Array,
    distribution: Uint8Array,
    vouched: boolean,
    account: Uint8Array,
  ): Promise<void> {
    const incoming = parseDistribution(distribution);
    const key = `in:${bytesToHex(incoming.senderKeyId)}`;
    const same = (g: ReceivedGroupRecord) =>
      g.sender === sender.handle && bytesEqual(g.senderIdentityKey, sender.identityKey);
    let list = (await tx.get<ReceivedGroupRecord[]>('senderKeys', key)) ?? [];
    const mine = list.find((g) => same(g) && bytesEqual(g.groupId, groupId));
    const accepted: ReceivedGroupRecord = {
      sender: sender.handle,
      senderIdentityKey: sender.identityKey,
      groupId,
      key: acceptDistribution(mine?.key, incoming),
      receivedAt: mine?.receivedAt ?? this.clock(),
    };
    if (!bytesEqual(account, sender.identityKey)) accepted.accountKey = account;
    if (!vouched) accepted.unvouched = true;
    list = list.filter((g) => g !== mine);
    if (!mine && list.length >= MAX_KEY_CANDIDATES) {
      const giveWay = list.findIndex((g) => g.unvouched);
      if (giveWay < 0) return; // every candidate is vouched for: a stranger's does not displace one
      list.splice(giveWay, 1);
    }
    tx.put('senderKeys', key, [...list, accepted]);
    if (mine) return;
    if (!vouched) {
      const filed = [...((await tx.get<string[]>('meta', STRANGER_KEYS_KEY)) ?? []), key];
      for (const old of filed.splice(0, Math.max(0, filed.length - MAX_STRANGER_SESSIONS)))
        await this.dropReceived(tx, old, (g) => g.unvouched === true);
      tx.put('meta', STRANGER_KEYS_KEY, filed);
    }
    // A new key of theirs for this group: keep it and the one before (late messages).
    const theirs: { key: string; at: number }[] = [];
    for (const k of await this.store.keys('senderKeys')) {
      if (!k.startsWith('in:') || k === key) continue;
      const held = await tx.get<ReceivedGroupRecord[]>('senderKeys', k);
      for (const g of held ?? [])
        if (same(g) && bytesEqual(g.groupId, groupId)) theirs.push({ key: k, at: g.receivedAt });
    }
    theirs.sort((a, b) => b.at - a.at);
    for (const old of theirs.slice(RECEIVED_KEYS_KEPT - 1))
      await this.dropReceived(tx, old.key, same);
  }

  /**
   * A member list from another member: taken when acceptsMembership says so; then the members
   * it no longer names lose the sender keys we hold from them in this group, and our own key is
   * replaced before our next message (they hold it).
   */
  private async applyMembership(
    tx: StoreTx,
    id: IdentityRecord,
    sender: GroupMember,
    how: { vouched: boolean; distributes: boolean },
    change: { groupId: Uint8Array; epoch: number; members: GroupMember[] },
  ): Promise<void> {
    const hex = bytesToHex(change.groupId);
    const current = await tx.get<GroupState>('meta', groupKey(hex));
    const me: GroupMember = { handle: id.handle, identityKey: accountKeyOf(id) };
    if (!acceptsMembership(current, change, sender, { ...how, me })) return;
    const next = groupState(change.groupId, change.epoch, change.members, current);
    tx.put('meta', groupKey(hex), next);
    const removed = removedMembers(current?.members ?? [], next.members);
    if (removed.length === 0) return;
    const own = await tx.get<OwnGroupRecord>('senderKeys', `own:${hex}`);
    if (own) tx.put('senderKeys', `own:${hex}`, { ...own, rotate: true });
    const gone = new Set(removed.map((m) => m.handle));
    if (gone.has(id.handle)) return;
    for (const k of await this.store.keys('senderKeys')) {
      if (!k.startsWith('in:')) continue;
      await this.dropReceived(
        tx,
        k,
        (g) => gone.has(g.sender) && bytesEqual(g.groupId, change.groupId),
      );
    }
  }

  /**
   * Deletions of the sender keys held under `handle` from device keys other than `keep` (every
   * group): a device taken off its person's list writes nothing more that we take as theirs.
   */
  private async dropUnlistedKeys(handle: string, keep: Uint8Array[]): Promise<StoreOp[]> {
    const ops: StoreOp[] = [];
    for (const k of await this.store.keys('senderKeys')) {
      if (!k.startsWith('in:')) continue;
      const list = (await this.store.get<ReceivedGroupRecord[]>('senderKeys', k)) ?? [];
      const kept = list.filter(
        (g) => g.sender !== handle || keep.some((key) => bytesEqual(key, g.senderIdentityKey)),
      );
      if (kept.length === list.length) continue;
      ops.push(
        kept.length
          ? { op: 'put', table: 'senderKeys', key: k, value: kept }
          : { op: 'delete', table: 'senderKeys', key: k },
      );
    }
    return ops;
  }

  /** Deletions of the sender keys held from `handles` for one group (this store, not a batch). */
  private async dropGroupKeysOf(handles: Set<string>, groupId: Uint8Array): Promise<StoreOp[]> {
    const ops: StoreOp[] = [];
    for (const k of await this.store.keys('senderKeys')) {
      if (!k.startsWith('in:')) continue;
      const list = (await this.store.get<ReceivedGroupRecord[]>('senderKeys', k)) ?? [];
      const kept = list.filter((g) => !(handles.has(g.sender) && bytesEqual(g.groupId, groupId)));
      if (kept.length === list.length) continue;
      ops.push(
        kept.length
          ? { op: 'put', table: 'senderKeys', key: k, value: kept }
          : { op: 'delete', table: 'senderKeys', key: k },
      );
    }
    return ops;
  }

  private async dropReceived(
    tx: StoreTx,
    key: string,
    drop: (g: ReceivedGroupRecord) => boolean,
  ): Promise<void> {
    const list = await tx.get<ReceivedGroupRecord[]>('senderKeys', key);
    if (!list) return;
    const kept = list.filter((g) => !drop(g));
    if (kept.length === list.length) return;
    if (kept.length) tx.put('senderKeys', key, kept);
    else tx.delete('senderKeys', key);
  }

  private async decryptGroupMessage(
    tx: StoreTx,
    page: PageView,
    message: SenderKeyMessage,
    crypto: CryptoProvider,
  ): Promise<DecryptResult> {
    const key = `in:${bytesToHex(message.senderKeyId)}`;
    const list = await tx.get<ReceivedGroupRecord[]>('senderKeys', key);
    if (!list?.length) {
      const own = await tx.get<OwnGroupRecord>('senderKeys', `own:${this.ctx(page.context).hex}`);
      if (own && bytesEqual(own.key.senderKeyId, message.senderKeyId))
        throw new VeilError('own-message', 'message was written by this device');
      throw new VeilError('no-session', 'no sender key for this message');
    }
    let lastError: unknown = new VeilError('no-session', 'no sender key for this message');
    // Several senders may claim one id (a member re-sending another's distribution); the
    // signature, bound to the sender's identity key and group, tells which one it really is.
    const attempts = list.flatMap((candidate) =>
      groupContexts(candidate).map((context) => ({ candidate, context })),
    );
    for (const { candidate, context } of attempts) {
      if (!bytesEqual(message.ctxTag, context.ctxTag)) continue;
      try {
        const { received, plaintext } = await groupDecrypt(
          crypto,
          candidate.key,
          message.bytes,
          context,
          // A key filed by a sender no pin vouched for may skip only a little (see decryptPairwise).
          candidate.unvouched ? { maxJump: RATCHET_MAX_FIRST_JUMP } : {},
        );
        const records = decodePlaintext(plaintext);
        const text = records.find((r) => r.type === 'text');
        if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
        const next = list.map((g) => (g === candidate ? { ...g, key: received } : g));
        tx.put('senderKeys', key, next);
        const id = await this.identity(tx);
        // Their device counts while their checked list (or ours) names it, as for 1:1; a
        // message that did not bind the account its handle claims speaks for no one there.
        const unbound = candidate.accountKey !== undefined && context.accountKey === undefined;
        const trust: TrustStatus = unbound
          ? 'unknown-sender'
          : await this.trustOf(tx, id, candidate.sender, candidate.senderIdentityKey);
        const groupHex = bytesToHex(candidate.groupId);
        const sealed = await this.sealedInfo(tx, candidate.senderIdentityKey, records, {
          kind: 'group',
          groupId: candidate.groupId,
          stream: `g:${bytesToHex(candidate.senderIdentityKey)}:${groupHex}`,
        });
        // A sender our member list does not name (taken out, or never in) writes where they
        // do not belong: shown as moved.
        const state = await tx.get<GroupState>('meta', groupKey(groupHex));
        const account = context.accountKey ?? candidate.senderIdentityKey;
        const member =
          !state ||
          state.members.some(
            (m) => m.handle === candidate.sender && bytesEqual(m.identityKey, account),
          );
        const out = this.result(
          page,
          {
            trust,
            sender: candidate.sender,
            senderIdentityKey: candidate.senderIdentityKey,
            plaintext: text.text,
            sealed,
            treeHead: treeHeadOf(records),
          },
          { notMember: !member },
        );
        // Our own message from another of our browsers (our checked list names it).
        if (candidate.sender === id.handle && trust === 'verified') out.fromOwnDevice = true;
        return out;
      } catch (e) {
        lastError = e;
        if (!isVeilError(e, 'bad-signature')) break;
      }
    }
    throw lastError;
  }

  /** Hash, tag and hex of a context, memoised (a page decrypts many messages in one context). */
  private ctx(context: string): ContextInfo {
    let info = this.contexts.get(context);
    if (info) {
      // Refresh recency: Map iterates in insertion order, so the first entry is the oldest.
      this.contexts.delete(context);
      this.contexts.set(context, info);
      return info;
    }
    const hash = contextHash(context);
    info = { hash, tag: contextTag(hash), hex: bytesToHex(hash) };
    if (context.length <= MAX_CACHED_CONTEXT_LENGTH) {
      this.contexts.set(context, info);
      if (this.contexts.size > CONTEXT_CACHE_SIZE)
        this.contexts.delete(this.contexts.keys().next().value as string);
    }
    return info;
  }

  // ---- helpers ----

  private async identity(reader: Pick<ProtocolStore, 'get'> = this.store): Promise<IdentityRecord> {
    // Read every time, never cached here: the extension locks, restores and deletes through the
    // store directly, and a cached identity would outlive that (sign() while locked).
    const id = await reader.get<IdentityRecord>('identity', 'self');
    if (!id) throw new VeilError('no-identity', 'create an identity first');
    return id;
  }

  private async contact(handle: string): Promise<Contact> {
    const c = await this.store.get<Contact>('contacts', handle);
    if (!c) throw new VeilError('invalid-argument', 'unknown contact');
    return c;
  }
}

function sessionPut(record: SessionRecord): StoreOp {
  return { op: 'put', table: 'sessions', key: bytesToHex(record.sessionTag), value: record };
}

const groupKey = (groupHex: string) => `group/${groupHex}`;
const outKey = (stream: string) => `out/${stream}`;
/** The last session a sender started with this key (adopted once the user pins that key). */
const inboundKey = (handle: string, key: Uint8Array) => `inbound/${handle}/${bytesToHex(key)}`;
const STRANGERS_KEY = 'strangers';
const OWN_DEVICES_KEY = 'own-devices';
/** A fan-out's content is sealed under a fresh key: one message per key, so a constant nonce. */
const FANOUT_NONCE = new Uint8Array(12);
const FANOUT_AD = utf8ToBytes('Veil fan-out v1');
const EMPTY_BYTES = new Uint8Array(0);

/**
 * What a wrap's MAC covers of a fan-out: `SHA-256(peerTag(handle) || SHA-256(content))`, where
 * `handle` is the account the device takes it for (the peer's, or ours for our own devices). A
 * device key a contact's list borrows from someone else then opens nothing: that device checks
 * the MAC under its own handle.
 */
function fanoutBinding(handle: string, contentDigest: Uint8Array): Uint8Array {
  const tag = peerTag(handle);
  const input = new Uint8Array(tag.length + contentDigest.length);
  input.set(tag);
  input.set(contentDigest, tag.length);
  return sha256(input);
}

/** The key people pin for us: the account's, or ours when we hold it. */
function accountKeyOf(id: IdentityRecord): Uint8Array {
  return id.account?.key ?? id.publicKey;
}

/** Where one message of a direct conversation goes: a device of the peer, or one of ours. */
interface DirectTarget {
  handle: string;
  key: Uint8Array;
  tag: string;
  record: SessionRecord;
  own: boolean;
}
const STRANGER_KEYS_KEY = 'stranger-keys';
/** Senders a sender-key id may be filed under at once. */
const MAX_KEY_CANDIDATES = 4;
/** Sessions kept of senders no pin vouches for (the oldest go first). */
export const MAX_STRANGER_SESSIONS = 256;
const originsKey = (senderKey: Uint8Array) => `origins/${bytesToHex(senderKey)}`;

function groupContext(r: ReceivedGroupRecord) {
  return {
    ctxHash: r.groupId,
    ctxTag: contextTag(r.groupId),
    senderIdentityKey: r.senderIdentityKey,
    ...(r.accountKey ? { accountKey: r.accountKey } : {}),
  };
}

/**
 * The contexts a received key's messages may verify under: as filed; and, for a key no list
 * vouched for that was filed with the account its handle claims, as the device's own account
 * (a stranger claiming a contact's handle, or the contact's old key, writes binding its own key
 * only, and must still read as an unknown sender rather than fail). A key a checked list names
 * as a linked device verifies only bound to that account.
 */
function groupContexts(r: ReceivedGroupRecord): ReturnType<typeof groupContext>[] {
  const filed = groupContext(r);
  if (!r.accountKey || !r.unvouched) return [filed];
  const { accountKey: _account, ...own } = filed;
  return [filed, own];
}

/** What our group messages bind as their writer: this device's key and, linked, the account's. */
function senderOf(id: IdentityRecord): { senderIdentityKey: Uint8Array; accountKey?: Uint8Array } {
  const account = accountKeyOf(id);
  return bytesEqual(account, id.publicKey)
    ? { senderIdentityKey: id.publicKey }
    : { senderIdentityKey: id.publicKey, accountKey: account };
}

function treeHeadOf(records: PlaintextRecord[]): GossipedHead | undefined {
  const r = records.find((x) => x.type === 'tree-head');
  if (!r || r.type !== 'tree-head') return undefined;
  const { type: _type, ...head } = r;
  return head;
}

/** Contexts whose hash Veil keeps at once, and the longest context string it keeps. */
const CONTEXT_CACHE_SIZE = 64;
const MAX_CACHED_CONTEXT_LENGTH = 1024;
/** Signature checks decryptMany runs ahead at once. */
const VERIFY_AHEAD = 8;

interface ContextInfo {
  hash: Uint8Array;
  tag: Uint8Array;
  hex: string;
}

/**
 * A unit of work over the store. Reads see the unit's own writes, then its parent's, then the
 * store; writes stay here until the caller commits `ops()` or merges them into the parent.
 * decrypt runs each message in one; decryptMany runs one per message inside one for the batch,
 * so a message that fails leaves nothing behind and the batch is written in one commit.
 * Values read or written are never modified in place (the protocol functions return new state),
 * so later messages of a batch can share them; `cacheReads` keeps what a batch read from the
 * store (each store read is a copy of its own).
 */
class StoreTx {
  private readonly writes = new Map<string, { table: StoreTable; key: string; value?: unknown }>();
  private readonly reads?: Map<string, unknown>;

  constructor(
    private readonly store: ProtocolStore,
    private readonly parent?: StoreTx,
    cacheReads = false,
  ) {
    if (cacheReads) this.reads = new Map();
  }

  async get<T>(table: StoreTable, key: string): Promise<T | undefined> {
    const id = `${table}/${key}`;
    const chain = this.chain();
    for (const t of chain) {
      const w = t.writes.get(id);
      if (w) return w.value as T | undefined;
    }
    const cache = chain.find((t) => t.reads)?.reads;
    if (!cache) return this.store.get<T>(table, key);
    if (cache.has(id)) return cache.get(id) as T | undefined;
    const value = await this.store.get<T>(table, key);
    cache.set(id, value);
    return value;
  }

  /** This unit, then its parent and theirs. */
  private chain(): StoreTx[] {
    return this.parent ? [this, ...this.parent.chain()] : [this];
  }

  put(table: StoreTable, key: string, value: unknown): void {
    this.writes.set(`${table}/${key}`, { table, key, value });
  }

  delete(table: StoreTable, key: string): void {
    this.writes.set(`${table}/${key}`, { table, key });
  }

  mergeIntoParent(): void {
    for (const [id, w] of this.writes) this.parent!.writes.set(id, w);
  }

  ops(): StoreOp[] {
    return Array.from(this.writes.values(), (w): StoreOp =>
      'value' in w
        ? { op: 'put', table: w.table, key: w.key, value: w.value }
        : { op: 'delete', table: w.table, key: w.key },
    );
  }
}

/** Sender-key signatures verified ahead, by signature bytes (hex). */
type VerifyMemo = Map<string, { publicKey: Uint8Array; message: Uint8Array; valid: boolean }[]>;

function rememberVerify(
  memo: VerifyMemo,
  check: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array },
  valid: boolean,
): void {
  const id = bytesToHex(check.signature);
  const entries = memo.get(id) ?? [];
  entries.push({ publicKey: check.publicKey, message: check.message, valid });
  memo.set(id, entries);
}

/**
 * The provider with ed25519Verify answered from the memo when it holds exactly this public key,
 * message and signature, and verified as usual otherwise.
 */
function withVerifyMemo(crypto: CryptoProvider, memo: VerifyMemo): CryptoProvider {
  // Everything else is inherited from the provider, including methods it may gain later.
  const memoised = Object.create(crypto) as {
    -readonly [K in keyof CryptoProvider]: CryptoProvider[K];
  };
  memoised.ed25519Verify = async (publicKey, message, signature) => {
    for (const e of memo.get(bytesToHex(signature)) ?? [])
      if (bytesEqual(e.publicKey, publicKey) && bytesEqual(e.message, message)) return e.valid;
    return crypto.ed25519Verify(publicKey, message, signature);
  };
  return memoised;
}

function failed(e: unknown): DecryptResult {
  // Unexpected exceptions are reported without their message: it could carry anything.
  return { status: 'failed', error: isVeilError(e) ? e.code : 'malformed' };
}

export type { KeyPair };

// The key-directory client (background only): publish and delete signed by the identity key
// through Veil.sign (the private key never leaves the protocol store), and lookups that do not
// trust the directory (DESIGN.md §2.8): every key must be in the log under a tree head signed
// by the directory key pinned on first use, and every new head must extend the remembered one
// (consistency proof). A swapped key, a foreign signature or a forked log → 'bad-proof'.
// It also reads the log for the monitor and the gossip check (log-monitor.ts, head-gossip.ts):
// a handle's whole history (each entry proven), raw entries, compact ranges, consistency proofs.
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual, utf8ToBytes } from '../protocol/bytes';
import {
  base64UrlDecode,
  base64UrlEncode,
  canonicalRequest,
  decodeCompactRange,
  decodeConsistencyProof,
  decodeDeviceListLookup,
  decodeHistoryPage,
  decodeIdentityLookup,
  decodeLogEntries,
  decodeTreeHead,
  identityPath,
  nonceFromBytes,
  SIGNATURE_HEADERS,
} from '../protocol/directory-request';
import { nobleProvider } from '../protocol/crypto/noble';
import {
  deviceListToJson,
  verifyDeviceList,
  type Device,
  type SignedDeviceList,
} from '../protocol/device-list';
import { jsonBytes, jsonRecord } from '../protocol/encoding';
import { isVeilError, VeilError } from '../protocol/errors';
import { kemPrekeyToJson, verifyKemPrekey, type KemPrekeyPublic } from '../protocol/kem-prekey';
import { MAX_LINK_ANSWER_LENGTH, type LinkRequest } from '../protocol/link-code';
import {
  bundleFromJson,
  oneTimePrekeyToJson,
  signedPrekeyToJson,
  verifyBundle,
  type OneTimePrekeyPublic,
  type PrekeyBundle,
  type SignedPrekeyPublic,
} from '../protocol/identity';
import {
  compactRange,
  encodeLogEntry,
  leafHash,
  verifiedLabel,
  verifyHeadUpdate,
  verifyVrfKeySignature,
  verifyDeviceListEntry,
  verifyInclusion,
  verifyKeyLookup,
  verifySignedTreeHead,
  type CompactRange,
  type DirectoryTrust,
  type IndexedLogEntry,
  type KeyLookup,
  type ListedLogEntry,
  type SignedTreeHead,
} from '../protocol/transparency';
import type { PublishedIdentity } from '../protocol/veil';
import { BackgroundError, isBackgroundError } from './errors';
import type { KeyStore } from './key-store';
import type { MonitorState } from './log-monitor';

/** What we remember about one directory (table `directory`, keyed by its base URL). */
export interface DirectoryState {
  url: string;
  /** The directory's log origin and tree-head key, pinned the first time we talked to it. */
  trust: DirectoryTrust;
  /** The largest verified signed tree head seen so far. */
  head: SignedTreeHead;
  /**
   * Highest sequence of a key entry (publish, rotate, delete) seen per handle: an older
   * (rotated-away) entry is refused. Device-list entries do not count: they say nothing of the key.
   */
  sequences: Record<string, number>;
  /** Highest device-list version seen per handle and account key (hex): an older one is refused. */
  deviceListVersions?: Record<string, number>;
  pinnedAt: number;
  /** The own-handle monitor's progress (log-monitor.ts); absent until its first pass. */
  monitor?: MonitorState;
  /** Heads contacts gossiped that could not be checked yet (head-gossip.ts); retried later. */
  pendingHeads?: SignedTreeHead[];
}

/** A handle's logged history, every entry proven in the log (`DirectoryClient.history`). */
export interface HandleHistory {
  handle: string;
  /** The verified head of the last page (remembered; the earlier pages' heads extend to it). */
  head: SignedTreeHead;
  /**
   * Every entry of the handle in the log, in sequence order (deletions included); redacted
   * pre-migration entries of a deleted handle are proven by their leaf hash and left out.
   */
  entries: IndexedLogEntry[];
  /** The handle's VRF label, verified under the pinned VRF key (directories that label handles). */
  label?: Uint8Array;
}

export interface VerifiedIdentity {
  handle: string;
  /** Ed25519 identity key, proven to be in the log. */
  identityKey: Uint8Array;
  logIndex: number;
  sequence: number;
}

/** Signs directory requests with the identity key (Veil.sign). */
export interface RequestSigner {
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export interface DirectoryClientOptions {
  store: KeyStore;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Milliseconds since the epoch (request timestamps). */
  now?: () => number;
  randomBytes?: (n: number) => Uint8Array;
  timeoutMs?: number;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_ANSWER_CHARS = 1024 * 1024;
/** History pages read for one handle at most (the directory sends up to 256 entries a page). */
const MAX_HISTORY_PAGES = 64;

/**
 * The canonical base URL of a directory: https:// anywhere, http:// only on this machine
 * (localhost, 127.0.0.1, [::1]); no credentials, query or fragment; no trailing slash.
 */
export function normalizeDirectoryUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input.trim());
  } catch {
    throw new BackgroundError('invalid-argument', 'the directory URL is not a URL');
  }
  if (u.username || u.password || u.search || u.hash)
    throw new BackgroundError(
      'invalid-argument',
      'the directory URL must not carry credentials, a query or a fragment',
    );
  const secure = u.protocol === 'https:' || (u.protocol === 'http:' && LOCAL_HOSTS.has(u.hostname));
  if (!secure)
    throw new BackgroundError(
      'insecure-directory',
      'the directory must use https:// (http:// only for localhost)',
    );
  return u.origin + u.pathname.replace(/\/+$/, '');
}

function badProof(e: unknown): BackgroundError {
  if (e instanceof BackgroundError) return e;
  const cause = isVeilError(e) ? e.message : 'the directory answer does not verify';
  return new BackgroundError('bad-proof', cause);
}

/** What the directory holds of our prekeys (GET …/prekeys). */
export interface PrekeyStatus {
  oneTimePrekeys: number;
  signedPrekeyId: number;
  /** Absent from directories before post-quantum setup. */
  kemOneTimePrekeys?: number;
  kemLastResortId?: number | null;
}

/** A linked device's own prekeys, signed by its device key (PUT …/devices/{id}/keys). */
export interface DevicePrekeys {
  signedPrekey: SignedPrekeyPublic;
  oneTimePrekeys: OneTimePrekeyPublic[];
  kemPrekeys?: { lastResort?: KemPrekeyPublic; oneTime: KemPrekeyPublic[] };
}

/** One device's bundle, its key checked against the logged device list of the account key. */
export interface VerifiedDeviceBundle {
  /** The device as the verified list names it. */
  device: Device;
  /** The list (signed by the account key, logged) that names it. */
  deviceList: SignedDeviceList;
  /** `identityKey` is the device key; the signed and KEM prekeys verified under it. */
  bundle: PrekeyBundle;
}

/** The handle's sync blob as the directory holds it (ciphertext only; times in Unix seconds). */
export interface SyncBlob {
  version: number;
  ciphertext: Uint8Array;
  updatedAt: number;
  /** When each listed device last made a signed request, by device id (the directory's word). */
  seen: { id: number; at: number }[];
}

/** `putSync`: written, or refused because the stored blob is not `version - 1`. */
export type SyncWrite = { ok: true } | { ok: false; reason: 'stale'; storedVersion: number };

export class DirectoryClient {
  private readonly store: KeyStore;
  private readonly fetchFn: (input: string, init: RequestInit) => Promise<Response>;
  private readonly now: () => number;
  private readonly random: (n: number) => Uint8Array;
  private readonly timeoutMs: number;
  // Per-directory queue: the remembered head is read, checked and replaced by one at a time.
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(opts: DirectoryClientOptions) {
    this.store = opts.store;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.now = opts.now ?? Date.now;
    this.random = opts.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** The key the directory holds for `handle`, checked against the log. */
  async lookup(baseUrl: string, handle: string): Promise<VerifiedIdentity> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, identityPath(handle));
    return this.verifyIdentity(url, handle, json);
  }

  /** A prekey bundle for `handle` (consumes one one-time prekey), its key checked like lookup. */
  async bundle(
    baseUrl: string,
    handle: string,
  ): Promise<{ identity: VerifiedIdentity; bundle: PrekeyBundle }> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, `${identityPath(handle)}/bundle`);
    const identity = await this.verifyIdentity(url, handle, json);
    let bundle: PrekeyBundle;
    try {
      bundle = bundleFromJson(json);
    } catch (e) {
      throw badProof(e);
    }
    if (!bytesEqual(bundle.identityKey, identity.identityKey))
      throw new BackgroundError('bad-proof', 'the bundle names another key than the log');
    return { identity, bundle };
  }

  /**
   * Publishes (or refreshes) our identity and prekeys, signed by the identity key, then checks
   * that the directory logged exactly our key.
   */
  async publish(
    baseUrl: string,
    signer: RequestSigner,
    pub: PublishedIdentity,
  ): Promise<VerifiedIdentity> {
    const url = normalizeDirectoryUrl(baseUrl);
    const body = JSON.stringify({
      handle: pub.handle,
      identityKey: base64UrlEncode(pub.identityKey),
      signedPrekey: signedPrekeyToJson(pub.signedPrekey),
      oneTimePrekeys: pub.oneTimePrekeys.map(oneTimePrekeyToJson),
      kemPrekeys: {
        lastResort: kemPrekeyToJson(pub.kemPrekeys.lastResort),
        oneTime: pub.kemPrekeys.oneTime.map(kemPrekeyToJson),
      },
    });
    await this.signedRequest(url, 'PUT', pub.handle, body, signer);
    const logged = await this.lookup(url, pub.handle);
    if (!bytesEqual(logged.identityKey, pub.identityKey))
      throw new BackgroundError('bad-proof', 'the directory logged another key for our handle');
    return logged;
  }

  /**
   * How many of our one-time prekeys the directory still holds, and which signed prekey it
   * serves (a signed read: only the owner learns how many sessions were started with it).
   */
  async prekeyStatus(
    baseUrl: string,
    signer: RequestSigner,
    handle: string,
  ): Promise<PrekeyStatus> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.signedRequest(url, 'GET', handle, '', signer, '/prekeys');
    return prekeyStatusOf(json);
  }

  /** Publishes our device list, signed by our account key (a signed request as well). */
  async publishDeviceList(
    baseUrl: string,
    signer: RequestSigner,
    list: SignedDeviceList,
  ): Promise<void> {
    const url = normalizeDirectoryUrl(baseUrl);
    const body = JSON.stringify(deviceListToJson(list));
    await this.signedRequest(url, 'PUT', list.handle, body, signer, '/devices');
  }

  /**
   * `handle`'s device list: signed by `accountKey` (the key the caller verified or pinned), the
   * very list logged under a head signed by the pinned directory key, and not older than one
   * seen before for that account key. Refused ('bad-proof') otherwise; none → 'not-found'.
   */
  async deviceList(
    baseUrl: string,
    handle: string,
    accountKey: Uint8Array,
  ): Promise<SignedDeviceList> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, `${identityPath(handle)}/devices`);
    return this.verifyDeviceListAnswer(url, handle, accountKey, json, async () => undefined);
  }

  /**
   * Publishes a linked device's own prekeys, the request signed by that device's key (`signer`),
   * which the handle's current device list must name under `deviceId`. Returns how many
   * one-time prekeys (X25519, KEM) the directory now holds for the device.
   */
  async publishDeviceKeys(
    baseUrl: string,
    handle: string,
    deviceId: number,
    signer: RequestSigner,
    keys: DevicePrekeys,
  ): Promise<{ oneTimePrekeys: number; kemOneTimePrekeys: number }> {
    const url = normalizeDirectoryUrl(baseUrl);
    const body = JSON.stringify({
      signedPrekey: signedPrekeyToJson(keys.signedPrekey),
      oneTimePrekeys: keys.oneTimePrekeys.map(oneTimePrekeyToJson),
      ...(keys.kemPrekeys
        ? {
            kemPrekeys: {
              ...(keys.kemPrekeys.lastResort
                ? { lastResort: kemPrekeyToJson(keys.kemPrekeys.lastResort) }
                : {}),
              oneTime: keys.kemPrekeys.oneTime.map(kemPrekeyToJson),
            },
          }
        : {}),
    });
    const json = await this.signedRequest(
      url,
      'PUT',
      handle,
      body,
      signer,
      `/devices/${deviceIdPath(deviceId)}/keys`,
    );
    const { oneTimePrekeys, kemOneTimePrekeys } = (json ?? {}) as Record<string, unknown>;
    if (!isCount(oneTimePrekeys) || !isCount(kemOneTimePrekeys))
      throw new BackgroundError('directory-error', 'the directory sent no prekey count');
    return { oneTimePrekeys, kemOneTimePrekeys };
  }

  /**
   * The bundle of `handle`'s device `deviceId` (consumes one of its one-time prekeys). Accepted
   * only if the device list served with it is logged under a head signed by the pinned key,
   * signed by the account key and not older than one seen (as deviceList), names `deviceId`
   * with the served device key, and the prekeys are signed by that key; else 'bad-proof'.
   * `accountKey` is the key the caller verified for the handle (a pinned contact's); without it
   * the handle's key is looked up and checked against the log first.
   */
  async deviceBundle(
    baseUrl: string,
    handle: string,
    deviceId: number,
    accountKey?: Uint8Array,
  ): Promise<VerifiedDeviceBundle> {
    const url = normalizeDirectoryUrl(baseUrl);
    const key = accountKey ?? (await this.lookup(url, handle)).identityKey;
    const json = await this.getJson(
      url,
      `${identityPath(handle)}/devices/${deviceIdPath(deviceId)}/bundle`,
    );
    let result: VerifiedDeviceBundle | undefined;
    const deviceList = await this.verifyDeviceListAnswer(url, handle, key, json, async (list) => {
      const device = list.devices.find((d) => d.id === deviceId);
      if (!device) throw new VeilError('bad-proof', 'the logged device list has no such device');
      const served = json as Record<string, unknown>;
      if (served.deviceId !== deviceId)
        throw new VeilError('bad-proof', 'the bundle is for another device');
      const bundle = bundleFromJson({ ...served, identityKey: served.deviceKey });
      if (!bytesEqual(bundle.identityKey, device.key))
        throw new VeilError('bad-proof', 'the device key is not the one the logged list names');
      await verifyBundle(nobleProvider, bundle);
      if (bundle.kemPrekey && !(await verifyKemPrekey(nobleProvider, device.key, bundle.kemPrekey)))
        throw new VeilError('bad-signature', 'KEM prekey not signed by the device key');
      result = { device, deviceList: list, bundle };
    });
    return { ...result!, deviceList };
  }

  /** How many of device `deviceId`'s prekeys the directory holds (signed by that device's key). */
  async devicePrekeyCounts(
    baseUrl: string,
    handle: string,
    deviceId: number,
    signer: RequestSigner,
  ): Promise<PrekeyStatus> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.signedRequest(
      url,
      'GET',
      handle,
      '',
      signer,
      `/devices/${deviceIdPath(deviceId)}/prekeys`,
    );
    return prekeyStatusOf(json);
  }

  /**
   * Stores our sync blob (sealed by the caller; the directory sees ciphertext only), signed by
   * the account key or a listed device's key. `version` must be the stored version + 1 (1 for
   * the first); otherwise nothing is written and the stored version comes back.
   */
  async putSync(
    baseUrl: string,
    handle: string,
    signer: RequestSigner,
    version: number,
    ciphertext: Uint8Array,
  ): Promise<SyncWrite> {
    const url = normalizeDirectoryUrl(baseUrl);
    const body = JSON.stringify({ version, ciphertext: base64UrlEncode(ciphertext) });
    try {
      await this.signedRequest(url, 'PUT', handle, body, signer, '/sync');
      return { ok: true };
    } catch (e) {
      if (
        e instanceof DirectoryRefusal &&
        e.directoryCode === 'stale-sync' &&
        isCount(e.details.version)
      )
        return { ok: false, reason: 'stale', storedVersion: e.details.version };
      throw e;
    }
  }

  /** Our sync blob (a signed read, as putSync); undefined when none is stored. */
  async getSync(
    baseUrl: string,
    handle: string,
    signer: RequestSigner,
  ): Promise<SyncBlob | undefined> {
    const url = normalizeDirectoryUrl(baseUrl);
    let json: unknown;
    try {
      json = await this.signedRequest(url, 'GET', handle, '', signer, '/sync');
    } catch (e) {
      if (e instanceof BackgroundError && e.code === 'not-found') return undefined;
      throw e;
    }
    const { version, ciphertext, updatedAt, seen } = (json ?? {}) as Record<string, unknown>;
    try {
      if (!isCount(version) || version < 1 || !isCount(updatedAt) || typeof ciphertext !== 'string')
        throw new BackgroundError('directory-error', 'the directory sent no sync blob');
      return {
        version,
        ciphertext: base64UrlDecode(ciphertext),
        updatedAt,
        seen: seenTimes(seen),
      };
    } catch (e) {
      if (e instanceof BackgroundError) throw e;
      throw new BackgroundError('directory-error', 'the sync blob is not base64url');
    }
  }

  /** Deletes our identity from the directory (signed). False when it holds none. */
  async remove(baseUrl: string, signer: RequestSigner, handle: string): Promise<boolean> {
    const url = normalizeDirectoryUrl(baseUrl);
    try {
      await this.signedRequest(url, 'DELETE', handle, '', signer);
      return true;
    } catch (e) {
      if (e instanceof BackgroundError && e.code === 'not-found') return false;
      throw e;
    }
  }

  /** What we remember about a directory, if we talked to it before. */
  async state(baseUrl: string): Promise<DirectoryState | undefined> {
    return this.store.get<DirectoryState>('directory', normalizeDirectoryUrl(baseUrl));
  }

  /**
   * Every entry the log holds for `handle`, in sequence order, each proven by an inclusion proof
   * against a head signed by the pinned key that extends the remembered head (which moves
   * forward). Refused ('bad-proof') when a proof fails, a sequence is skipped, or the history
   * ends before an entry a lookup already showed. What the directory cannot hide this way it
   * can still withhold (the newest entries): the handle's owner sees those (log-monitor.ts).
   * A handle that never had an entry → 'not-found'.
   *
   * Use with `keyStanding(history.entries, key)` (protocol/transparency.ts) to ask whether the
   * log shows `key` for the handle: 'current', 'earlier' (rotated away or deleted) or 'never'.
   */
  async history(baseUrl: string, handle: string): Promise<HandleHistory> {
    const url = normalizeDirectoryUrl(baseUrl);
    const path = `${identityPath(handle)}/history`;
    return this.withState(url, async (pinned) => {
      const state = await this.withVrfKey(url, pinned);
      const entries: IndexedLogEntry[] = [];
      let label: Uint8Array | undefined;
      let head = state.head;
      let after = 0;
      let lastIndex = -1;
      for (let page = 0; ; page++) {
        if (page === MAX_HISTORY_PAGES)
          throw new BackgroundError('directory-error', 'the history is longer than Veil reads');
        const json = await this.getJson(url, after === 0 ? path : `${path}?after=${after}`);
        let more: boolean;
        let pageHead: SignedTreeHead;
        try {
          const decoded = decodeHistoryPage(json, handle);
          ({ more, head: pageHead } = decoded);
          verifySignedTreeHead(pageHead, state.trust);
          // The label comes from the VRF proof, never from the entries: a v2 entry counts only
          // if it carries exactly this handle's label.
          if (decoded.vrfProof) label ??= verifiedLabel(state.trust, handle, decoded.vrfProof);
          for (const { entry, inclusionProof } of decoded.entries) {
            // Sequences of a handle run 1, 2, 3, … (also across a delete and a new claim).
            if (entry.sequence !== after + 1)
              throw new BackgroundError('bad-proof', 'the history skips or repeats an entry');
            if (entry.index <= lastIndex)
              throw new BackgroundError('bad-proof', 'the history is out of log order');
            let leaf: Uint8Array;
            if ('redacted' in entry) {
              // A pre-migration entry of a deleted handle: only its leaf hash is left.
              leaf = entry.leafHash;
            } else {
              if (entry.label && !(label && bytesEqual(entry.label, label)))
                throw new BackgroundError('bad-proof', 'an entry carries another label');
              leaf = leafHash(encodeLogEntry(entry));
            }
            verifyInclusion(
              leaf,
              entry.index,
              pageHead.treeSize,
              inclusionProof,
              pageHead.rootHash,
            );
            if (!('redacted' in entry)) entries.push(entry);
            after = entry.sequence;
            lastIndex = entry.index;
          }
          if (more && decoded.entries.length === 0)
            throw new BackgroundError('bad-proof', 'the directory promised more entries');
        } catch (e) {
          throw badProof(e);
        }
        head = await this.advanceHead(url, { ...state, head }, pageHead);
        if (!more) break;
      }
      const seen = state.sequences[handle] ?? 0;
      if (after < seen)
        throw new BackgroundError('bad-proof', 'the history ends before an entry seen earlier');
      const lastKey = entries.reduce((n, e) => (e.action === 'devices' ? n : e.sequence), 0);
      await this.saveState({
        ...state,
        head,
        sequences: { ...state.sequences, [handle]: Math.max(seen, lastKey) },
      });
      return { handle, head, entries, ...(label ? { label } : {}) };
    });
  }

  /**
   * The directory's current signed head, checked against the remembered one (consistency
   * proof) and remembered. Returns the head now remembered (the larger of the two). Pins the
   * directory's key if we never talked to it.
   */
  async refreshHead(baseUrl: string): Promise<SignedTreeHead> {
    const url = normalizeDirectoryUrl(baseUrl);
    return this.withState(url, async (pinned) => {
      let next: SignedTreeHead;
      let state = pinned;
      try {
        const json = await this.getJson(url, '/v1/log/head');
        next = decodeTreeHead(json);
        // A directory pinned before it labelled handles: pin its VRF key at the first head that
        // carries one, signed by the pinned log key.
        if (!state.trust.vrfKey) {
          const vrfKey = signedVrfKey(json, state.trust);
          if (vrfKey) state = { ...state, trust: { ...state.trust, vrfKey } };
        }
      } catch (e) {
        throw badProof(e);
      }
      const head = await this.advanceHead(url, state, next);
      if (head !== state.head || state !== pinned) await this.saveState({ ...state, head });
      return head;
    });
  }

  /** Raw log entries from `start` (at most `count`), unverified: a monitor checks them. */
  async logEntries(baseUrl: string, start: number, count: number): Promise<ListedLogEntry[]> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, `/v1/log/entries?start=${start}&count=${count}`);
    try {
      return decodeLogEntries(json);
    } catch (e) {
      throw badProof(e);
    }
  }

  /** The hashes covering leaves [0, size), unverified: the caller checks the root they give. */
  async compactRange(baseUrl: string, size: number): Promise<CompactRange> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, `/v1/log/compact-range?size=${size}`);
    try {
      const decoded = decodeCompactRange(json);
      if (decoded.size !== size) throw new BackgroundError('bad-proof', 'range of another size');
      return compactRange(decoded.size, decoded.hashes);
    } catch (e) {
      throw badProof(e);
    }
  }

  /** A consistency proof between two tree sizes, unverified. */
  async consistencyProof(baseUrl: string, from: number, to: number): Promise<Uint8Array[]> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getJson(url, `/v1/log/consistency?from=${from}&to=${to}`);
    try {
      return decodeConsistencyProof(json);
    } catch (e) {
      throw badProof(e);
    }
  }

  /**
   * Changes what we remember about an already pinned directory, in that directory's queue so no
   * lookup's update is lost. `change` gets the current state and returns the state to save
   * (or undefined to save nothing). Undefined when the directory was never pinned.
   */
  async updateState(
    baseUrl: string,
    change: (state: DirectoryState) => DirectoryState | undefined,
  ): Promise<DirectoryState | undefined> {
    const url = normalizeDirectoryUrl(baseUrl);
    return this.withState(
      url,
      async (state) => {
        const next = change(state);
        if (next) await this.saveState(next);
        return next;
      },
      false,
    );
  }

  // ---- linking a new browser (docs/devices.md, "Linking"; protocol/link-code.ts) ----
  // The relay is unauthenticated (the 128-bit link id is the only key) and unverified here: what
  // it carries is checked by the protocol (the request's MAC on A, the sealed answer on B).

  /**
   * B leaves its request under the link id. A retry of the same request (its first answer lost)
   * succeeds; another request already there means someone else used the code: 'conflict'. An id that is not 32 hex characters: 'invalid-argument'.
   */
  async putLinkRequest(baseUrl: string, id: string, body: LinkRequest): Promise<void> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = {
      deviceKey: base64UrlEncode(body.deviceKey),
      replyKey: base64UrlEncode(body.replyKey),
      mac: base64UrlEncode(body.mac),
    };
    try {
      await this.putJson(url, linkPath(id), json);
    } catch (e) {
      if (!isBackgroundError(e) || e.code !== 'conflict') throw e;
      const stored = await this.getLinkRequest(url, id);
      const same =
        stored !== undefined &&
        bytesEqual(stored.deviceKey, body.deviceKey) &&
        bytesEqual(stored.replyKey, body.replyKey) &&
        bytesEqual(stored.mac, body.mac);
      if (!same) throw e;
    }
  }

  /** A reads the request left under the link id; undefined while there is none (or expired). */
  async getLinkRequest(
    baseUrl: string,
    id: string,
  ): Promise<(LinkRequest & { answered: boolean }) | undefined> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getOrUndefined(url, linkPath(id));
    if (json === undefined) return undefined;
    try {
      const o = jsonRecord(json, 'link request');
      if (typeof o.answered !== 'boolean')
        throw new BackgroundError('directory-error', 'the directory sent no answered flag');
      return {
        deviceKey: jsonBytes(o.deviceKey, 32, 'device key'),
        replyKey: jsonBytes(o.replyKey, 32, 'reply key'),
        mac: jsonBytes(o.mac, 32, 'link MAC'),
        answered: o.answered,
      };
    } catch (e) {
      throw malformedLink(e);
    }
  }

  /**
   * A leaves its sealed answer. 'not-found' when the request expired (or was never made),
   * 'conflict' when the link was answered already.
   */
  async putLinkAnswer(baseUrl: string, id: string, sealed: Uint8Array): Promise<void> {
    const url = normalizeDirectoryUrl(baseUrl);
    if (sealed.length < 1 || sealed.length > MAX_LINK_ANSWER_LENGTH)
      throw new BackgroundError('invalid-argument', 'the link answer is empty or too long');
    try {
      await this.putJson(url, `${linkPath(id)}/answer`, { sealed: base64UrlEncode(sealed) });
    } catch (e) {
      if (isBackgroundError(e, 'not-found'))
        throw new BackgroundError('not-found', 'the link request expired: link again');
      throw e;
    }
  }

  /**
   * B takes A's sealed answer (the directory then forgets the link); undefined while there is
   * none yet, or after the link expired.
   */
  async getLinkAnswer(baseUrl: string, id: string): Promise<Uint8Array | undefined> {
    const url = normalizeDirectoryUrl(baseUrl);
    const json = await this.getOrUndefined(url, `${linkPath(id)}/answer`);
    if (json === undefined) return undefined;
    try {
      const o = jsonRecord(json, 'link answer');
      if (typeof o.sealed !== 'string' || o.sealed.length > 2 * MAX_LINK_ANSWER_LENGTH)
        throw new BackgroundError('directory-error', 'the directory sent no link answer');
      const sealed = base64UrlDecode(o.sealed);
      if (sealed.length < 1 || sealed.length > MAX_LINK_ANSWER_LENGTH)
        throw new BackgroundError('directory-error', 'the link answer is empty or too long');
      return sealed;
    } catch (e) {
      throw malformedLink(e);
    }
  }

  private async getOrUndefined(url: string, path: string): Promise<unknown> {
    try {
      return await this.getJson(url, path);
    } catch (e) {
      if (isBackgroundError(e, 'not-found')) return undefined;
      throw e;
    }
  }

  private putJson(url: string, path: string, body: unknown): Promise<unknown> {
    return this.send(url, path, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
  }

  // ---- verification ----

  private async verifyIdentity(
    url: string,
    handle: string,
    json: unknown,
  ): Promise<VerifiedIdentity> {
    let decoded: ReturnType<typeof decodeIdentityLookup>;
    try {
      decoded = decodeIdentityLookup(json, handle);
    } catch (e) {
      throw badProof(e);
    }
    const { lookup } = decoded;
    return this.withState(url, async (pinned) => {
      const state = lookup.vrfProof ? await this.withVrfKey(url, pinned) : pinned;
      try {
        verifyKeyLookup(lookup, state.trust, state.sequences[handle] ?? 1);
      } catch (e) {
        throw badProof(e);
      }
      const head = await this.advanceHead(url, state, lookup.head);
      const sequence = Math.max(state.sequences[handle] ?? 0, lookup.entry.sequence);
      await this.saveState({
        ...state,
        head,
        sequences: { ...state.sequences, [handle]: sequence },
      });
      return {
        handle,
        identityKey: decoded.identityKey,
        logIndex: lookup.index,
        sequence: lookup.entry.sequence,
      };
    });
  }

  /**
   * A device-list answer (GET …/devices, or a device bundle carrying the list): the 'devices'
   * entry rebuilt from the served list is in the log under a head signed by the pinned key, the
   * list is signed by `accountKey`, for `handle`, not older than one seen for that account key,
   * and passes `check`; only then are the head and the version remembered. 'bad-proof' otherwise.
   */
  private verifyDeviceListAnswer(
    url: string,
    handle: string,
    accountKey: Uint8Array,
    json: unknown,
    check: (list: SignedDeviceList) => Promise<void>,
  ): Promise<SignedDeviceList> {
    return this.withState(url, async (pinned) => {
      const state = await this.withVrfKey(url, pinned);
      const versionKey = `${handle} ${bytesToHex(accountKey)}`;
      const seen = state.deviceListVersions?.[versionKey] ?? 0;
      let list: SignedDeviceList;
      let lookup: KeyLookup;
      try {
        ({ list, lookup } = decodeDeviceListLookup(json, handle));
        verifyDeviceListEntry(lookup, state.trust);
        await verifyDeviceList(nobleProvider, accountKey, list, { handle, minVersion: seen });
        await check(list);
      } catch (e) {
        throw badProof(e);
      }
      const head = await this.advanceHead(url, state, lookup.head);
      await this.saveState({
        ...state,
        head,
        deviceListVersions: { ...state.deviceListVersions, [versionKey]: list.version },
      });
      return list;
    });
  }

  /** Checks `next` against the remembered head (consistency proof) and returns the newer one. */
  private async advanceHead(
    url: string,
    state: DirectoryState,
    next: SignedTreeHead,
  ): Promise<SignedTreeHead> {
    const remembered = state.head;
    let proof: Uint8Array[] = [];
    if (remembered.treeSize !== next.treeSize) {
      const from = Math.min(remembered.treeSize, next.treeSize);
      const to = Math.max(remembered.treeSize, next.treeSize);
      const json = await this.getJson(url, `/v1/log/consistency?from=${from}&to=${to}`);
      try {
        proof = decodeConsistencyProof(json);
      } catch (e) {
        throw badProof(e);
      }
    }
    try {
      return verifyHeadUpdate(remembered, next, proof, state.trust);
    } catch (e) {
      throw badProof(e);
    }
  }

  /**
   * Runs `fn` with this directory's state, pinning its key first if we never met it (unless
   * `pinIfNew` is false: then an unknown directory resolves undefined without `fn`).
   */
  private withState<T>(url: string, fn: (state: DirectoryState) => Promise<T>): Promise<T>;
  private withState<T>(
    url: string,
    fn: (state: DirectoryState) => Promise<T>,
    pinIfNew: false,
  ): Promise<T | undefined>;
  private withState<T>(
    url: string,
    fn: (state: DirectoryState) => Promise<T>,
    pinIfNew = true,
  ): Promise<T | undefined> {
    const previous = this.queues.get(url) ?? Promise.resolve();
    const run = previous.then(async () => {
      const stored = await this.store.get<DirectoryState>('directory', url);
      if (!stored && !pinIfNew) return undefined;
      return fn(stored ?? (await this.pin(url)));
    });
    const tail = run.catch(() => undefined);
    this.queues.set(url, tail);
    void tail.then(() => {
      if (this.queues.get(url) === tail) this.queues.delete(url);
    });
    return run;
  }

  /** Trust on first use: the directory's key and origin, from its current signed head. */
  private async pin(url: string): Promise<DirectoryState> {
    const json = await this.getJson(url, '/v1/log/head');
    let state: DirectoryState;
    try {
      const head = decodeTreeHead(json);
      const publicKey = base64UrlDecode(String((json as { publicKey?: unknown }).publicKey));
      if (publicKey.length !== 32) throw new BackgroundError('bad-proof', 'bad directory key');
      const trust: DirectoryTrust = { origin: head.origin, publicKey };
      verifySignedTreeHead(head, trust);
      const vrfKey = signedVrfKey(json, trust);
      if (vrfKey) trust.vrfKey = vrfKey;
      state = { url, trust, head, sequences: {}, pinnedAt: this.now() };
    } catch (e) {
      throw badProof(e);
    }
    await this.saveState(state);
    return state;
  }

  /**
   * `state` with the directory's VRF key pinned: a directory pinned before it labelled handles
   * gets its VRF key pinned now (re-pin), from its head answer, signed by the pinned log key.
   * Unchanged when the key is pinned already or the directory has none.
   */
  private async withVrfKey(url: string, state: DirectoryState): Promise<DirectoryState> {
    if (state.trust.vrfKey) return state;
    const json = await this.getJson(url, '/v1/log/head');
    let vrfKey: Uint8Array | undefined;
    try {
      vrfKey = signedVrfKey(json, state.trust);
    } catch (e) {
      throw badProof(e);
    }
    if (!vrfKey) return state;
    const next = { ...state, trust: { ...state.trust, vrfKey } };
    await this.saveState(next);
    return next;
  }

  private async saveState(state: DirectoryState): Promise<void> {
    await this.store.commit([{ op: 'put', table: 'directory', key: state.url, value: state }]);
  }

  // ---- HTTP ----

  private async signedRequest(
    url: string,
    method: 'PUT' | 'DELETE' | 'GET',
    handle: string,
    body: string,
    signer: RequestSigner,
    under = '',
  ): Promise<unknown> {
    const path = identityPath(handle) + under;
    const bodyBytes = utf8ToBytes(body);
    const timestamp = Math.floor(this.now() / 1000);
    const nonce = nonceFromBytes(this.random(18));
    const signature = await signer.sign(
      canonicalRequest({ method, path, timestamp, nonce, body: bodyBytes }),
    );
    const headers: Record<string, string> = {
      [SIGNATURE_HEADERS.timestamp]: String(timestamp),
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.signature]: base64UrlEncode(signature),
    };
    if (method === 'PUT') headers['content-type'] = 'application/json';
    if (method === 'GET') headers.accept = 'application/json';
    return this.send(url, path, { method, headers, body: method === 'PUT' ? body : undefined });
  }

  private getJson(url: string, path: string): Promise<unknown> {
    return this.send(url, path, { method: 'GET', headers: { accept: 'application/json' } });
  }

  private async send(url: string, path: string, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchFn(url + path, {
        ...init,
        credentials: 'omit',
        cache: 'no-store',
        // A redirect could lead anywhere, including to plain http: refuse it.
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw new BackgroundError('directory-unreachable', 'the directory cannot be reached');
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new BackgroundError('directory-unreachable', 'the directory answer was cut off');
    }
    if (text.length > MAX_ANSWER_CHARS)
      throw new BackgroundError('directory-error', 'the directory answer is too large');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) {
      if (json === undefined)
        throw new BackgroundError('directory-error', 'the directory answer is not JSON');
      return json;
    }
    throw directoryError(res.status, json);
  }
}

/** A refusal the caller may act on: the directory's code and the numbers its error carried. */
class DirectoryRefusal extends BackgroundError {
  constructor(
    message: string,
    readonly directoryCode: string | undefined,
    readonly details: Record<string, unknown>,
  ) {
    super('directory-error', message);
  }
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A device id as a path segment (1 … 2^32 − 1). */
function deviceIdPath(deviceId: number): string {
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 0xffff_ffff)
    throw new BackgroundError('invalid-argument', 'a device id is 1 to 4294967295');
  return String(deviceId);
}

/** An answer of GET …/prekeys or GET …/devices/{id}/prekeys. */
function prekeyStatusOf(json: unknown): PrekeyStatus {
  const { oneTimePrekeys, signedPrekeyId, kemOneTimePrekeys, kemLastResortId } = (json ??
    {}) as Record<string, unknown>;
  if (!isCount(oneTimePrekeys) || !isCount(signedPrekeyId))
    throw new BackgroundError('directory-error', 'the directory sent no prekey count');
  const status: PrekeyStatus = { oneTimePrekeys, signedPrekeyId };
  // A directory from before post-quantum setup says nothing of KEM prekeys.
  if (isCount(kemOneTimePrekeys)) {
    status.kemOneTimePrekeys = kemOneTimePrekeys;
    status.kemLastResortId = isCount(kemLastResortId) ? kemLastResortId : null;
  }
  return status;
}

/**
 * The VRF key a head answer carries (`vrfKey`, `vrfKeySignature` by the log key), checked
 * against `trust`; undefined when it carries none (a directory from before handle labels).
 */
function signedVrfKey(json: unknown, trust: DirectoryTrust): Uint8Array | undefined {
  const { vrfKey, vrfKeySignature } = (json ?? {}) as Record<string, unknown>;
  if (vrfKey === undefined) return undefined;
  const key = base64UrlDecode(String(vrfKey));
  if (key.length !== 32) throw new BackgroundError('bad-proof', 'bad VRF key');
  verifyVrfKeySignature(trust, key, base64UrlDecode(String(vrfKeySignature)));
  return key;
}

const LINK_ID = /^[0-9a-f]{32}$/;

function linkPath(id: string): string {
  if (!LINK_ID.test(id))
    throw new BackgroundError('invalid-argument', 'a link id is 32 lowercase hex characters');
  return `/v1/links/${id}`;
}

function malformedLink(e: unknown): BackgroundError {
  if (isBackgroundError(e)) return e;
  return new BackgroundError('directory-error', 'the directory sent a malformed link message');
}

function directoryError(status: number, json: unknown): BackgroundError {
  const error = (json as { error?: Record<string, unknown> } | undefined)?.error;
  const raw = error?.code;
  // The directory's own text is not shown: only its code, when it looks like one.
  const code = typeof raw === 'string' && /^[a-z][a-z-]{0,39}$/.test(raw) ? raw : undefined;
  if (status === 404) return new BackgroundError('not-found', 'the directory has no such identity');
  if (status === 429)
    return new BackgroundError('rate-limited', 'the directory asks to retry later');
  if (code === 'handle-taken')
    return new BackgroundError('handle-taken', 'this handle belongs to another identity');
  if (code === 'link-exists' || code === 'link-answered')
    return new BackgroundError('conflict', 'the link code was already used by another browser');
  return new DirectoryRefusal(
    `the directory refused the request (${status}${code ? ` ${code}` : ''})`,
    code,
    typeof error === 'object' && error !== null ? error : {},
  );
}

/** The directory's last-seen list, what of it is well formed (at most one per device id). */
function seenTimes(raw: unknown): { id: number; at: number }[] {
  if (!Array.isArray(raw)) return [];
  const out = new Map<number, number>();
  for (const e of raw.slice(0, 64)) {
    const { id, at } = (e ?? {}) as Record<string, unknown>;
    if (isCount(id) && id >= 1 && id <= 0xffffffff && isCount(at)) out.set(id, at);
  }
  return [...out].map(([id, at]) => ({ id, at }));
}

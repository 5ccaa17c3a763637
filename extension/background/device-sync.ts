// Ongoing sync between one person's own browsers (background only; docs/devices.md "Sync").
// What syncs: contacts with their verification marks and acknowledged key changes, the enabled
// sites, taught site profiles and the recipients remembered per conversation. The state is the
// CRDT of protocol/sync-state.ts, sealed under a sync key only the account's devices hold, signed
// by the writing device (protocol/sync-blob.ts) and stored by the directory, which sees
// ciphertext only.
//
// A pass: pull the blob (refusing a rollback, another account's blob, or one signed by a device
// the account's checked list does not name), then, alone under the gate, fold this browser's
// edits since the last pass into the state (a diff of its tables against the baseline the last
// pass left), merge, apply the merged view to the tables, and push when the directory lacks
// something (version + 1; a conflict pulls and merges again). The tables are never overwritten
// blindly: an entry edited here while a pass ran is left for the next pass, and a verification
// is only ever applied to the very key it was made for.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { parseSiteProfile } from '../../site-adapters/profile';
import type { SiteProfile } from '../messaging/messages';
import { bytesEqual } from '../protocol/bytes';
import { fromBase64Url, toBase64Url } from '../protocol/encoding';
import { VeilError } from '../protocol/errors';
import {
  joinSyncBlob,
  splitSyncBlob,
  syncBlobBody,
  syncBlobMessage,
  unwrapSyncKey,
  verifySyncBlob,
  wrapSyncKey,
  type SyncKeyWrap,
} from '../protocol/sync-blob';
import {
  applyLocal,
  collectGarbage,
  decodeSyncState,
  emptySyncState,
  encodeSyncState,
  merge,
  openSyncState,
  sealSyncState,
  startClock,
  viewSyncState,
  SYNC_KEY_LENGTH,
  type Hlc,
  type JsonObject,
  type SyncChange,
  type SyncState,
} from '../protocol/sync-state';
import { normalizeDirectoryUrl } from './directory-client';
import { BackgroundError } from './errors';
import { PROFILE_PREFIX } from './handlers/sites';
import { DIRECTORY_SEEN_KEY, forgetDeviceLists, refreshDeviceList } from './linked-devices';
import type { VeilService } from './veil-service';

/**
 * A local edit is pushed `debounceMs` after the last one (edits in a burst go as one blob).
 * Tests that drive passes themselves set it high.
 */
export const syncTiming = { debounceMs: 2_000 };
/** Opening the popup or options pulls at most this often. */
export const SYNC_ON_OPEN_MS = 10_000;
/** Tries of one push against concurrent writers before giving up until the next pass. */
const PUSH_TRIES = 4;

const KEY_NAME = 'syncKey'; // table secrets (sealed under the lock)
const OLD_KEYS_NAME = 'syncKeysOld'; // table secrets: earlier sync keys, newest first
const OLD_KEYS_KEPT = 8;
// table secrets: for a key learned from a wrap, the devices the blob it came in showed holding it
const HOLDERS_NAME = 'syncKeyHolders';
const RECORD_NAME = 'sync'; // table meta (sealed, hidden name under the lock)
const PENDING_NAME = 'sync-pending'; // table meta: SyncChange[] noted outside a pass

/** This browser's tables as the last pass left them, in the terms of the sync state. */
interface Baseline {
  contacts: Record<string, { key: string; verified: boolean }>;
  sites: string[];
  /** Host → canonical JSON of the profile. */
  profiles: Record<string, string>;
}

interface SyncRecord {
  /** The encoded state (sync-state.ts canonical JSON). */
  state: string;
  clock: Hlc;
  /** The highest blob version seen or written: an older one served later is a rollback. */
  version: number;
  baseline?: Baseline;
  lastPassAt?: number;
}

export interface SyncResult {
  /** The blob version the directory holds after this pass (0: none). */
  version: number;
  pushed: boolean;
  /** Why nothing happened: no sync key, locked, no identity, not published. */
  skipped?: 'no-sync-key' | 'locked' | 'no-identity' | 'not-published';
}

// ---- the sync key ----

/** The sync key, made on first use by the browser holding the account key. */
export async function ensureSyncKey(svc: VeilService): Promise<Uint8Array> {
  const held = await svc.store.get<string>('secrets', KEY_NAME);
  if (held) return fromBase64Url(held);
  const key = svc.crypto.randomBytes(SYNC_KEY_LENGTH);
  await svc.store.commit([{ op: 'put', table: 'secrets', key: KEY_NAME, value: toBase64Url(key) }]);
  return key;
}

/** The highest blob version this browser has seen: the link answer hands it on as a floor. */
export async function syncFloor(svc: VeilService): Promise<number> {
  return (await svc.store.get<SyncRecord>('meta', RECORD_NAME))?.version ?? 0;
}

/**
 * Takes the sync key the account's browser sealed into the link answer, and the version it had
 * seen: a directory serving the new browser an older blob (one from before a contact was
 * removed) is then a rollback here too.
 */
export async function adoptSyncKey(
  svc: VeilService,
  encoded: unknown,
  floor?: unknown,
): Promise<void> {
  if (typeof encoded !== 'string') return;
  let key: Uint8Array;
  try {
    key = fromBase64Url(encoded);
  } catch {
    return;
  }
  if (key.length !== SYNC_KEY_LENGTH) return;
  const version = Number.isSafeInteger(floor) && (floor as number) > 0 ? (floor as number) : 0;
  await svc.store.commit([
    { op: 'put', table: 'secrets', key: KEY_NAME, value: encoded },
    ...(version > 0
      ? [
          {
            op: 'put' as const,
            table: 'meta' as const,
            key: RECORD_NAME,
            value: { ...newRecord(0), version },
          },
        ]
      : []),
  ]);
}

/**
 * A new sync key (the account's browser, after unlinking a device): the next blob is sealed
 * under it and wrapped for the devices the list still names, so the unlinked one cannot read
 * anything synced afterwards. The old key is kept to read blobs written before others learn it.
 */
export async function rotateSyncKey(svc: VeilService): Promise<void> {
  const held = await svc.store.get<string>('secrets', KEY_NAME);
  if (!held) return;
  await setCurrentKey(svc, svc.crypto.randomBytes(SYNC_KEY_LENGTH));
  scheduleSync(svc);
}

/**
 * `holders`: for a key learned from a wrap, the writer and the devices it wrapped for. This
 * browser wraps that key for no one else, so a directory that keeps an unlinked browser on the
 * list it shows here cannot have it wrapped for that browser (the rotating browser's list rules).
 */
async function setCurrentKey(svc: VeilService, key: Uint8Array, holders?: number[]): Promise<void> {
  const held = await svc.store.get<string>('secrets', KEY_NAME);
  const old = (await svc.store.get<string[]>('secrets', OLD_KEYS_NAME)) ?? [];
  const next = held ? [held, ...old.filter((k) => k !== held)].slice(0, OLD_KEYS_KEPT) : old;
  await svc.store.commit([
    { op: 'put', table: 'secrets', key: KEY_NAME, value: toBase64Url(key) },
    { op: 'put', table: 'secrets', key: OLD_KEYS_NAME, value: next },
    holders
      ? { op: 'put', table: 'secrets', key: HOLDERS_NAME, value: holders }
      : { op: 'delete', table: 'secrets', key: HOLDERS_NAME },
  ]);
}

// ---- triggers ----

const running = new WeakMap<VeilService, Promise<unknown>>();
const timers = new WeakMap<VeilService, ReturnType<typeof setTimeout>>();
const openedAt = new WeakMap<VeilService, number>();

/** One pass at a time per service; a pass asked for while one runs follows it. */
export function syncNow(svc: VeilService): Promise<SyncResult> {
  const previous = running.get(svc) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => pass(svc));
  running.set(svc, next);
  return next;
}

/** A local edit: push soon (debounced). Errors wait for the next pass. */
export function scheduleSync(svc: VeilService, delayMs = syncTiming.debounceMs): void {
  const t = timers.get(svc);
  if (t !== undefined) clearTimeout(t);
  const timer = setTimeout(() => {
    timers.delete(svc);
    void syncNow(svc).catch(() => undefined);
  }, delayMs);
  // Node (tests): a pending pass does not keep the process alive.
  (timer as { unref?: () => void }).unref?.();
  timers.set(svc, timer);
}

/** The popup or options opened: pull, at most every SYNC_ON_OPEN_MS. */
export function syncOnOpen(svc: VeilService): void {
  const now = svc.now();
  if (now - (openedAt.get(svc) ?? -Infinity) < SYNC_ON_OPEN_MS) return;
  openedAt.set(svc, now);
  scheduleSync(svc, 0);
}

/**
 * An edit made outside the tables a pass reads (recipients): kept for the next pass. Taken
 * under the shared gate, so it never interleaves with a pass (which holds it alone).
 */
export async function noteSyncChange(svc: VeilService, change: SyncChange): Promise<void> {
  await svc.gate.shared(async () => {
    if (!(await svc.store.get<string>('secrets', KEY_NAME))) return;
    const pending = (await svc.store.get<SyncChange[]>('meta', PENDING_NAME)) ?? [];
    const next = [...pending, change].slice(-1000);
    await svc.store.commit([{ op: 'put', table: 'meta', key: PENDING_NAME, value: next }]);
  });
  scheduleSync(svc);
}

// ---- one pass ----

async function pass(svc: VeilService): Promise<SyncResult> {
  if ((await svc.lock.state()).locked) return { version: 0, pushed: false, skipped: 'locked' };
  const profile = await svc.profile();
  if (!profile) return { version: 0, pushed: false, skipped: 'no-identity' };
  const keyText = await svc.store.get<string>('secrets', KEY_NAME);
  if (!keyText) return { version: 0, pushed: false, skipped: 'no-sync-key' };
  const { directoryUrl } = await svc.settings();
  const url = normalizeDirectoryUrl(directoryUrl);
  if (!profile.device && profile.published?.url !== url)
    return { version: 0, pushed: false, skipped: 'not-published' };
  const handle = profile.handle;

  for (let attempt = 1; ; attempt++) {
    const record = (await svc.store.get<SyncRecord>('meta', RECORD_NAME)) ?? newRecord(0);
    const remote = await pull(svc, url, handle, record.version);
    // The key to seal under: the current one, which the pull may just have learned.
    const syncKey = fromBase64Url((await svc.store.get<string>('secrets', KEY_NAME))!);
    const { merged, dirty } = await svc.gate.exclusive(() =>
      foldAndApply(svc, handle, remote?.state),
    );
    const stored = remote?.version ?? 0;
    // A blob under an older key (we rotated it) is written again under the current one.
    if (!dirty && remote?.underCurrentKey) return { version: stored, pushed: false };
    const version = stored + 1;
    const me = (await svc.veil.getIdentity())!;
    const sealed = sealSyncState(syncKey, merged, {
      handle,
      version,
      device: me.deviceId ?? 1,
      randomBytes: (n) => svc.crypto.randomBytes(n),
    });
    const body = syncBlobBody(await wrapsFor(svc, handle, syncKey, me.deviceId ?? 1), sealed);
    const signature = await svc.veil.sign(syncBlobMessage(handle, body));
    const written = await svc.directory.putSync(
      url,
      handle,
      svc.veil,
      version,
      joinSyncBlob(body, signature),
    );
    if (written.ok) {
      await updateRecord(svc, (r) => ({ ...r, version: Math.max(r.version, version) }));
      return { version, pushed: true };
    }
    // Another device wrote meanwhile: take its blob, merge, try again.
    if (attempt >= PUSH_TRIES)
      throw new BackgroundError('directory-error', 'the sync blob kept changing: try later');
  }
}

/**
 * The directory's blob, opened and checked: sealed for this handle under our sync key, not older
 * than one seen before, the version the directory states, and signed by the device the header
 * names with the key our checked, fresh device list gives it. Anything else throws (typed) and
 * the pass stops before touching the tables.
 */
async function pull(
  svc: VeilService,
  url: string,
  handle: string,
  minVersion: number,
): Promise<{ state: SyncState; version: number; underCurrentKey: boolean } | undefined> {
  const blob = await svc.directory.getSync(url, handle, svc.veil);
  if (blob) await noteDirectorySeen(svc, blob.seen);
  if (!blob) {
    if (minVersion > 0)
      throw new BackgroundError('bad-proof', 'the directory lost the sync blob it had');
    return undefined;
  }
  try {
    const parts = splitSyncBlob(blob.ciphertext);
    const { opened, learned, current } = await openWithKeys(svc, handle, parts, minVersion);
    if (opened.version !== blob.version)
      throw new VeilError('bad-proof', 'the sync blob is not the version the directory says');
    // A new key means a device was unlinked: our list must say which before we wrap for anyone.
    if (learned) forgetDeviceLists(svc);
    await refreshDeviceList(svc, url, handle);
    const key = await ownDeviceKey(svc, opened.device);
    if (!key) throw new VeilError('bad-proof', 'the sync blob was written by an unlisted device');
    verifySyncBlob(handle, parts, key);
    // Under a key replaced since, only a device the new key's blob showed holding that key
    // writes: not the unlinked browser that kept the old one (even on a list a directory withheld).
    const holders = await svc.store.get<number[]>('secrets', HOLDERS_NAME);
    if (!current && !learned && holders && !holders.includes(opened.device))
      throw new VeilError('bad-proof', 'the sync blob is under an old key from an unlinked device');
    if (learned)
      await setCurrentKey(svc, learned, [opened.device, ...parts.wraps.map((w) => w.device)]);
    await updateRecord(svc, (r) => ({ ...r, version: Math.max(r.version, opened.version) }));
    return { state: opened.state, version: opened.version, underCurrentKey: current || !!learned };
  } catch (e) {
    if (e instanceof VeilError)
      throw new BackgroundError('bad-proof', `sync blob refused: ${e.message}`);
    throw e;
  }
}

/**
 * Opens the sealed state with our current key, an earlier one (a blob written before its writer
 * learned the newest), or the key wrapped for this device (`learned`: adopted once the blob's
 * signer checks out).
 */
async function openWithKeys(
  svc: VeilService,
  handle: string,
  parts: ReturnType<typeof splitSyncBlob>,
  minVersion: number,
): Promise<{ opened: ReturnType<typeof openSyncState>; learned?: Uint8Array; current: boolean }> {
  const current = await svc.store.get<string>('secrets', KEY_NAME);
  const old = (await svc.store.get<string[]>('secrets', OLD_KEYS_NAME)) ?? [];
  for (const text of [current, ...old]) {
    if (!text) continue;
    try {
      const opened = openSyncState(fromBase64Url(text), parts.sealed, { handle, minVersion });
      return { opened, current: text === current };
    } catch (e) {
      if (!(e instanceof VeilError) || e.code !== 'bad-mac') throw e;
    }
  }
  const me = await deviceId(svc);
  const wrap = parts.wraps.find((w) => w.device === me);
  if (!wrap) throw new VeilError('bad-mac', 'the sync blob does not open with our keys');
  const learned = await unwrapSyncKey(wrap, { handle, dh: (pub) => svc.veil.deviceDh(pub) });
  return {
    opened: openSyncState(learned, parts.sealed, { handle, minVersion }),
    learned,
    current: false,
  };
}

/** The current key wrapped for every other device our checked list names. */
async function wrapsFor(
  svc: VeilService,
  handle: string,
  syncKey: Uint8Array,
  me: number,
): Promise<SyncKeyWrap[]> {
  const list = await svc.veil.ownDevices();
  const holders = await svc.store.get<number[]>('secrets', HOLDERS_NAME);
  return (list?.devices ?? [])
    .filter((d) => d.id !== me && (!holders || holders.includes(d.id)))
    .map((d) =>
      wrapSyncKey(syncKey, {
        handle,
        device: d.id,
        deviceKey: d.key,
        randomBytes: (n) => svc.crypto.randomBytes(n),
      }),
    );
}

/** Keeps what the directory says of our devices' last requests (linked-devices.ts shows it). */
async function noteDirectorySeen(
  svc: VeilService,
  seen: { id: number; at: number }[],
): Promise<void> {
  const byId: Record<string, number> = {};
  for (const { id, at } of seen) byId[id] = at * 1000;
  await svc.store.commit([{ op: 'put', table: 'meta', key: DIRECTORY_SEEN_KEY, value: byId }]);
}

/** The key our checked device list gives device `id` (device 1 alone: the account key). */
async function ownDeviceKey(svc: VeilService, id: number): Promise<Uint8Array | undefined> {
  const list = await svc.veil.ownDevices();
  if (list) return list.devices.find((d) => d.id === id)?.key;
  const me = await svc.veil.getIdentity();
  return id === 1 && me ? me.identityKey : undefined;
}

/**
 * Under the exclusive gate: this browser's edits since the last pass into the state, the
 * remote state merged in, the merged view written to the tables, the new baseline kept. `dirty`:
 * the merged state holds something the remote one lacks (or there is no remote one).
 */
async function foldAndApply(
  svc: VeilService,
  handle: string,
  remote: SyncState | undefined,
): Promise<{ merged: SyncState; dirty: boolean }> {
  const record = (await svc.store.get<SyncRecord>('meta', RECORD_NAME)) ?? newRecord(0);
  const device = await deviceId(svc);
  let state = decodeSyncState(new TextEncoder().encode(record.state));
  let clock: Hlc = record.clock.device === device ? record.clock : startClock(device);
  const now = svc.now();
  const local = await capture(svc);
  const edit = (change: SyncChange) => {
    try {
      ({ state, clock } = applyLocal(state, change, clock, now));
    } catch (e) {
      // Something the sync state cannot hold (an odd host name, a full map) stays local.
      if (!(e instanceof VeilError)) throw e;
    }
  };
  // A browser's first pass (just linked, or its sync record lost) takes what the account's
  // blob already says as its baseline: only what it holds beyond that counts as its own edit,
  // so a stale copy (a link answer older than an un-verify made since) cannot win by being new.
  const base = record.baseline ?? (remote ? baselineOf(remote) : undefined);
  // Nor do sites it lacks count as turned off: the link answer carries none, so a first pass
  // would turn the account's sites off on every browser.
  const first = !record.baseline;
  for (const change of diff(base, local, state)) if (!first || !isSiteRemoval(change)) edit(change);
  for (const change of (await svc.store.get<SyncChange[]>('meta', PENDING_NAME)) ?? [])
    edit(change);
  const merged = collectGarbage(remote ? merge(state, remote) : state, now);
  await applyView(svc, handle, merged, local);
  const after = await capture(svc);
  const encoded = encodeSyncState(merged);
  const next: SyncRecord = {
    state: new TextDecoder().decode(encoded),
    clock,
    version: record.version,
    baseline: after,
    lastPassAt: now,
  };
  await svc.store.commit([
    { op: 'put', table: 'meta', key: RECORD_NAME, value: next },
    { op: 'delete', table: 'meta', key: PENDING_NAME },
  ]);
  const dirty = !remote || !bytesEqual(encodeSyncState(remote), encoded);
  return { merged, dirty };
}

// ---- this browser's tables ----

async function capture(svc: VeilService): Promise<Baseline> {
  const contacts: Baseline['contacts'] = {};
  for (const c of await svc.listContacts())
    contacts[c.handle] = { key: bytesToHex(c.identityKey), verified: c.verified };
  const sites = [...(await svc.settings()).enabledSites].sort();
  const profiles: Baseline['profiles'] = {};
  for (const key of await svc.store.keys('meta')) {
    if (!key.startsWith(PROFILE_PREFIX)) continue;
    const p = await svc.store.get<SiteProfile>('meta', key);
    if (p) profiles[key.slice(PROFILE_PREFIX.length)] = canonical(p);
  }
  return { contacts, sites, profiles };
}

/**
 * The edits this browser made since `base` (undefined: the first pass, everything here is new).
 * A contact whose key changed here is a key change (its verification follows only if verified
 * here again); a verify or un-verify is for the key pinned here.
 */
function diff(base: Baseline | undefined, now: Baseline, state: SyncState): SyncChange[] {
  const out: SyncChange[] = [];
  const was = base ?? { contacts: {}, sites: [], profiles: {} };
  for (const [handle, c] of Object.entries(now.contacts)) {
    const before = was.contacts[handle];
    const synced = state.contacts.get(handle)?.fields.get('key')?.value;
    if (!before) {
      // New here (or the first pass): pin it, or it is a key change against the synced pin.
      if (typeof synced === 'string' && synced !== c.key)
        out.push({ op: 'changeKey', handle, identityKey: c.key });
      else out.push({ op: 'setContact', handle, identityKey: c.key });
      if (c.verified) out.push({ op: 'verify', handle, identityKey: c.key });
      continue;
    }
    if (before.key !== c.key) {
      out.push({ op: 'changeKey', handle, identityKey: c.key });
      if (c.verified) out.push({ op: 'verify', handle, identityKey: c.key });
    } else if (before.verified !== c.verified)
      out.push({ op: c.verified ? 'verify' : 'unverify', handle, identityKey: c.key });
  }
  for (const handle of Object.keys(was.contacts))
    if (!now.contacts[handle]) out.push({ op: 'removeContact', handle });
  const sitesNow = new Set(now.sites);
  const sitesWas = new Set(was.sites);
  for (const site of sitesNow)
    if (!sitesWas.has(site)) out.push({ op: 'setSite', site, settings: { enabled: true } });
  for (const site of sitesWas)
    if (!sitesNow.has(site)) out.push({ op: 'setSite', site, settings: { enabled: false } });
  for (const [site, json] of Object.entries(now.profiles))
    if (was.profiles[site] !== json)
      out.push({ op: 'setProfile', site, profile: JSON.parse(json) as JsonObject });
  for (const site of Object.keys(was.profiles))
    if (!(site in now.profiles)) out.push({ op: 'removeProfile', site });
  return out;
}

/**
 * Writes what the merged state says into the tables. `seen` is the tables as this pass read
 * them: an entry that changed since (an edit while the pass ran) is left for the next pass.
 */
async function applyView(
  svc: VeilService,
  ownHandle: string,
  state: SyncState,
  seen: Baseline,
): Promise<void> {
  const view = viewSyncState(state);
  for (const [handle, v] of view.contacts) {
    if (handle === ownHandle) continue;
    const was = seen.contacts[handle];
    const cur = await svc.veil.getContact(handle);
    const key = hexToBytes(v.identityKey);
    if (!cur) {
      if (was) continue; // removed here while the pass ran
      await svc.veil.addContact(handle, key);
      if (v.verified) await svc.veil.markVerified(handle, true);
      continue;
    }
    if (!was || bytesToHex(cur.identityKey) !== was.key || cur.verified !== was.verified) continue;
    if (bytesEqual(cur.identityKey, key)) {
      if (!cur.pendingKey && cur.verified !== v.verified)
        await svc.veil.markVerified(handle, v.verified);
    } else if (cur.pendingKey && bytesEqual(cur.pendingKey, key)) {
      // Accepted on another of our browsers, and this one's directory look-up showed the same
      // new key: accept it here too. Its verification (if any) is for exactly this key.
      await svc.veil.acknowledgeKeyChange(handle);
      if (v.verified) await svc.veil.markVerified(handle, true);
    } else if (!cur.pendingKey || !bytesEqual(cur.pendingKey, key)) {
      // A key this browser has not seen the directory show: recorded as a pending key change,
      // never as verified; the person compares and accepts it here.
      await svc.veil.addContact(handle, key);
    }
  }
  for (const handle of Object.keys(seen.contacts)) {
    if (view.contacts.has(handle) || !state.contacts.has(handle)) continue;
    const cur = await svc.veil.getContact(handle);
    const was = seen.contacts[handle]!;
    if (!cur || bytesToHex(cur.identityKey) !== was.key || cur.verified !== was.verified) continue;
    await svc.store.commit([
      { op: 'delete', table: 'contacts', key: handle },
      ...(cur.session
        ? [{ op: 'delete' as const, table: 'sessions' as const, key: cur.session }]
        : []),
    ]);
  }

  const settings = await svc.settings();
  const sites = new Set(settings.enabledSites);
  const seenSites = new Set(seen.sites);
  for (const [site, s] of view.sites) {
    if (s.enabled === true && !seenSites.has(site)) sites.add(site);
    if (s.enabled === false && seenSites.has(site)) sites.delete(site);
  }
  const enabledSites = [...sites];
  if (
    enabledSites.length !== settings.enabledSites.length ||
    enabledSites.some((s) => !settings.enabledSites.includes(s))
  ) {
    await svc.store.commit([
      { op: 'put', table: 'settings', key: 'settings', value: { ...settings, enabledSites } },
    ]);
    await svc.syncSites();
  }

  for (const [site, raw] of view.profiles) {
    const json = canonical(raw);
    if (seen.profiles[site] === json) continue;
    let profile: SiteProfile;
    try {
      profile = parseSiteProfile(raw);
    } catch {
      continue; // not a profile this version can use: left in the state, not applied
    }
    if (profile.host !== site) continue;
    await svc.store.commit([
      { op: 'put', table: 'meta', key: PROFILE_PREFIX + site, value: profile },
    ]);
  }
  for (const site of Object.keys(seen.profiles))
    if (!view.profiles.has(site) && state.profiles.has(site))
      await svc.store.commit([{ op: 'delete', table: 'meta', key: PROFILE_PREFIX + site }]);

  for (const [conversation, handles] of view.recipients) {
    const key = await svc.names.of('recipients', conversation);
    const held = await svc.store.get<string[]>('secrets', key);
    if (held && held.join(' ') === handles.join(' ')) continue;
    await svc.store.commit([{ op: 'put', table: 'secrets', key, value: handles }]);
  }
}

// ---- helpers ----

function isSiteRemoval(change: SyncChange): boolean {
  return (
    change.op === 'removeProfile' || (change.op === 'setSite' && change.settings.enabled === false)
  );
}

/** What a state says, in the terms of this browser's tables. */
function baselineOf(state: SyncState): Baseline {
  const view = viewSyncState(state);
  const contacts: Baseline['contacts'] = {};
  for (const [handle, c] of view.contacts)
    contacts[handle] = { key: c.identityKey, verified: c.verified };
  const sites = [...view.sites].flatMap(([site, s]) => (s.enabled === true ? [site] : []));
  const profiles: Baseline['profiles'] = {};
  for (const [site, p] of view.profiles) profiles[site] = canonical(p);
  return { contacts, sites: sites.sort(), profiles };
}

function newRecord(device: number): SyncRecord {
  return {
    state: new TextDecoder().decode(encodeSyncState(emptySyncState())),
    clock: startClock(Math.max(1, device)),
    version: 0,
  };
}

async function deviceId(svc: VeilService): Promise<number> {
  return (await svc.veil.getIdentity())?.deviceId ?? 1;
}

async function updateRecord(svc: VeilService, f: (r: SyncRecord) => SyncRecord): Promise<void> {
  const record = (await svc.store.get<SyncRecord>('meta', RECORD_NAME)) ?? newRecord(0);
  await svc.store.commit([{ op: 'put', table: 'meta', key: RECORD_NAME, value: f(record) }]);
}

/** JSON with sorted keys: one spelling per value, to compare profiles. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

// What one person's devices keep in step (docs/devices.md "Sync"): contacts and their verification
// marks, site settings, site profiles and conversation recipients, as a state-based CRDT that any
// two devices merge without coordination, plus its canonical encoding and the sealed blob the
// directory stores without being able to read it. Pure; randomness comes in as a parameter.
//
// The state is a join-semilattice: every field is a last-writer-wins register stamped with a
// hybrid logical clock, every entry carries a removal stamp (a tombstone), and `merge` is the
// join. Merging in any order, any number of times, gives one state; a device that was offline
// for a week or a month merges what it wrote meanwhile and loses nothing and revives nothing.
//
// Verification rule (the one merge must never get wrong). A verification is a register per
// identity key (`v:<key hex>`), not per contact, so it always names the key it was made for. A
// contact counts as verified iff the register for its current key says true and was written
// after the contact's last key change. Hence merging never loses `verified` for a key unless the
// other side holds a later key change of that contact (verification resets, as a key change
// must, even a change back to the same key) or a later explicit un-verify of that same key. An
// unrelated edit (a rename, a site setting, recipients, an un-verify of an older key) cannot
// touch it, and a verify re-stamps the pinned key so a concurrent earlier pin of another key on
// another device does not replace the verified key.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ByteReader, ByteWriter, bytesEqual, bytesToUtf8, utf8ToBytes } from './bytes';
import { VeilError } from './errors';
import { isValidHandle } from './identity';

// ---- types ----

/**
 * A hybrid logical clock stamp: wall time in ms, a counter for edits within one ms (or while the
 * wall clock is behind what this device has seen), and the device id that breaks ties. Ordered
 * by (wallMs, counter, device): a total order over all devices' edits.
 */
export interface Stamp {
  wallMs: number;
  counter: number;
  /** The device's id in the account's device list (1 … 2^32 − 1). */
  device: number;
}

/** A device's clock: the last stamp it issued. Start with `startClock(deviceId)`. */
export type Hlc = Stamp;

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A last-writer-wins register. */
export interface Register {
  readonly value: JsonValue;
  readonly at: Stamp;
}

/**
 * One contact, site, profile or conversation. `removedAt` is the newest removal (a tombstone);
 * only registers written after it are kept, so an old copy cannot bring a removed entry back.
 */
export interface Entry {
  readonly removedAt?: Stamp;
  readonly fields: ReadonlyMap<string, Register>;
}

/**
 * The synced state. Fields per entry:
 * - contacts (handle): `key` (hex Ed25519 identity key), `name` (string | null), `keyChange`
 *   (null; its stamp is the last key change), `v:<key hex>` (boolean: verified for that key);
 * - sites (host): one register per settings field, e.g. `enabled`;
 * - profiles (host): `profile` (the SiteProfile object, kept whole: two profiles' selectors
 *   mixed field by field would match nothing);
 * - recipients (conversation id as the page names it): `handles` (the list, kept whole).
 * Treat it as immutable: every function returns a new state and shares unchanged entries.
 */
export interface SyncState {
  readonly contacts: ReadonlyMap<string, Entry>;
  readonly sites: ReadonlyMap<string, Entry>;
  readonly profiles: ReadonlyMap<string, Entry>;
  readonly recipients: ReadonlyMap<string, Entry>;
}

type Kind = keyof SyncState;
const KINDS: readonly Kind[] = ['contacts', 'profiles', 'recipients', 'sites'];

/** A local edit. Keys are lowercase hex of the 32-byte Ed25519 identity key. */
export type SyncChange =
  | { op: 'setContact'; handle: string; identityKey: string; name?: string | null }
  | { op: 'verify'; handle: string; identityKey: string }
  | { op: 'unverify'; handle: string; identityKey: string }
  | { op: 'changeKey'; handle: string; identityKey: string }
  | { op: 'removeContact'; handle: string }
  | { op: 'setSite'; site: string; settings: JsonObject }
  | { op: 'removeSite'; site: string }
  | { op: 'setProfile'; site: string; profile: JsonObject }
  | { op: 'removeProfile'; site: string }
  | { op: 'setRecipients'; conversation: string; handles: string[] }
  | { op: 'removeRecipients'; conversation: string };

/** What the state says, for the background to apply to its own tables. */
export interface ContactView {
  identityKey: string;
  verified: boolean;
  /** Wall time (ms) of the verification that counts, when verified. */
  verifiedAt?: number;
  /** Wall time (ms) of the last key change, if there was one. */
  keyChangedAt?: number;
  name?: string;
}

export interface SyncView {
  contacts: Map<string, ContactView>;
  sites: Map<string, JsonObject>;
  profiles: Map<string, JsonObject>;
  recipients: Map<string, string[]>;
}

// ---- limits ----

/** Tombstones are kept at least this long: 90 days, far beyond a week or a month offline. */
export const TOMBSTONE_HORIZON_MS = 90 * 24 * 60 * 60 * 1000;
/** Largest encoded state accepted (500 contacts and 50 sites take 138 KB of it). */
export const MAX_SYNC_STATE_BYTES = 4 * 1024 * 1024;
/** Entries a local edit may grow a map to; decoding allows twice that (concurrent adds). */
export const MAX_ENTRIES = 10_000;
const MAX_DECODED_ENTRIES = 2 * MAX_ENTRIES;
const MAX_FIELDS = 64;
const MAX_NAME = 64;
/** A conversation id as the background accepts it (validate.ts CONTEXT_MAX). */
const MAX_CONVERSATION = 512;
/** Recipients of one conversation (validate.ts recipientList). */
const MAX_RECIPIENTS = 100;
/** A site setting's value and a whole profile, encoded (a profile's selectors are ≤ 600 each). */
const MAX_SETTING_BYTES = 4 * 1024;
const MAX_PROFILE_BYTES = 16 * 1024;
const MAX_JSON_DEPTH = 8;
const MAX_WALL_MS = 2 ** 48 - 1; // year 10889: beyond any honest clock, within exact integers
const MAX_U32 = 0xffff_ffff;
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

const KEY_HEX = /^[0-9a-f]{64}$/;
/** A host name with an optional port, as Settings → Sites and site profiles hold it. */
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
const SETTING_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

// ---- stamps and the clock ----

export function startClock(device: number): Hlc {
  checkDevice(device, 'invalid-argument');
  return { wallMs: 0, counter: 0, device };
}

/** Total order of stamps: wall time, then counter, then device id. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a.wallMs - b.wallMs || a.counter - b.counter || a.device - b.device;
}

const maxStamp = (a: Stamp, b: Stamp | undefined): Stamp => (b && compareStamps(b, a) > 0 ? b : a);

// The next stamp after `base` at wall time `nowMs`: a wall clock that went back (or a stamp
// from a device whose clock runs ahead) is outrun with the counter instead of being trusted.
function nextStamp(base: Stamp, nowMs: number, device: number): Stamp {
  if (nowMs > base.wallMs) return { wallMs: nowMs, counter: 0, device };
  if (base.counter >= MAX_U32) return { wallMs: base.wallMs + 1, counter: 0, device };
  return { wallMs: base.wallMs, counter: base.counter + 1, device };
}

// ---- the lattice ----

export function emptySyncState(): SyncState {
  return { contacts: new Map(), sites: new Map(), profiles: new Map(), recipients: new Map() };
}

/** The join: commutative, associative, idempotent; the result is at least both inputs. */
export function merge(a: SyncState, b: SyncState): SyncState {
  return {
    contacts: mergeMap('contacts', a.contacts, b.contacts),
    sites: mergeMap('sites', a.sites, b.sites),
    profiles: mergeMap('profiles', a.profiles, b.profiles),
    recipients: mergeMap('recipients', a.recipients, b.recipients),
  };
}

function mergeMap(
  kind: Kind,
  a: ReadonlyMap<string, Entry>,
  b: ReadonlyMap<string, Entry>,
): Map<string, Entry> {
  const out = new Map(a);
  for (const [key, eb] of b) {
    const ea = a.get(key);
    if (!ea) out.set(key, eb);
    else if (ea !== eb) {
      const joined = joinEntries(kind, ea, eb);
      if (joined) out.set(key, joined);
      else out.delete(key);
    }
  }
  return out;
}

function joinEntries(kind: Kind, a: Entry, b: Entry): Entry | undefined {
  const fields = new Map(a.fields);
  for (const [name, rb] of b.fields) {
    const ra = fields.get(name);
    if (!ra || compareRegisters(rb, ra) > 0) fields.set(name, rb);
  }
  return normalize(kind, maxStamp2(a.removedAt, b.removedAt), fields);
}

function maxStamp2(a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined {
  return a ? maxStamp(a, b) : b;
}

// Equal stamps hold equal values unless a device's state was corrupted; the value then breaks
// the tie so that merge stays commutative whatever it is given.
function compareRegisters(a: Register, b: Register): number {
  const byStamp = compareStamps(a.at, b.at);
  if (byStamp !== 0) return byStamp;
  const ja = canonicalJson(a.value);
  const jb = canonicalJson(b.value);
  return ja < jb ? -1 : ja > jb ? 1 : 0;
}

/**
 * Drops what can never count again: registers no newer than the removal, and verifications
 * older than the last key change (keyChange only grows, so they stay dead). Dropping them
 * commutes with the join, so the normalized states still form a semilattice; an entry with
 * nothing left is gone.
 */
function normalize(
  kind: Kind,
  removedAt: Stamp | undefined,
  fields: Map<string, Register>,
): Entry | undefined {
  for (const [name, r] of fields)
    if (removedAt && compareStamps(r.at, removedAt) <= 0) fields.delete(name);
  if (kind === 'contacts') {
    const change = fields.get('keyChange');
    if (change)
      for (const [name, r] of fields)
        if (name.startsWith('v:') && compareStamps(r.at, change.at) < 0) fields.delete(name);
  }
  if (!removedAt && fields.size === 0) return undefined;
  return removedAt ? { removedAt, fields } : { fields };
}

// ---- local edits ----

/**
 * Applies one edit made on this device at wall time `nowMs`, stamped after both this device's
 * clock and every stamp already in the entry (so a local edit always wins over what this device
 * has seen of it). Returns the new state and clock; an edit that changes nothing returns them
 * as they were. Bad input: VeilError('invalid-argument'); a map already at MAX_ENTRIES:
 * 'oversized'.
 */
export function applyLocal(
  state: SyncState,
  change: SyncChange,
  clock: Hlc,
  nowMs: number,
): { state: SyncState; clock: Hlc } {
  checkStamp(clock, 'invalid-argument');
  if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs > MAX_WALL_MS)
    throw new VeilError('invalid-argument', 'time out of range');
  const edit = planEdit(state, change);
  if (!edit) return { state, clock };
  const map = state[edit.kind];
  const entry = map.get(edit.key);
  if (!entry && map.size >= MAX_ENTRIES)
    throw new VeilError('oversized', `too many ${edit.kind} to sync`);
  let base: Stamp = clock;
  if (entry) {
    base = maxStamp(base, entry.removedAt);
    for (const r of entry.fields.values()) base = maxStamp(base, r.at);
  }
  const at = nextStamp(base, nowMs, clock.device);
  const fields = new Map(entry?.fields);
  for (const [name, value] of edit.writes) fields.set(name, { value, at });
  const removedAt = edit.remove ? at : entry?.removedAt;
  const next = normalize(edit.kind, removedAt, fields);
  const out = new Map(map);
  if (next) out.set(edit.key, next);
  else out.delete(edit.key);
  return { state: { ...state, [edit.kind]: out }, clock: at };
}

interface Edit {
  kind: Kind;
  key: string;
  writes: [string, JsonValue][];
  remove?: true;
}

function planEdit(state: SyncState, change: SyncChange): Edit | undefined {
  if (!change || typeof change !== 'object') throw bad('change is not an object');
  switch (change.op) {
    case 'setContact': {
      const key = argHandle(change.handle);
      const identityKey = argKey(change.identityKey);
      if (change.name !== undefined && change.name !== null) argName(change.name);
      const current = contactFields(state, key);
      if (current && current.get('key')!.value !== identityKey)
        throw bad('the contact has another key: use changeKey');
      const writes: [string, JsonValue][] = [];
      if (!current) writes.push(['key', identityKey]);
      if (change.name !== undefined && (!current || current.get('name')?.value !== change.name))
        writes.push(['name', change.name]);
      return writes.length ? { kind: 'contacts', key, writes } : undefined;
    }
    case 'verify':
    case 'unverify': {
      const key = argHandle(change.handle);
      const identityKey = argKey(change.identityKey);
      const current = contactFields(state, key);
      if (!current || current.get('key')!.value !== identityKey)
        throw bad('only the pinned key of a contact can be verified or un-verified');
      const verified = change.op === 'verify';
      // Re-stamping the key makes the verified key win over an earlier pin made elsewhere.
      const writes: [string, JsonValue][] = [[`v:${identityKey}`, verified]];
      if (verified) writes.push(['key', identityKey]);
      return { kind: 'contacts', key, writes };
    }
    case 'changeKey': {
      const key = argHandle(change.handle);
      const identityKey = argKey(change.identityKey);
      const current = contactFields(state, key);
      if (!current) throw bad('no such contact');
      if (current.get('key')!.value === identityKey) return undefined;
      return {
        kind: 'contacts',
        key,
        writes: [
          ['key', identityKey],
          ['keyChange', null],
        ],
      };
    }
    case 'removeContact':
      return removal(state, 'contacts', argHandle(change.handle));
    case 'setSite': {
      const key = argSite(change.site);
      const settings = argObject(change.settings, 'settings');
      const names = Object.keys(settings);
      if (names.length === 0 || names.length > MAX_FIELDS)
        throw bad(`settings must have 1 to ${MAX_FIELDS} fields`);
      const writes: [string, JsonValue][] = [];
      for (const name of names) {
        if (!SETTING_NAME.test(name)) throw bad('a setting name is not usable');
        writes.push([name, argJson(settings[name], MAX_SETTING_BYTES, 'a setting')]);
      }
      return { kind: 'sites', key, writes };
    }
    case 'removeSite':
      return removal(state, 'sites', argSite(change.site));
    case 'setProfile': {
      const key = argSite(change.site);
      const profile = argJson(argObject(change.profile, 'profile'), MAX_PROFILE_BYTES, 'profile');
      return { kind: 'profiles', key, writes: [['profile', profile]] };
    }
    case 'removeProfile':
      return removal(state, 'profiles', argSite(change.site));
    case 'setRecipients': {
      const key = argConversation(change.conversation);
      const handles = argHandles(change.handles);
      return { kind: 'recipients', key, writes: [['handles', handles]] };
    }
    case 'removeRecipients':
      return removal(state, 'recipients', argConversation(change.conversation));
    default:
      throw bad('unknown change');
  }
}

// A removal of something not there changes nothing (nothing to outlive).
function removal(state: SyncState, kind: Kind, key: string): Edit | undefined {
  const entry = state[kind].get(key);
  return entry && entry.fields.size > 0 ? { kind, key, writes: [], remove: true } : undefined;
}

function contactFields(
  state: SyncState,
  handle: string,
): ReadonlyMap<string, Register> | undefined {
  const fields = state.contacts.get(handle)?.fields;
  return fields?.has('key') ? fields : undefined;
}

// ---- reading ----

/** The contact as the state says (undefined if absent or removed). */
export function contactView(state: SyncState, handle: string): ContactView | undefined {
  const fields = contactFields(state, handle);
  if (!fields) return undefined;
  const identityKey = fields.get('key')!.value as string;
  const change = fields.get('keyChange');
  const mark = fields.get(`v:${identityKey}`);
  const counts = mark?.value === true && (!change || compareStamps(mark.at, change.at) > 0);
  const view: ContactView = { identityKey, verified: counts };
  if (counts) view.verifiedAt = mark!.at.wallMs;
  if (change) view.keyChangedAt = change.at.wallMs;
  const name = fields.get('name')?.value;
  if (typeof name === 'string') view.name = name;
  return view;
}

/** Everything present (not removed), in plain form. */
export function viewSyncState(state: SyncState): SyncView {
  const view: SyncView = {
    contacts: new Map(),
    sites: new Map(),
    profiles: new Map(),
    recipients: new Map(),
  };
  for (const handle of state.contacts.keys()) {
    const c = contactView(state, handle);
    if (c) view.contacts.set(handle, c);
  }
  for (const [site, e] of state.sites) {
    if (e.fields.size === 0) continue;
    const settings: JsonObject = {};
    for (const [name, r] of e.fields) Object.defineProperty(settings, name, plainProp(r.value));
    view.sites.set(site, settings);
  }
  for (const [site, e] of state.profiles) {
    const p = e.fields.get('profile');
    if (p) view.profiles.set(site, p.value as JsonObject);
  }
  for (const [conversation, e] of state.recipients) {
    const r = e.fields.get('handles');
    if (r) view.recipients.set(conversation, [...(r.value as string[])]);
  }
  return view;
}

// Own, enumerable, writable: a field named like an Object.prototype member stays data.
const plainProp = (value: JsonValue): PropertyDescriptor => ({
  value,
  enumerable: true,
  writable: true,
  configurable: true,
});

/**
 * Drops tombstones whose removal is older than `horizonMs` (at least TOMBSTONE_HORIZON_MS) at
 * wall time `nowMs`. A device offline longer than the horizon could then bring such an entry
 * back with its old copy: it should take the directory's blob before merging its own.
 */
export function collectGarbage(
  state: SyncState,
  nowMs: number,
  horizonMs = TOMBSTONE_HORIZON_MS,
): SyncState {
  if (!Number.isSafeInteger(nowMs) || !(horizonMs >= TOMBSTONE_HORIZON_MS))
    throw bad('tombstones are kept at least 90 days');
  const cutoff = nowMs - horizonMs;
  const out: { -readonly [K in Kind]: ReadonlyMap<string, Entry> } = { ...state };
  for (const kind of KINDS) {
    const map = state[kind];
    let next: Map<string, Entry> | undefined;
    for (const [key, e] of map) {
      if (e.fields.size === 0 && e.removedAt && e.removedAt.wallMs < cutoff) {
        next ??= new Map(map);
        next.delete(key);
      }
    }
    if (next) out[kind] = next;
  }
  return out;
}

// ---- canonical encoding ----
//
// UTF-8 JSON with keys in sorted order and no spaces, so one state has one encoding:
// {"contacts":{handle:entry},"profiles":{…},"recipients":{…},"sites":{…},"v":1}, an entry
// {"f":{field:[value,wallMs,counter,device]},"r":[wallMs,counter,device]} ("r" only when
// removed). Decoding re-encodes and compares, so anything not in that one form is refused.

const FORMAT = 1;

export function encodeSyncState(state: SyncState): Uint8Array {
  const parts: string[] = [];
  for (const kind of KINDS) parts.push(`${JSON.stringify(kind)}:${encodeMap(state[kind])}`);
  parts.push(`"v":${FORMAT}`);
  return utf8ToBytes(`{${parts.join(',')}}`);
}

function encodeMap(map: ReadonlyMap<string, Entry>): string {
  const keys = [...map.keys()].sort(compareKeys);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encodeEntry(map.get(k)!)}`).join(',')}}`;
}

function encodeEntry(e: Entry): string {
  const names = [...e.fields.keys()].sort(compareKeys);
  const fields = names.map((n) => {
    const r = e.fields.get(n)!;
    return `${JSON.stringify(n)}:[${canonicalJson(r.value)},${stampJson(r.at)}]`;
  });
  const removed = e.removedAt ? `,"r":[${stampJson(e.removedAt)}]` : '';
  return `{"f":{${fields.join(',')}}${removed}}`;
}

const stampJson = (s: Stamp) => `${s.wallMs},${s.counter},${s.device}`;
const compareKeys = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function canonicalJson(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort(compareKeys);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Decodes and checks every field. Throws VeilError: 'oversized' (input or a field too large),
 * 'unknown-version', 'malformed' (anything else: bad JSON, an unknown or missing field, a wrong
 * type, a value out of range, a form other than the canonical one).
 */
export function decodeSyncState(bytes: Uint8Array): SyncState {
  if (!(bytes instanceof Uint8Array)) throw malformed('sync state is not bytes');
  if (bytes.length > MAX_SYNC_STATE_BYTES) throw new VeilError('oversized', 'sync state too large');
  let raw: unknown;
  try {
    raw = JSON.parse(bytesToUtf8(bytes));
  } catch {
    throw malformed('sync state is not JSON');
  }
  const top = record(raw, 'sync state');
  if (top.v !== FORMAT) {
    if (typeof top.v === 'number') throw new VeilError('unknown-version', 'unknown sync format');
    throw malformed('sync state has no format version');
  }
  onlyKeys(top, ['v', ...KINDS], 'sync state');
  const state = {} as { -readonly [K in Kind]: Map<string, Entry> };
  for (const kind of KINDS) state[kind] = decodeMap(kind, top[kind]);
  // One encoding per state: key order, spacing, number spelling, normalization.
  if (!bytesEqual(encodeSyncState(state), bytes)) throw malformed('sync state is not canonical');
  return state;
}

function decodeMap(kind: Kind, raw: unknown): Map<string, Entry> {
  const obj = record(raw, kind);
  const keys = Object.keys(obj);
  if (keys.length > MAX_DECODED_ENTRIES) throw new VeilError('oversized', `too many ${kind}`);
  const out = new Map<string, Entry>();
  for (const key of keys) {
    checkEntryKey(kind, key);
    const e = record(obj[key], 'entry');
    onlyKeys(e, ['f', 'r'], 'entry');
    const removedAt = e.r === undefined ? undefined : decodeStamp(e.r);
    const rawFields = record(e.f, 'entry fields');
    const names = Object.keys(rawFields);
    if (names.length > MAX_FIELDS) throw new VeilError('oversized', 'too many fields');
    const fields = new Map<string, Register>();
    for (const name of names) {
      const reg = rawFields[name];
      if (!Array.isArray(reg) || reg.length !== 4) throw malformed('a register is malformed');
      const at = decodeStamp(reg.slice(1));
      fields.set(name, { value: checkField(kind, name, reg[0]), at });
    }
    const entry = normalize(kind, removedAt, fields);
    if (entry) out.set(key, entry);
  }
  return out;
}

function checkEntryKey(kind: Kind, key: string): void {
  const ok =
    kind === 'contacts'
      ? isValidHandle(key)
      : kind === 'recipients'
        ? key.length >= 1 && key.length <= MAX_CONVERSATION
        : key.length <= 260 && HOST_NAME.test(key);
  if (!ok) throw malformed(`a key of ${kind} is not usable`);
}

function checkField(kind: Kind, name: string, value: unknown): JsonValue {
  try {
    switch (kind) {
      case 'contacts':
        if (name === 'key') return argKey(value);
        if (name === 'name') return value === null ? null : argName(value);
        if (name === 'keyChange') {
          if (value !== null) break;
          return null;
        }
        if (name.startsWith('v:') && KEY_HEX.test(name.slice(2)) && typeof value === 'boolean')
          return value;
        break;
      case 'sites':
        if (SETTING_NAME.test(name)) return argJson(value, MAX_SETTING_BYTES, 'a setting');
        break;
      case 'profiles':
        if (name === 'profile')
          return argJson(argObject(value, 'profile'), MAX_PROFILE_BYTES, 'profile');
        break;
      case 'recipients':
        if (name === 'handles') return argHandles(value);
        break;
    }
  } catch (e) {
    if (e instanceof VeilError && e.code === 'invalid-argument') throw malformed(e.message);
    throw e;
  }
  throw malformed(`unknown or malformed field of ${kind}`);
}

function decodeStamp(raw: unknown): Stamp {
  if (!Array.isArray(raw) || raw.length !== 3) throw malformed('a stamp is malformed');
  const s = { wallMs: raw[0] as number, counter: raw[1] as number, device: raw[2] as number };
  checkStamp(s, 'malformed');
  return s;
}

// ---- sealing for the directory ----
//
// `"VeilSync" || u8 format || u32 device || u64 version || nonce(24) || XChaCha20-Poly1305(
// state, zero-padded to a multiple of 1 KiB)` with associated data `"Veil sync state\0" || u8
// len || handle || header`. Only the account's devices hold the sync key, so the directory
// can store the blob but not read or alter it; the handle in the AD stops it serving one
// account's blob for another, and the version in the AD stops it passing an older blob off as
// newer. It can still serve an older blob whole: the caller keeps the highest version it has
// seen (or written) and passes it as `minVersion`, so a rollback is refused ('bad-proof'), as
// device lists are. Writers use a higher version every time (e.g. the time in ms).

const MAGIC = utf8ToBytes('VeilSync');
const SEALED_FORMAT = 1;
const AD_LABEL = utf8ToBytes('Veil sync state\u0000');
const HEADER_LENGTH = MAGIC.length + 1 + 4 + 8;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
const PAD_TO = 1024;
export const SYNC_KEY_LENGTH = 32;
/** Largest sealed blob accepted. */
export const MAX_SEALED_SYNC_BYTES =
  HEADER_LENGTH + NONCE_LENGTH + MAX_SYNC_STATE_BYTES + TAG_LENGTH;

export interface SealOptions {
  handle: string;
  /** Higher than every version this account sealed before. */
  version: number;
  /** The device sealing it. */
  device: number;
  randomBytes: (length: number) => Uint8Array;
}

export function sealSyncState(
  syncKey: Uint8Array,
  state: SyncState,
  opts: SealOptions,
): Uint8Array {
  checkSyncKey(syncKey);
  const handle = argHandle(opts.handle);
  if (!Number.isSafeInteger(opts.version) || opts.version < 0)
    throw bad('version must be a whole number ≥ 0');
  checkDevice(opts.device, 'invalid-argument');
  const encoded = encodeSyncState(state);
  if (encoded.length > MAX_SYNC_STATE_BYTES)
    throw new VeilError('oversized', 'sync state too large');
  // Padding hides how many contacts and sites there are to within a kilobyte; JSON never holds a
  // raw zero byte, so the padding is unambiguous.
  const padded = new Uint8Array(Math.min(MAX_SYNC_STATE_BYTES, roundUp(encoded.length)));
  padded.set(encoded);
  const header = new ByteWriter()
    .bytes(MAGIC)
    .u8(SEALED_FORMAT)
    .u32(opts.device)
    .u32(Math.floor(opts.version / 2 ** 32))
    .u32(opts.version >>> 0)
    .finish();
  const nonce = opts.randomBytes(NONCE_LENGTH);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LENGTH)
    throw bad('randomBytes gave the wrong length');
  const sealed = xchacha20poly1305(syncKey, nonce, associatedData(handle, header)).encrypt(padded);
  return new ByteWriter().bytes(header).bytes(nonce).bytes(sealed).finish();
}

const roundUp = (n: number) => Math.max(PAD_TO, Math.ceil(n / PAD_TO) * PAD_TO);

/**
 * Opens a blob the directory served for `handle`. Throws VeilError: 'truncated', 'oversized',
 * 'malformed' (not a sync blob, or a state that does not decode), 'unknown-version', 'bad-mac'
 * (another key, another handle, or any byte changed, the version and device included),
 * 'bad-proof' (older than `minVersion`).
 */
export function openSyncState(
  syncKey: Uint8Array,
  sealed: Uint8Array,
  opts: { handle: string; minVersion?: number },
): { state: SyncState; version: number; device: number } {
  checkSyncKey(syncKey);
  const handle = argHandle(opts.handle);
  if (!(sealed instanceof Uint8Array)) throw malformed('sealed sync state is not bytes');
  if (sealed.length > MAX_SEALED_SYNC_BYTES)
    throw new VeilError('oversized', 'sealed sync state too large');
  if (sealed.length < HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH)
    throw new VeilError('truncated', 'sealed sync state ends early');
  const r = new ByteReader(sealed);
  if (!bytesEqual(r.bytes(MAGIC.length), MAGIC)) throw malformed('not a sealed sync state');
  if (r.u8() !== SEALED_FORMAT) throw new VeilError('unknown-version', 'unknown sync blob format');
  const device = r.u32();
  const version = r.u32() * 2 ** 32 + r.u32();
  const header = sealed.subarray(0, HEADER_LENGTH);
  const nonce = r.bytes(NONCE_LENGTH);
  let padded: Uint8Array;
  try {
    padded = xchacha20poly1305(syncKey, nonce, associatedData(handle, header)).decrypt(r.rest());
  } catch {
    throw new VeilError('bad-mac', 'sealed sync state does not open');
  }
  // Checked only once authenticated: before that the numbers are the directory's word.
  if (version > MAX_VERSION || device === 0) throw malformed('sealed sync state header');
  if (version < (opts.minVersion ?? 0))
    throw new VeilError('bad-proof', 'an older sync state than one already seen');
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  return { state: decodeSyncState(padded.subarray(0, end)), version, device };
}

function associatedData(handle: string, header: Uint8Array): Uint8Array {
  const h = utf8ToBytes(handle);
  return new ByteWriter().bytes(AD_LABEL).u8(h.length).bytes(h).bytes(header).finish();
}

function checkSyncKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== SYNC_KEY_LENGTH)
    throw bad('the sync key must be 32 bytes');
}

// ---- argument and field checks ----

const bad = (what: string) => new VeilError('invalid-argument', what);
const malformed = (what: string) => new VeilError('malformed', what);

function checkDevice(device: unknown, code: 'invalid-argument' | 'malformed'): void {
  if (typeof device !== 'number' || !Number.isInteger(device) || device < 1 || device > MAX_U32)
    throw new VeilError(code, 'device id out of range');
}

function checkStamp(s: Stamp, code: 'invalid-argument' | 'malformed'): void {
  const int = (n: unknown, max: number) =>
    typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
  if (!s || typeof s !== 'object' || !int(s.wallMs, MAX_WALL_MS) || !int(s.counter, MAX_U32))
    throw new VeilError(code, 'stamp out of range');
  checkDevice(s.device, code);
}

function argHandle(h: unknown): string {
  if (!isValidHandle(h)) throw bad('not a valid handle');
  return h;
}

function argKey(k: unknown): string {
  if (typeof k !== 'string' || !KEY_HEX.test(k))
    throw bad('an identity key must be 64 lowercase hex digits');
  return k;
}

function argName(n: unknown): string {
  if (typeof n !== 'string' || n.length > MAX_NAME) throw bad('a name must be a short string');
  return n;
}

function argSite(s: unknown): string {
  if (typeof s !== 'string' || s.length > 260 || !HOST_NAME.test(s))
    throw bad('a site must be a host name');
  return s;
}

function argConversation(c: unknown): string {
  if (typeof c !== 'string' || c.length < 1 || c.length > MAX_CONVERSATION)
    throw bad('a conversation id must be 1 to 512 characters');
  return c;
}

function argHandles(list: unknown): string[] {
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_RECIPIENTS)
    throw bad(`recipients must be 1 to ${MAX_RECIPIENTS} handles`);
  const seen = new Set<string>();
  for (const h of list) {
    argHandle(h);
    if (seen.has(h)) throw bad('a recipient is listed twice');
    seen.add(h);
  }
  return [...(list as string[])];
}

function argObject(v: unknown, what: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw bad(`${what} is not an object`);
  return v as JsonObject;
}

/** Plain JSON data within `maxBytes` encoded and MAX_JSON_DEPTH deep; returned as a copy. */
function argJson(v: unknown, maxBytes: number, what: string): JsonValue {
  const copy = jsonCopy(v, 0, what);
  if (utf8ToBytes(canonicalJson(copy)).length > maxBytes)
    throw new VeilError('oversized', `${what} is too large`);
  return copy;
}

function jsonCopy(v: unknown, depth: number, what: string): JsonValue {
  if (depth > MAX_JSON_DEPTH) throw bad(`${what} is nested too deeply`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) throw bad(`${what} holds an unusable number`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => jsonCopy(x, depth + 1, what));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v))
      Object.defineProperty(out, k, plainProp(jsonCopy(x, depth + 1, what)));
    return out;
  }
  throw bad(`${what} is not plain data`);
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw malformed(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw malformed(`${what} has an unknown field`);
}

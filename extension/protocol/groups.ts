// Group membership and sender-key rotation policy (docs/protocol.md "Groups"). Pure: state in,
// decisions out; veil.ts stores what these return.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual, concatBytes, utf8ToBytes } from './bytes';
import type { GroupMember } from './plaintext';

/** A sender key is replaced after this many messages … */
export const ROTATE_AFTER_MESSAGES = 100;
/** … or this long after it was made, whichever comes first, so a group heals after a compromise. */
export const ROTATE_AFTER_MS = 7 * 24 * 3600 * 1000;
/** Received sender keys kept per (sender, group): the current one and the one before it. */
export const RECEIVED_KEYS_KEPT = 2;

/** Our view of a group's members (table `meta`, key `group/<groupIdHex>`). */
export interface GroupState {
  groupId: Uint8Array;
  /** Orders membership changes; ties go to the larger digest, so every member converges. */
  epoch: number;
  /** Everyone in the group, ourselves included, sorted by handle. */
  members: GroupMember[];
  /** SHA-256 of the canonical member list. */
  digest: Uint8Array;
  /**
   * Handles taken out of the group, with the epoch that took them out (dropped again when
   * re-added): a composer that showed an older epoch must not put them back unawares.
   */
  removed?: Record<string, number>;
}

/** Why our own sender key must be replaced before the next message, if it must. */
export type RotationReason =
  | 'new'
  | 'member-removed'
  | 'member-key-changed'
  | 'device-removed'
  | 'message-limit'
  | 'age'
  | 'requested';

export function sortedMembers(members: readonly GroupMember[]): GroupMember[] {
  const byHandle = new Map<string, GroupMember>();
  for (const m of members) byHandle.set(m.handle, m);
  return [...byHandle.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1));
}

/** SHA-256 over `handle || 0x00 || key` of each member in handle order. */
export function membersDigest(members: readonly GroupMember[]): Uint8Array {
  const parts = sortedMembers(members).flatMap((m) => [
    utf8ToBytes(m.handle),
    Uint8Array.of(0),
    m.identityKey,
  ]);
  return sha256(concatBytes(...parts));
}

/** The state after a change to `members` at `epoch`, from `before` (none for a new group). */
export function groupState(
  groupId: Uint8Array,
  epoch: number,
  members: readonly GroupMember[],
  before?: GroupState,
): GroupState {
  const sorted = sortedMembers(members);
  const state: GroupState = { groupId, epoch, members: sorted, digest: membersDigest(sorted) };
  const removed = { ...before?.removed };
  for (const m of removedMembers(before?.members ?? [], sorted)) removed[m.handle] = epoch;
  for (const m of sorted) delete removed[m.handle];
  if (Object.keys(removed).length > 0) state.removed = removed;
  return state;
}

export function sameMembers(a: readonly GroupMember[], b: readonly GroupMember[]): boolean {
  return bytesEqual(membersDigest(a), membersDigest(b));
}

/** Members of `before` that `after` no longer names (by handle). */
export function removedMembers(
  before: readonly GroupMember[],
  after: readonly GroupMember[],
): GroupMember[] {
  return before.filter((m) => !after.some((n) => n.handle === m.handle));
}

/** Most an epoch may move on in one change: a far jump would leave no room for the next. */
export const MAX_EPOCH_STEP = 16;
/** Epochs stay below this (a varint u32 has room to spare, and no group changes this often). */
export const MAX_EPOCH = 2 ** 31;

/**
 * Whether a membership record from `sender` replaces our state. A change is taken from someone
 * our state names as a member with the same identity key, when it is newer (a higher epoch, at
 * most MAX_EPOCH_STEP on, or the same epoch and a larger digest). A first member list is taken
 * only from a sender a pin vouches for who distributes their key for this group in the same
 * message (they write in it) and whose list names them and us.
 */
export function acceptsMembership(
  current: GroupState | undefined,
  incoming: { epoch: number; members: readonly GroupMember[] },
  sender: GroupMember,
  how: { vouched: boolean; distributes: boolean; me: GroupMember },
): boolean {
  if (incoming.epoch < 1 || incoming.epoch >= MAX_EPOCH) return false;
  const names = (m: GroupMember) =>
    incoming.members.some((n) => n.handle === m.handle && bytesEqual(n.identityKey, m.identityKey));
  if (!current) return how.vouched && how.distributes && names(sender) && names(how.me);
  const known = current.members.find((m) => m.handle === sender.handle);
  if (!known || !bytesEqual(known.identityKey, sender.identityKey)) return false;
  if (incoming.epoch !== current.epoch)
    return incoming.epoch > current.epoch && incoming.epoch - current.epoch <= MAX_EPOCH_STEP;
  return compareBytes(membersDigest(incoming.members), current.digest) > 0;
}

/** The key-comparison snapshot of who holds our sender key: handle → identity key hex. */
export type MemberKeys = Record<string, string>;

export function memberKeysOf(members: readonly GroupMember[]): MemberKeys {
  return Object.fromEntries(members.map((m) => [m.handle, bytesToHex(m.identityKey)]));
}

/**
 * When our sender key must be replaced before the next message: we have none, someone who holds
 * it is no longer a recipient, a recipient's identity key changed since we gave it to them (the
 * old, maybe compromised, device must not keep reading), or it is old or used enough.
 */
export function rotationNeeded(
  own: { createdAt: number; sent: number; memberKeys: MemberKeys; rotate?: boolean } | undefined,
  recipients: readonly GroupMember[],
  now: number,
): RotationReason | undefined {
  if (!own) return 'new';
  if (own.rotate) return 'requested';
  const holders = Object.keys(own.memberKeys);
  if (holders.some((h) => !recipients.some((r) => r.handle === h))) return 'member-removed';
  for (const r of recipients) {
    const held = own.memberKeys[r.handle];
    if (held !== undefined && held !== bytesToHex(r.identityKey)) return 'member-key-changed';
  }
  if (own.sent >= ROTATE_AFTER_MESSAGES) return 'message-limit';
  if (now - own.createdAt >= ROTATE_AFTER_MS) return 'age';
  return undefined;
}

/** Device keys (hex) per handle: who holds our sender key, or whose checked lists name what. */
export type DeviceKeys = Record<string, string[]>;

/**
 * Who holds a sender key given before devices were tracked: each member's account key (it went
 * over the account key's session only).
 */
export function holdersOf(own: { memberKeys: MemberKeys; devices?: DeviceKeys }): DeviceKeys {
  return (
    own.devices ?? Object.fromEntries(Object.entries(own.memberKeys).map(([h, k]) => [h, [k]]))
  );
}

/**
 * Whether a device that holds our sender key is gone from its person's checked list (or from
 * ours): it must read nothing sent afterwards, so the key is replaced, as when a member leaves.
 * A handle `listed` does not name is left to rotationNeeded (a member taken out).
 */
export function deviceRemoved(holders: DeviceKeys, listed: DeviceKeys): boolean {
  return Object.entries(holders).some(([handle, keys]) => {
    const now = listed[handle];
    return now !== undefined && keys.some((k) => !now.includes(k));
  });
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

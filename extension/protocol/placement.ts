// Where a decrypted message belongs and what status it shows (DESIGN.md §2.3, docs/protocol.md
// "Sealed conversation, time and order"). Pure: what the page says is a hint, what the message
// sealed is the evidence; this module compares the two and combines the verdicts.
import { bytesEqual } from './bytes';
import { contextHash } from './envelope';

/** What the sender's identity is worth, before the page's placement is judged. */
export type TrustStatus = 'verified' | 'unverified' | 'key-changed' | 'unknown-sender';

/**
 * What a reader shows. `unknown-sender`, `moved` and `repeat` are warnings whose text stays
 * hidden until the user asks for it.
 */
export type MessageStatus = TrustStatus | 'moved' | 'repeat' | 'failed';

/** What the page (through its site adapter) says about the conversation a block appears in. */
export interface PageView {
  /** The adapter's conversation id; a group's id is `contextHash(context)`. */
  context: string;
  /** Direct (two people) or group, when the adapter can tell. */
  kind?: 'direct' | 'group';
  /** For a direct page: the handles of the person this conversation is with, when known. */
  peers?: readonly string[];
}

/** What a message sealed about where it belongs. */
export interface SealedPlace {
  kind: 'direct' | 'group';
  /** Group messages: the group id (32 bytes). */
  groupId?: Uint8Array;
}

/**
 * Whether the block sits where the page says a different conversation is: a group message in a
 * direct conversation or in another group, a direct message in a group conversation, or a
 * direct message from someone other than the direct conversation's peer. A direct message in a
 * page of unknown kind is not judged: its binding is the two identities.
 */
export function isMoved(sealed: SealedPlace, sender: string | undefined, page: PageView): boolean {
  if (sealed.kind === 'group') {
    if (page.kind === 'direct') return true;
    return !sealed.groupId || !bytesEqual(sealed.groupId, contextHash(page.context));
  }
  if (page.kind === 'group') return true;
  const peers = page.peers ?? [];
  return page.kind === 'direct' && peers.length > 0 && !!sender && !peers.includes(sender);
}

/**
 * What the user's own pin says of a sender's key: the pinned contact's key (verified or not), a
 * key the directory showed and the user has not accepted yet (`key-changed`), or anything else
 * (`unknown-sender`, for the caller to ask the directory about).
 */
export function pinnedTrust(
  contact: { identityKey: Uint8Array; verified: boolean; pendingKey?: Uint8Array } | undefined,
  identityKey: Uint8Array,
): TrustStatus {
  if (contact && bytesEqual(contact.identityKey, identityKey))
    return contact.verified ? 'verified' : 'unverified';
  if (contact?.pendingKey && bytesEqual(contact.pendingKey, identityKey)) return 'key-changed';
  return 'unknown-sender';
}

/** The one status shown: an unknown sender first, then a misplaced block, then a repeated one. */
export function combineStatus(trust: TrustStatus, flags: { moved?: boolean; repeat?: boolean }) {
  if (trust === 'unknown-sender') return trust;
  if (flags.moved) return 'moved';
  if (flags.repeat) return 'repeat';
  return trust;
}

/** Statuses whose text a reader keeps hidden until the user asks to see it. */
export function hidesText(status: MessageStatus): boolean {
  return status === 'unknown-sender' || status === 'moved' || status === 'repeat';
}

// The plaintext cache (background only): decrypted and sent messages by the SHA-256 of their
// envelope, in the sealed `plaintexts` table (sealed under the lock's data key when a lock is
// set). History re-renders without walking ratchets again (a second decrypt would be a replay),
// and our own messages, which the protocol cannot decrypt, render from here.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ReaderView } from '../messaging/messages';
import type { Contact } from '../protocol/veil';

export interface CachedPlaintext {
  /** Where it was read or sent: a copy shown in another conversation is not served from here. */
  context: string;
  plaintext: string;
  sender: string;
  /** The sender's Ed25519 key the message was authenticated with (absent for our own). */
  senderIdentityKey?: Uint8Array;
  kind?: 'direct' | 'group';
  own?: true;
  at: number;
}

/** The cache key of an envelope: lowercase hex SHA-256. */
export function envelopeHash(envelope: Uint8Array): string {
  return bytesToHex(sha256(envelope));
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The view of a cached message with its status as of now (the contact may have been verified,
 * or its key changed, since): the same rule the protocol applies when it decrypts.
 */
export function cachedView(entry: CachedPlaintext, contact: Contact | undefined): ReaderView {
  const view: ReaderView = { status: 'verified', sender: entry.sender, plaintext: entry.plaintext };
  if (entry.kind) view.kind = entry.kind;
  if (entry.own) {
    view.own = true;
    return view;
  }
  if (!contact || !entry.senderIdentityKey) view.status = 'unverified';
  else if (!sameKey(contact.identityKey, entry.senderIdentityKey)) view.status = 'key-changed';
  else view.status = contact.verified ? 'verified' : 'unverified';
  return view;
}

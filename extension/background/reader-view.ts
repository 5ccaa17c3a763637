// What a reader frame shows for a decrypted message (background only): its status as of now
// (the user's pins, what the directory's log says of the sealing key, where the page shows it,
// whether the page shows it out of order), where and when it says it was written, and its text
// unless the status withholds it until the user asks. One rule for fresh and cached messages.
import type { BlockStatus, ReaderView } from '../messaging/messages';
import {
  combineStatus,
  hidesText,
  isMoved,
  pinnedTrust,
  type PageView,
  type TrustStatus,
} from '../protocol/placement';
import type { Contact } from '../protocol/veil';
import type { CachedPlaintext } from './plaintext-cache';

export interface ReaderViewDeps {
  getContact(handle: string): Promise<Contact | undefined>;
  /** The log's word on an unpinned sender (SenderTrust.judge). */
  judge(
    handle: string,
    key: Uint8Array,
    trust: TrustStatus,
    opts: { receivedAt?: number; caller?: string },
  ): Promise<TrustStatus>;
  /** The 30-digit safety-number half of (handle, key). */
  fingerprint(handle: string, key: Uint8Array): string;
}

/**
 * The trust a cached message's sender has now. Our own messages are ours. `caller` (a tab)
 * spends its own budget of directory lookups.
 */
export async function trustOf(
  deps: ReaderViewDeps,
  entry: CachedPlaintext,
  caller?: string,
): Promise<TrustStatus> {
  if (entry.own) return 'verified';
  if (!entry.senderIdentityKey) return 'unknown-sender';
  const contact = await deps.getContact(entry.sender);
  const pinned = pinnedTrust(contact, entry.senderIdentityKey);
  return deps.judge(entry.sender, entry.senderIdentityKey, pinned, {
    receivedAt: entry.at,
    ...(caller === undefined ? {} : { caller }),
  });
}

/** Whether the page shows the message where another conversation is. */
export function movedOn(entry: CachedPlaintext, page: PageView): boolean {
  // Kept before messages sealed where they belong: only the page context they were read in.
  if (!entry.sealed) return entry.context !== page.context;
  // For our own direct message the other party is the one it was sent to.
  const other = entry.own ? entry.to : entry.sender;
  return isMoved(entry.sealed, other, page);
}

export async function readerView(
  deps: ReaderViewDeps,
  entry: CachedPlaintext,
  page: PageView,
  opts: { repeat: boolean; reveal?: boolean; caller?: string; fingerprint?: boolean },
): Promise<ReaderView> {
  const trust = await trustOf(deps, entry, opts.caller);
  const status: BlockStatus = combineStatus(trust, {
    moved: movedOn(entry, page),
    repeat: opts.repeat,
  });
  const view: ReaderView = { status, sender: entry.sender };
  if (entry.kind) view.kind = entry.kind;
  if (entry.own) view.own = true;
  const sealed = entry.sealed;
  if (sealed) {
    view.sealed = {};
    if (sealed.origin?.site) view.sealed.site = sealed.origin.site;
    if (sealed.origin?.name) view.sealed.name = sealed.origin.name;
    if (sealed.sentAt !== undefined) view.sealed.sentAt = sealed.sentAt;
  }
  if (!entry.own && entry.senderIdentityKey) {
    const contact = await deps.getContact(entry.sender);
    view.contact = pinnedTrust(contact, entry.senderIdentityKey) !== 'unknown-sender';
    // 5,200 SHA-512 rounds: only when a reader shows it, not for every block a page posts.
    if (trust === 'unknown-sender' && opts.fingerprint !== false)
      view.fingerprint = deps.fingerprint(entry.sender, entry.senderIdentityKey);
  }
  if (hidesText(status) && !opts.reveal) view.hidden = true;
  else view.plaintext = entry.plaintext;
  return view;
}

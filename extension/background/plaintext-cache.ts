// The plaintext cache (background only): decrypted and sent messages by the SHA-256 of their
// envelope, in the sealed `plaintexts` table (sealed under the lock's data key when a lock is
// set). History re-renders without walking ratchets again (a second decrypt would be a replay),
// and our own messages, which the protocol cannot decrypt, render from here. Bounded: beyond
// MAX_CACHED_PLAINTEXTS the oldest (by `at`) are dropped; such a message then reads as expired.
import { envelopeDigest } from '../protocol/block-digest';
import type { SealedInfo } from '../protocol/veil';
import type { KeyStore } from './key-store';

/** Entries kept: months of busy chats, a few MB at most. */
export const MAX_CACHED_PLAINTEXTS = 20_000;
/**
 * Entries added past the cap before a trim pass runs: the pass reads (and unseals) the whole
 * table, so it runs once per this many new entries, not on every write.
 */
export const TRIM_SLACK = 2_000;

export interface CachedPlaintext {
  /** The page conversation it was first read or sent in. */
  context: string;
  plaintext: string;
  sender: string;
  /** The sender's Ed25519 key the message was authenticated with (absent for our own). */
  senderIdentityKey?: Uint8Array;
  kind?: 'direct' | 'group';
  own?: true;
  /** Our own direct message: to whom. */
  to?: string;
  /** Where, when and in which order it says it was written (entries older than that lack it). */
  sealed?: SealedInfo;
  at: number;
  /** Its sequence in the message archive, once archived (a second read is not a second record). */
  archived?: number;
}

/** The cache key of an envelope: lowercase hex SHA-256. */
/** The cache's key for an envelope: the block digest the archive and `revealBlock` use too. */
export const envelopeHash = envelopeDigest;

export interface CacheLimits {
  max: number;
  slack: number;
}

/** Per store: how many entries the table may hold now (counted once, then kept up to date). */
const estimates = new WeakMap<KeyStore, number>();
/** Per store: the trim pass running, so passes do not overlap. */
const trimming = new WeakMap<KeyStore, Promise<void>>();

/**
 * Call after storing `added` entries: once the table may exceed the cap by the slack, deletes
 * the oldest down to the cap (one transaction). Locked: nothing to do until it is unlocked.
 */
export async function noteCachedPlaintexts(
  store: KeyStore,
  added: number,
  limits: CacheLimits = { max: MAX_CACHED_PLAINTEXTS, slack: TRIM_SLACK },
): Promise<void> {
  await trimming.get(store);
  const known = estimates.get(store);
  // Counted once (after the write, so the new entries are in it), then kept up to date.
  const estimate = known === undefined ? await store.count('plaintexts') : known + added;
  estimates.set(store, estimate);
  if (estimate <= limits.max + limits.slack) return;
  const pass = store
    .deleteOldest('plaintexts', limits.max, (entry) => {
      const at = (entry as Partial<CachedPlaintext> | null)?.at;
      return typeof at === 'number' ? at : -Infinity;
    })
    .then((left) => void estimates.set(store, left));
  trimming.set(store, pass);
  try {
    await pass;
  } finally {
    trimming.delete(store);
  }
}

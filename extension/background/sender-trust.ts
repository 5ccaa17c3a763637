// Whether a message's sender is who it says (background only): the protocol trusts only the
// user's pins and calls anyone else `unknown-sender`; this asks the directory's log whether the
// key that sealed a message is one it shows for the handle the message names (DESIGN.md §2.7).
// Only the handle's present holder counts: entries before its last deletion were someone else's.
// A key the log never showed for the handle, in that time, stays unknown. Its current key makes
// the sender unverified (not yet a contact: offered as one), or, for a contact pinned to another
// key, a key change the user must accept (sending blocked meanwhile). A key the handle rotated
// away from reads only what this device received before the rotation was logged: whoever holds
// an old key after that is not vouched for. A message itself never pins or changes anything.
// Answers are kept (sealed, table `senders`) so a page load asks once; a page can make Veil ask
// about a few new senders a minute, no more (asking costs the directory and the user's network).
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual } from '../protocol/bytes';
import type { TrustStatus } from '../protocol/placement';
import type { LogEntry } from '../protocol/transparency';
import type { Contact } from '../protocol/veil';
import { BackgroundError } from './errors';

/** What the log said of one (handle, key), as kept in `senders`. */
export interface SenderRecord {
  /**
   * `current`: the present holder's latest key; `earlier`: a key the present holder rotated away
   * from; `never`: not the present holder's (another key, another holder, or a deleted handle).
   */
  standing: 'current' | 'earlier' | 'never';
  /** The handle's current key in the log (absent when it was deleted). */
  current?: Uint8Array;
  /** For `earlier`: when the entry that replaced it was logged (ms since the epoch). */
  retiredAt?: number;
  at: number;
}

/** How long an answer is used before asking again: a key can be rotated away, or published. */
export const SENDER_RECHECK_MS = { known: 24 * 3600 * 1000, never: 10 * 60 * 1000 };
/** New directory questions per caller (a tab) per minute; beyond, a sender stays unknown. */
export const LOOKUPS_PER_MINUTE = 20;

export interface SenderTrustDeps {
  /** The handle's verified log history at the user's directory; throws BackgroundError. */
  history(handle: string): Promise<{ entries: readonly LogEntry[] }>;
  /** Which directory the answers belong to (they are kept per directory). */
  directoryUrl(): Promise<string>;
  getContact(handle: string): Promise<Contact | undefined>;
  /** Records a log-confirmed key as the contact's pending key (Veil.addContact). */
  flagKeyChange(handle: string, key: Uint8Array): Promise<void>;
  read(key: string): Promise<SenderRecord | undefined>;
  write(key: string, record: SenderRecord): Promise<void>;
  now(): number;
  /**
   * A contact's device key (not their pinned account key): the trust their device list, fetched
   * from the directory and checked against the log (at most once a minute), gives it.
   */
  deviceTrust?(handle: string, key: Uint8Array): Promise<TrustStatus>;
}

/** What the log says of `key` for `handle`, from its entries (pure). */
export function standingOf(
  entries: readonly LogEntry[],
  key: Uint8Array,
  now: number,
): SenderRecord {
  // Device-list entries carry a digest, not a key: only key changes count here.
  const ordered = entries
    .filter((e) => e.action !== 'devices')
    .sort((a, b) => a.sequence - b.sequence);
  // The present holder's entries: those after the handle was last deleted.
  let from = 0;
  ordered.forEach((e, i) => {
    if (e.action === 'delete') from = i + 1;
  });
  const tenure = ordered.slice(from);
  const latest = tenure.at(-1);
  const record: SenderRecord = { standing: 'never', at: now };
  if (!latest) return record; // deleted, or never held
  record.current = latest.identityKey;
  let last = -1;
  tenure.forEach((e, i) => {
    if (bytesEqual(e.identityKey, key)) last = i;
  });
  if (last < 0) return record;
  if (last === tenure.length - 1) return { ...record, standing: 'current' };
  return { ...record, standing: 'earlier', retiredAt: tenure[last + 1]!.timestamp * 1000 };
}

export class SenderTrust {
  // Lookups in flight, so a page full of one sender's messages asks the directory once.
  private readonly pending = new Map<string, Promise<SenderRecord | undefined>>();
  private readonly budgets = new Map<string, { left: number; since: number }>();

  /** Look-up budgets kept per page (in-flight look-ups are not a cache: they finish). */
  memorySize(): number {
    return this.budgets.size;
  }

  clearMemory(): void {
    this.budgets.clear();
  }

  constructor(private readonly deps: SenderTrustDeps) {}

  /**
   * The trust a message earns once the log is asked: `trust` as the protocol judged it from the
   * user's pins; only `unknown-sender` is looked into. `receivedAt`: when this device first read
   * the message. `caller`: whose budget a new lookup spends (a tab). Unreachable directory, or
   * no budget left → still unknown.
   */
  async judge(
    handle: string,
    key: Uint8Array,
    trust: TrustStatus,
    opts: {
      receivedAt?: number;
      caller?: string;
      /** The caller's read of contacts (one per request); the store's otherwise. */
      getContact?: (handle: string) => Promise<Contact | undefined>;
      /** Told when the contact was written (a key change flagged): a cached read is stale. */
      changed?: (handle: string) => void;
    } = {},
  ): Promise<TrustStatus> {
    const getContact = opts.getContact ?? this.deps.getContact;
    // A device key of a contact: only their logged device list speaks for it, so a device they
    // unlinked stops counting within a minute, and one they linked counts without a message
    // having to vouch for it.
    if (this.deps.deviceTrust && trust !== 'key-changed') {
      const contact = await getContact(handle);
      if (contact && !contact.pendingKey && !bytesEqual(contact.identityKey, key)) {
        const device = await this.deps.deviceTrust(handle, key);
        if (device !== 'unknown-sender' || trust !== 'unknown-sender') {
          if (device !== trust) opts.changed?.(handle);
          return device;
        }
      }
    }
    if (trust !== 'unknown-sender') return trust;
    let record = await this.standing(handle, key, opts.caller);
    let contact = await getContact(handle);
    // A contact pinned to another key than the log's current one would be flagged: ask again
    // first (a kept answer may be a day old, and a page can show an old message on purpose).
    if (record?.current && contact && !bytesEqual(record.current, contact.identityKey)) {
      record = await this.standing(handle, key, opts.caller, { fresh: true });
      contact = await getContact(handle);
    }
    if (!record || record.standing === 'never') return 'unknown-sender';
    if (record.standing === 'earlier') {
      const receivedAt = opts.receivedAt ?? this.deps.now();
      if (record.retiredAt === undefined || receivedAt >= record.retiredAt) return 'unknown-sender';
    }
    if (!contact) return 'unverified';
    if (bytesEqual(contact.identityKey, key)) return contact.verified ? 'verified' : 'unverified';
    if (record.current && !bytesEqual(record.current, contact.identityKey)) {
      await this.deps.flagKeyChange(handle, record.current);
      opts.changed?.(handle);
      return record.standing === 'current' ? 'key-changed' : 'unverified';
    }
    // An earlier key of a contact whose pin is current: what it sealed before the rotation.
    return 'unverified';
  }

  /** What the log says of (handle, key), from what was kept when fresh enough, else asked. */
  async standing(
    handle: string,
    key: Uint8Array,
    caller = '',
    opts: { fresh?: boolean } = {},
  ): Promise<SenderRecord | undefined> {
    const id = `${await this.deps.directoryUrl()} ${handle} ${bytesToHex(key)}`;
    const kept = await this.deps.read(id);
    const now = this.deps.now();
    const ttl = kept?.standing === 'never' ? SENDER_RECHECK_MS.never : SENDER_RECHECK_MS.known;
    if (kept && !opts.fresh && now - kept.at < ttl) return kept;
    let lookup = this.pending.get(id);
    if (!lookup) {
      if (!this.spend(caller)) return opts.fresh ? undefined : kept;
      lookup = this.ask(handle, key).finally(() => this.pending.delete(id));
      this.pending.set(id, lookup);
    }
    const fresh = await lookup;
    if (!fresh) return opts.fresh ? undefined : kept; // unreachable: the last answer stands
    await this.deps.write(id, fresh).catch(() => undefined);
    return fresh;
  }

  /** Takes one lookup from `caller`'s budget (refilled every minute); false when spent. */
  private spend(caller: string): boolean {
    const now = this.deps.now();
    let b = this.budgets.get(caller);
    if (!b || now - b.since >= 60_000) {
      b = { left: LOOKUPS_PER_MINUTE, since: now };
      this.budgets.set(caller, b);
      // Old callers (closed tabs) are forgotten as new ones come.
      if (this.budgets.size > 256) this.budgets.delete(this.budgets.keys().next().value!);
    }
    if (b.left === 0) return false;
    b.left--;
    return true;
  }

  private async ask(handle: string, key: Uint8Array): Promise<SenderRecord | undefined> {
    let entries: readonly LogEntry[];
    try {
      ({ entries } = await this.deps.history(handle));
    } catch (e) {
      if (e instanceof BackgroundError && e.code === 'not-found')
        return { standing: 'never', at: this.deps.now() };
      return undefined;
    }
    return standingOf(entries, key, this.deps.now());
  }
}

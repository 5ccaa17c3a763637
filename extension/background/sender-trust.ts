// Whether a message's sender is who it says (background only): the protocol trusts only the
// user's pins and calls anyone else `unknown-sender`; this asks the directory's log whether the
// key that sealed a message is one it shows for the handle the message names (DESIGN.md §2.7).
// A key the log never showed for the handle stays unknown. A key it shows makes the sender
// unverified (not yet a contact: offered as one), or, for a contact pinned to another key, a key
// change the user must accept (sending blocked meanwhile); a message itself never pins or
// changes anything. Answers are kept (sealed, table `senders`) so a page load asks once.
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual } from '../protocol/bytes';
import type { TrustStatus } from '../protocol/placement';
import { keyStanding, type KeyStanding, type LogEntry } from '../protocol/transparency';
import type { Contact } from '../protocol/veil';
import { BackgroundError } from './errors';

/** What the log said of one (handle, key), as kept in `senders`. */
export interface SenderRecord {
  standing: KeyStanding;
  /** The handle's current key in the log (absent when it was deleted). */
  current?: Uint8Array;
  at: number;
}

/** How long an answer is used before asking again: a key can be rotated away, or published. */
export const SENDER_RECHECK_MS = { known: 24 * 3600 * 1000, never: 10 * 60 * 1000 };

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
}

export class SenderTrust {
  // Lookups in flight, so a page full of one sender's messages asks the directory once.
  private readonly pending = new Map<string, Promise<SenderRecord | undefined>>();

  constructor(private readonly deps: SenderTrustDeps) {}

  /**
   * The trust a message earns once the log is asked: `trust` as the protocol judged it from the
   * user's pins; only `unknown-sender` is looked into. Unreachable directory → still unknown.
   */
  async judge(handle: string, key: Uint8Array, trust: TrustStatus): Promise<TrustStatus> {
    if (trust !== 'unknown-sender') return trust;
    const record = await this.standing(handle, key);
    if (!record || record.standing === 'never') return 'unknown-sender';
    const contact = await this.deps.getContact(handle);
    if (!contact) return 'unverified';
    if (bytesEqual(contact.identityKey, key)) return contact.verified ? 'verified' : 'unverified';
    // A contact pinned to another key. The log's current key is not the pinned one: a change the
    // user accepts or not (the message is from the handle, sealed by a key the log shows).
    if (record.current && !bytesEqual(record.current, contact.identityKey)) {
      await this.deps.flagKeyChange(handle, record.current);
      return 'key-changed';
    }
    // An earlier key of a contact whose pin is current: what it sealed before the rotation.
    return 'unverified';
  }

  /** What the log says of (handle, key), from what was kept when fresh enough, else asked. */
  async standing(handle: string, key: Uint8Array): Promise<SenderRecord | undefined> {
    const id = `${await this.deps.directoryUrl()} ${handle} ${bytesToHex(key)}`;
    const kept = await this.deps.read(id);
    const now = this.deps.now();
    const ttl = kept?.standing === 'never' ? SENDER_RECHECK_MS.never : SENDER_RECHECK_MS.known;
    if (kept && now - kept.at < ttl) return kept;
    let lookup = this.pending.get(id);
    if (!lookup) {
      lookup = this.ask(handle, key).finally(() => this.pending.delete(id));
      this.pending.set(id, lookup);
    }
    const fresh = await lookup;
    if (!fresh) return kept; // unreachable: the last answer, if any, stands
    await this.deps.write(id, fresh).catch(() => undefined);
    return fresh;
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
    const record: SenderRecord = { standing: keyStanding(entries, key), at: this.deps.now() };
    const latest = entries.reduce<LogEntry | undefined>(
      (a, e) => (!a || e.sequence > a.sequence ? e : a),
      undefined,
    );
    if (latest && latest.action !== 'delete') record.current = latest.identityKey;
    return record;
  }
}

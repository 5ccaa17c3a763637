// Compares a tree head a contact sent inside an encrypted message with our own view of the same
// directory (background only; off the decrypt path). A directory that shows one log to some
// people and another log to others (a split view) can keep each view consistent on its own,
// so each side's lookups verify; it is caught only when two people compare heads. Two heads
// signed by the pinned directory key that disagree (one size, two roots; or no valid
// consistency proof from the smaller to the larger) are the evidence, and raise an alarm.
// A contact cannot raise a false alarm: a head not signed by the pinned key is ignored.
import { bytesEqual } from '../protocol/bytes';
import { isVeilError } from '../protocol/errors';
import {
  verifyConsistency,
  verifySignedTreeHead,
  type SignedTreeHead,
} from '../protocol/transparency';
import { normalizeDirectoryUrl, type DirectoryClient } from './directory-client';
import { isBackgroundError } from './errors';
import { splitViewAlarmId, type LogAlarms, type SplitViewAlarm } from './log-alarms';

/** What checking a gossiped head found. */
export type GossipResult =
  /** The head agrees with our view (same tree, or a proven prefix or extension of it). */
  | { status: 'consistent'; treeSize: number }
  /** The head and ours cannot both be true: an alarm was raised (or already stood). */
  | { status: 'split'; alarmId: string }
  /** Not a head of our pinned log: another origin, or not signed by the pinned key. Ignored. */
  | { status: 'other-log'; reason: 'origin' | 'signature' }
  /**
   * Not decided now; kept and retried by the next monitor pass. 'not-pinned': we never talked
   * to this directory; 'peer-ahead': the head is larger than any the directory shows us yet;
   * otherwise the error code of the failed request (e.g. 'directory-unreachable').
   */
  | { status: 'unchecked'; reason: string };

/** Gossiped heads kept for a retry, per directory (the newest ones). */
export const MAX_PENDING_HEADS = 8;
/**
 * A contact's head signed this long ago that our directory still does not show us is withheld:
 * a directory that froze our view (so we never see a key it swaps for others) is caught.
 */
export const WITHHELD_AFTER_MS = 24 * 3600 * 1000;

export interface HeadGossipOptions {
  directory: DirectoryClient;
  alarms: LogAlarms;
  now: () => number;
}

export class HeadGossip {
  constructor(private readonly opts: HeadGossipOptions) {}

  /**
   * Checks `head` (from a contact's message) against our view of `directoryUrl`. Never throws
   * for what the head or the directory do; the result says what was found. Takes no gate: call
   * it inside or outside a handler, but do not await it on the decrypt path.
   */
  async check(directoryUrl: string, head: SignedTreeHead): Promise<GossipResult> {
    const url = normalizeDirectoryUrl(directoryUrl);
    const { directory } = this.opts;
    const state = await directory.state(url);
    if (!state) return { status: 'unchecked', reason: 'not-pinned' };
    if (head.origin !== state.trust.origin) return { status: 'other-log', reason: 'origin' };
    try {
      verifySignedTreeHead(head, state.trust);
    } catch {
      return { status: 'other-log', reason: 'signature' };
    }
    try {
      let ours = state.head;
      // Only sizes the directory can serve: a larger head first needs a fresh one of ours.
      if (head.treeSize > ours.treeSize) ours = await directory.refreshHead(url);
      if (head.treeSize > ours.treeSize) {
        if (this.opts.now() - head.timestamp * 1000 >= WITHHELD_AFTER_MS)
          return this.split(url, ours, head, 'withheld');
        await this.keep(url, head);
        return { status: 'unchecked', reason: 'peer-ahead' };
      }
      if (head.treeSize === ours.treeSize)
        return bytesEqual(head.rootHash, ours.rootHash)
          ? this.agreed(url, head, ours.treeSize)
          : this.split(url, ours, head, 'same-size');
      const proof = await directory.consistencyProof(url, head.treeSize, ours.treeSize);
      try {
        verifyConsistency(head.treeSize, ours.treeSize, head.rootHash, ours.rootHash, proof);
      } catch {
        return this.split(url, ours, head, 'inconsistent');
      }
      return this.agreed(url, head, ours.treeSize);
    } catch (e) {
      // The directory could not be asked, or answered nonsense: decide later.
      await this.keep(url, head).catch(() => undefined);
      return {
        status: 'unchecked',
        reason: isBackgroundError(e) || isVeilError(e) ? e.code : 'internal',
      };
    }
  }

  /** Checks the heads kept by earlier 'unchecked' answers again (the monitor pass calls it). */
  async retryPending(directoryUrl: string): Promise<GossipResult[]> {
    const url = normalizeDirectoryUrl(directoryUrl);
    const pending = (await this.opts.directory.state(url))?.pendingHeads ?? [];
    const results: GossipResult[] = [];
    for (const head of pending) results.push(await this.check(url, head));
    return results;
  }

  private async agreed(url: string, head: SignedTreeHead, treeSize: number): Promise<GossipResult> {
    await this.drop(url, head);
    return { status: 'consistent', treeSize };
  }

  private async split(
    url: string,
    ours: SignedTreeHead,
    theirs: SignedTreeHead,
    reason: SplitViewAlarm['reason'],
  ): Promise<GossipResult> {
    const alarm: SplitViewAlarm = {
      id: splitViewAlarmId(url, ours, theirs),
      kind: 'split-view',
      directoryUrl: url,
      raisedAt: this.opts.now(),
      reason,
      heads: [plainHead(ours), plainHead(theirs)],
    };
    await this.opts.alarms.raise(alarm);
    await this.drop(url, theirs);
    return { status: 'split', alarmId: alarm.id };
  }

  private async keep(url: string, head: SignedTreeHead): Promise<void> {
    await this.opts.directory.updateState(url, (s) => {
      const others = (s.pendingHeads ?? []).filter((h) => !sameHead(h, head));
      return { ...s, pendingHeads: [...others, plainHead(head)].slice(-MAX_PENDING_HEADS) };
    });
  }

  private async drop(url: string, head: SignedTreeHead): Promise<void> {
    await this.opts.directory.updateState(url, (s) =>
      s.pendingHeads?.some((h) => sameHead(h, head))
        ? { ...s, pendingHeads: s.pendingHeads.filter((h) => !sameHead(h, head)) }
        : undefined,
    );
  }
}

/** Only the head's own fields (what a caller passes may carry more). */
function plainHead(h: SignedTreeHead): SignedTreeHead {
  return {
    origin: h.origin,
    treeSize: h.treeSize,
    rootHash: h.rootHash.slice(),
    timestamp: h.timestamp,
    signature: h.signature.slice(),
  };
}

function sameHead(a: SignedTreeHead, b: SignedTreeHead): boolean {
  return a.treeSize === b.treeSize && bytesEqual(a.rootHash, b.rootHash);
}

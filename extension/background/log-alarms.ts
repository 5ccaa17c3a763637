// Alarms about the directory's log (background only): an entry for our handle that we did not
// make (log-monitor.ts), or two heads signed by the directory key that cannot both be true
// (head-gossip.ts). Each is evidence, not a guess: the entry is proven in a signed tree, and a
// split needs two validly signed heads. Kept in the `state` table (readable while locked) until
// the user dismisses them; raising an alarm again changes nothing, so re-runs never duplicate
// one or bring a dismissed one back.
import type { LogAlarmView } from '../messaging/messages';
import { toBase64Url } from '../protocol/encoding';
import type { IndexedLogEntry, SignedTreeHead } from '../protocol/transparency';
import type { KeyStore } from './key-store';

/** Why an entry for our handle is not ours. */
export type ForeignEntryReason =
  | 'foreign-key' // publishes or rotates our handle to a key that is not ours
  | 'unexpected-rotate' // a rotation we did not do (even to our own key)
  | 'unexpected-delete' // a deletion we did not do
  | 'unexpected-devices'; // a device list we did not sign (a device linked behind our back)

interface AlarmBase {
  /** Stable for the same evidence, so raising it twice is one alarm. */
  id: string;
  directoryUrl: string;
  /** Milliseconds since the epoch. */
  raisedAt: number;
  dismissedAt?: number;
}

export interface ForeignEntryAlarm extends AlarmBase {
  kind: 'foreign-entry';
  reason: ForeignEntryReason;
  entry: IndexedLogEntry;
  /** 30-digit safety-number half of (handle, the entry's key): what others were shown. */
  fingerprint: string;
  /** The signed head whose root the entry was checked into. */
  head: SignedTreeHead;
}

export interface SplitViewAlarm extends AlarmBase {
  kind: 'split-view';
  /**
   * 'same-size': two roots for one size; 'inconsistent': the directory cannot prove one extends
   * the other; 'withheld': a contact holds a head it signed a day ago or more, and it still
   * shows us only a smaller log (our view is frozen while others see more).
   */
  reason: 'same-size' | 'inconsistent' | 'withheld';
  /** Two heads signed by the pinned directory key: ours first, then the one a contact sent. */
  heads: [SignedTreeHead, SignedTreeHead];
}

export type LogAlarm = ForeignEntryAlarm | SplitViewAlarm;

const KEY_PREFIX = 'log-alarm:';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The id of the alarm for an entry: one per (directory, log index). */
export function foreignEntryAlarmId(directoryUrl: string, index: number): string {
  return `entry:${directoryUrl}:${index}`;
}

/** The id of a split alarm: the same two heads give one id, in either order. */
export function splitViewAlarmId(
  directoryUrl: string,
  a: SignedTreeHead,
  b: SignedTreeHead,
): string {
  const names = [a, b].map((h) => `${h.treeSize}:${hex(h.rootHash)}`).sort();
  return `split:${directoryUrl}:${names.join(':')}`;
}

export class LogAlarms {
  constructor(private readonly store: KeyStore) {}

  /** Stores the alarm unless one with its id exists. True when it is new. */
  async raise(alarm: LogAlarm): Promise<boolean> {
    const key = KEY_PREFIX + alarm.id;
    if (await this.store.get('state', key)) return false;
    await this.store.commit([{ op: 'put', table: 'state', key, value: alarm }]);
    return true;
  }

  /** Every alarm, dismissed ones too, oldest first. */
  async all(): Promise<LogAlarm[]> {
    const keys = (await this.store.keys('state')).filter((k) => k.startsWith(KEY_PREFIX));
    const values = await this.store.getMany<LogAlarm>('state', keys);
    return values
      .filter((a): a is LogAlarm => a !== undefined)
      .sort((a, b) => a.raisedAt - b.raisedAt);
  }

  /** The alarms the user has not dismissed: what the popup and options page show. */
  async active(): Promise<LogAlarm[]> {
    return (await this.all()).filter((a) => a.dismissedAt === undefined);
  }

  /** Marks an alarm seen (it stays stored, so the same evidence does not raise it again). */
  async dismiss(id: string, now: number): Promise<boolean> {
    const key = KEY_PREFIX + id;
    const alarm = await this.store.get<LogAlarm>('state', key);
    if (!alarm || alarm.dismissedAt !== undefined) return false;
    await this.store.commit([
      { op: 'put', table: 'state', key, value: { ...alarm, dismissedAt: now } },
    ]);
    return true;
  }
}

/** What the extension pages show of an alarm (no key bytes beyond the fingerprint). */
export function alarmView(alarm: LogAlarm): LogAlarmView {
  const base = { id: alarm.id, directoryUrl: alarm.directoryUrl, raisedAt: alarm.raisedAt };
  if (alarm.kind === 'foreign-entry')
    return {
      ...base,
      kind: 'foreign-entry',
      reason: alarm.reason,
      handle: alarm.entry.handle,
      action: alarm.entry.action,
      index: alarm.entry.index,
      sequence: alarm.entry.sequence,
      loggedAt: alarm.entry.timestamp * 1000,
      fingerprint: alarm.fingerprint,
    };
  return {
    ...base,
    kind: 'split-view',
    reason: alarm.reason,
    treeSizes: [alarm.heads[0].treeSize, alarm.heads[1].treeSize],
    roots: [toBase64Url(alarm.heads[0].rootHash), toBase64Url(alarm.heads[1].rootHash)],
  };
}

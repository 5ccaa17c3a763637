// Watches the directory's log for our own handle (background only; needs no private key, so it
// runs while locked). A lookup proves one entry; only the handle's owner can tell that an entry
// is not theirs, and only by seeing every entry. So the monitor reads the whole log from our
// first publish on, folds each entry's leaf hash into a compact range and requires the result
// to equal the root of a signed head that extends the remembered one: a directory that omits,
// alters or reorders an entry is refused, and one that logs a key for our handle (or a rotate or
// delete) that we did not make raises a persisted alarm (log-alarms.ts).
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { LogCheckResult } from '../messaging/messages';
import { bytesEqual } from '../protocol/bytes';
import { isVeilError } from '../protocol/errors';
import {
  EMPTY_COMPACT_RANGE,
  compactRange,
  compactRangeAppend,
  compactRangeRoot,
  listedLeafHash,
  type CompactRange,
  type IndexedLogEntry,
  type LeafEntry,
  type ListedLogEntry,
  type RedactedLogEntry,
  type SignedTreeHead,
} from '../protocol/transparency';
import type { DirectoryClient } from './directory-client';
import { BackgroundError, isBackgroundError } from './errors';
import {
  foreignEntryAlarmId,
  type ForeignEntryAlarm,
  type ForeignEntryReason,
  type LogAlarms,
} from './log-alarms';
import type { Profile } from './veil-service';

/** The monitor's progress for one directory (kept in its DirectoryState). */
export interface MonitorState {
  /** The handle watched (a new identity starts over). */
  handle: string;
  /** Entries from this log index on were checked: our first publish entry. */
  start: number;
  /** Leaves [0, range.size) folded; `range.size` is the size of a verified signed head. */
  range?: CompactRange;
  /** When a pass last reached a signed root (ms since the epoch). */
  checkedAt?: number;
  /** When a pass last started (ms): passes on worker start are spaced by this. */
  attemptedAt?: number;
  /** The last pass's failure, cleared by the next success. */
  lastFailure?: { at: number; code: string };
  /**
   * Our handle's VRF label (hex), learnt once from a verified proof: v2 entries carry it instead
   * of the handle. Absent for a directory that does not label handles.
   */
  label?: string;
}

interface Own {
  handle: string;
  identityKey: Uint8Array;
  deviceLists?: readonly string[];
  /** Our handle's verified VRF label, to recognise v2 entries. */
  label?: Uint8Array;
}

/** Entries asked for per request (the directory serves up to 1000). */
export const MONITOR_PAGE_SIZE = 1000;

export interface LogMonitorOptions {
  directory: DirectoryClient;
  alarms: LogAlarms;
  /** Our public profile (handle, key, where and at which log index we published). */
  profile: () => Promise<Profile | undefined>;
  now: () => number;
  /** The 30-digit safety-number half of (handle, Ed25519 key), shown in the alarm. */
  fingerprint: (handle: string, identityKey: Uint8Array) => string;
  pageSize?: number;
}

/**
 * Why an entry of our handle is not ours, or undefined when it is. Ours: a publish of our own
 * key (the profile records the first; publishing our key again only binds the handle to us).
 * Not ours: any other key, and any rotate or delete (Veil does neither while the profile
 * exists; deleting everything removes the profile and this monitor's state with it).
 */
export function foreignEntryReason(
  entry: LeafEntry | RedactedLogEntry,
  own: Own,
): ForeignEntryReason | undefined {
  // A redacted entry is a pre-migration one of a deleted handle: accepted by its leaf hash
  // (docs/transparency.md says why that is safe enough).
  if ('redacted' in entry) return undefined;
  if (entry.label !== undefined) {
    // v2: ours only by label; without a verified label of ours we cannot claim any.
    if (!own.label || !bytesEqual(entry.label, own.label)) return undefined;
  } else if ((entry as { handle?: string }).handle !== own.handle) return undefined;
  // A device list is ours only if this browser published exactly it: another one links a device.
  if (entry.action === 'devices')
    return own.deviceLists?.includes(bytesToHex(entry.identityKey))
      ? undefined
      : 'unexpected-devices';
  if (!bytesEqual(entry.identityKey, own.identityKey)) return 'foreign-key';
  if (entry.action === 'delete') return 'unexpected-delete';
  if (entry.action === 'rotate') return 'unexpected-rotate';
  return undefined;
}

function errorCode(e: unknown): string {
  return isBackgroundError(e) || isVeilError(e) ? e.code : 'internal';
}

/** A stored state we can continue from: same handle, and a range that matches its size. */
function usableState(m: MonitorState | undefined, handle: string): MonitorState | undefined {
  if (!m || m.handle !== handle) return undefined;
  if (!m.range) return m;
  try {
    return { ...m, range: compactRange(m.range.size, m.range.hashes) };
  } catch {
    // Damaged (or restored from an older backup): start again from our publish entry.
    return { handle, start: m.start };
  }
}

export class LogMonitor {
  private readonly pageSize: number;
  private running: Promise<LogCheckResult> | undefined;

  constructor(private readonly opts: LogMonitorOptions) {
    this.pageSize = opts.pageSize ?? MONITOR_PAGE_SIZE;
  }

  /** One pass (joins a pass already running). Never throws: the result says what happened. */
  run(): Promise<LogCheckResult> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Runs a pass unless one started less than `intervalMs` ago (worker starts are frequent). */
  async runIfDue(intervalMs: number): Promise<LogCheckResult | undefined> {
    const profile = await this.opts.profile();
    if (!profile?.published) return undefined;
    const state = await this.opts.directory.state(profile.published.url);
    const last = state?.monitor?.handle === profile.handle ? state.monitor.attemptedAt : undefined;
    if (last !== undefined && this.opts.now() - last < intervalMs) return undefined;
    return this.run();
  }

  private async pass(): Promise<LogCheckResult> {
    const { directory, now } = this.opts;
    const profile = await this.opts.profile();
    const published = profile?.published;
    if (!profile || !published) return { status: 'not-published' };
    const url = published.url;
    const own = {
      handle: profile.handle,
      identityKey: profile.identityKey,
      deviceLists: published.deviceLists ?? [],
    };
    try {
      // The target: a head signed by the pinned key that extends every head seen before.
      const head = await directory.refreshHead(url);
      const stored = usableState((await directory.state(url))?.monitor, own.handle);
      const start = stored?.start ?? published.logIndex;
      await this.note(url, { handle: own.handle, start }, { attemptedAt: now() });
      // Our label, from a verified VRF proof (the history check proves it), learnt once.
      const history = await directory.history(url, own.handle);
      const label = stored?.label ? hexToBytes(stored.label) : history.label;
      const ownLabelled: Own = { ...own, ...(label ? { label } : {}) };
      if (head.treeSize <= published.logIndex)
        throw new BackgroundError('bad-proof', 'the signed head leaves out our own publish');
      let range = stored?.range;
      if (!range || range.size > head.treeSize)
        // Not trusted yet: the final root check covers it (a wrong hash gives another root).
        range = start === 0 ? EMPTY_COMPACT_RANGE : await directory.compactRange(url, start);
      const folded = await this.fold(url, range, head, start, ownLabelled);
      const earlier = this.beforeOurPublish(history.entries, start, own);
      const newAlarms = await this.raiseAlarms(
        url,
        [...earlier, ...folded.suspicious],
        head,
        profile,
      );
      await directory.updateState(url, (s) => {
        const current = s.monitor;
        // A concurrent pass (another worker instance) got further: keep its progress.
        if (current?.handle === own.handle && (current.range?.size ?? -1) > head.treeSize)
          return undefined;
        return {
          ...s,
          monitor: {
            handle: own.handle,
            start,
            range: folded.range,
            checkedAt: now(),
            ...(label ? { label: bytesToHex(label) } : {}),
            ...(current?.attemptedAt === undefined ? {} : { attemptedAt: current.attemptedAt }),
          },
        };
      });
      return { status: 'checked', treeSize: head.treeSize, entries: folded.count, newAlarms };
    } catch (e) {
      const code = errorCode(e);
      await this.note(
        url,
        { handle: own.handle, start: published.logIndex },
        { lastFailure: { at: now(), code } },
      ).catch(() => undefined);
      if (code === 'bad-proof')
        return {
          status: 'refused',
          code,
          message: isBackgroundError(e) || isVeilError(e) ? e.message : 'does not verify',
        };
      return { status: 'unchecked', code };
    }
  }

  /**
   * Folds entries [range.size, head.treeSize) into `range` page by page and checks the root.
   * Entries of our handle from `start` on that are not ours are collected, not yet alarmed:
   * only once the root matches are they proven to be in the signed log.
   */
  private async fold(
    url: string,
    initial: CompactRange,
    head: SignedTreeHead,
    start: number,
    own: Own,
  ): Promise<{ range: CompactRange; count: number; suspicious: Suspicious[] }> {
    let range = initial;
    let count = 0;
    const suspicious: Suspicious[] = [];
    while (range.size < head.treeSize) {
      const want = Math.min(this.pageSize, head.treeSize - range.size);
      const page = await this.opts.directory.logEntries(url, range.size, want);
      if (page.length === 0)
        throw new BackgroundError('bad-proof', 'the directory withheld log entries');
      const leaves: Uint8Array[] = [];
      for (const entry of page.slice(0, want)) {
        if (entry.index !== range.size + leaves.length)
          throw new BackgroundError('bad-proof', 'the log entries skip or repeat an index');
        try {
          leaves.push(listedLeafHash(entry));
        } catch {
          throw new BackgroundError('bad-proof', 'a log entry is not well formed');
        }
        const reason = entry.index >= start ? foreignEntryReason(entry, own) : undefined;
        if (reason) suspicious.push({ entry: asOwnEntry(entry, own.handle), reason });
      }
      range = compactRangeAppend(range, leaves);
      count += leaves.length;
    }
    if (!bytesEqual(compactRangeRoot(range), head.rootHash))
      throw new BackgroundError('bad-proof', 'the log entries do not match the signed head');
    return { range, count, suspicious };
  }

  /**
   * Entries of our handle before our publish that hold another key, since the handle was last
   * deleted (before that it was someone else's, rightly). A directory could log such an entry
   * just before our publish and serve that key to whoever looked us up then; the fold starts at
   * our publish and would not see it. From the handle's history, every entry proven.
   */
  private beforeOurPublish(
    entries: readonly IndexedLogEntry[],
    start: number,
    own: Own,
  ): Suspicious[] {
    const before = entries.filter((e) => e.index < start);
    const lastDelete = before.reduce((at, e) => (e.action === 'delete' ? e.sequence : at), 0);
    return before
      .filter(
        (e) =>
          e.sequence > lastDelete &&
          e.action !== 'delete' &&
          e.action !== 'devices' &&
          !bytesEqual(e.identityKey, own.identityKey),
      )
      .map((entry) => ({ entry, reason: 'foreign-key' as const }));
  }

  /** Raises the alarms of a verified pass, unless our identity changed meanwhile. */
  private async raiseAlarms(
    url: string,
    suspicious: readonly Suspicious[],
    head: SignedTreeHead,
    profile: Profile,
  ): Promise<number> {
    if (suspicious.length === 0) return 0;
    const current = await this.opts.profile();
    if (!current || !bytesEqual(current.identityKey, profile.identityKey)) return 0;
    let raised = 0;
    for (const { entry, reason } of suspicious) {
      const alarm: ForeignEntryAlarm = {
        id: foreignEntryAlarmId(url, entry.index),
        kind: 'foreign-entry',
        directoryUrl: url,
        raisedAt: this.opts.now(),
        reason,
        entry,
        // A device list's 32 bytes are a digest, not a key: there is no fingerprint to show.
        fingerprint:
          entry.action === 'devices' ? '' : this.opts.fingerprint(entry.handle, entry.identityKey),
        head,
      };
      if (await this.opts.alarms.raise(alarm)) raised++;
    }
    return raised;
  }

  /** Merges `fields` into the monitor state (from `base` when there is none for the handle). */
  private async note(
    url: string,
    base: MonitorState,
    fields: Partial<MonitorState>,
  ): Promise<void> {
    await this.opts.directory.updateState(url, (s) => ({
      ...s,
      monitor: { ...(usableState(s.monitor, base.handle) ?? base), ...fields },
    }));
  }
}

/** A listed entry found to be of our handle, as an alarm shows it (with our handle). */
function asOwnEntry(entry: ListedLogEntry, handle: string): IndexedLogEntry {
  if ('redacted' in entry) throw new BackgroundError('bad-proof', "a redacted entry is no one's");
  return { ...entry, handle };
}

interface Suspicious {
  entry: IndexedLogEntry;
  reason: ForeignEntryReason;
}

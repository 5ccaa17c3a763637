// The message archive of one background service (background only; docs/archive.md): records
// sealed in IndexedDB as the log, a segmented search index loaded on the first search and
// persisted when idle, retention, deletion from records and index together, export, backup
// part, and the long work as cancellable tasks. Nothing here answers a page: the handlers
// (handlers/archive.ts) are for extension pages only.
import { browser } from 'wxt/browser';
import type {
  ArchiveConversationRef,
  ArchiveHit,
  ArchiveOverview,
  ArchiveQuery,
  ArchiveStatus,
  Retention,
} from '../../messaging/archive-messages';
import type { BlockStatus } from '../../messaging/messages';
import { bytesToHex } from '@noble/hashes/utils.js';
import { BackgroundError } from '../errors';
import type { StoreOpAny } from '../key-store';
import type { CachedPlaintext } from '../plaintext-cache';
import type { VeilService } from '../veil-service';
import {
  conversationFile,
  parseArchivePart,
  type ArchiveBackupPart,
  type ExportFile,
} from './export';
import {
  conversationId,
  RecordStore,
  recordKey,
  seqOf,
  withRecord,
  type ArchiveRecord,
  type Catalog,
  type NewRecord,
} from './records';
import { DEFAULT_RETENTION, expiredRows, globalRule, retentionDue } from './retention';
import {
  MANIFEST_KEY,
  SEGMENT_SIZE,
  SegmentIndex,
  segmentKey,
  type IndexedMessage,
  type Manifest,
  type Row,
  type SegmentFilter,
  type StoredSegment,
} from './segment-index';
import { Tasks } from './tasks';
import { highlightRanges } from './tokenize';

/** Quiet time after the last add before the newest segment is re-sealed. */
export const PERSIST_IDLE_MS = 3_000;
/** Adds after which the segment is re-sealed anyway. */
export const PERSIST_EVERY_ADDS = 1_000;
/** Records read (and indexed) per batch when replaying or rebuilding. */
export const REPLAY_BATCH = 500;
/** A replay longer than this shows as an 'indexing' task. */
const INDEXING_TASK_FROM = 1_000;
const DEFAULT_LIMIT = 50;
/** The daily alarm folds a log tail longer than this into the index. */
const FOLD_TAIL_FROM = 2_000;
const MAX_LIMIT = 200;

/** Opens (or focuses) a tab at a URL; answers its id. */
export type TabOpener = (url: string) => Promise<number>;

const browserOpener: TabOpener = async (url) => {
  // tabs.query matches without the fragment (a single-page chat keeps its route there): the tab
  // at that very address first, else one on the same page, moved to the message's route.
  const page = url.split('#')[0]!;
  const tabs = await browser.tabs.query({ url: page }).catch(() => []);
  const found = tabs.find((t) => t.url === url) ?? tabs[0];
  if (found?.id !== undefined) {
    await browser.tabs.update(
      found.id,
      found.url === url ? { active: true } : { active: true, url },
    );
    return found.id;
  }
  const tab = await browser.tabs.create({ url });
  if (tab.id === undefined) throw new BackgroundError('internal', 'the tab did not open');
  return tab.id;
};

/** What a reader read, as the archive keeps it (or not: see `archivedStatus`). */
export function archivedStatus(
  status: BlockStatus,
  own: boolean,
  revealed: boolean,
): ArchiveStatus | undefined {
  if (own) return 'sent';
  if (status === 'verified' || status === 'unverified') return status;
  // Warnings (unknown sender, moved, repeat, key changed) only once the user chose to see it.
  if (status === 'failed') return undefined;
  return revealed ? 'unverified' : undefined;
}

/** The conversation a cached message was sealed in (never the page's say-so). */
export function conversationOf(
  entry: CachedPlaintext,
  recipients?: readonly string[],
): ArchiveConversationRef {
  const site = entry.sealed?.origin?.site ?? '';
  const kind = entry.kind ?? entry.sealed?.kind ?? 'direct';
  if (kind === 'direct') {
    const peer = entry.own ? (entry.to ?? recipients?.[0]) : entry.sender;
    if (peer !== undefined)
      return { id: conversationId(site, 'direct', peer), site, name: peer, kind, peers: [peer] };
    // Ours, sent from another of our browsers: whom to is not known here, only the name our
    // page sealed (no handle holds a ':'), so messages to different people never share one.
    const name = entry.sealed?.origin?.name ?? entry.context;
    return { id: conversationId(site, 'direct', `name:${name}`), site, name, kind, peers: [] };
  }
  const groupId = entry.sealed?.groupId;
  const name = entry.sealed?.origin?.name ?? entry.context;
  const peers = entry.own ? [...(recipients ?? [])] : [entry.sender];
  const key = groupId ? `id:${bytesToHex(groupId)}` : `name:${name}`;
  return { id: conversationId(site, 'group', key), site, name, kind, peers };
}

/** How far past its arrival a sealed send time is believed (clocks differ). */
const SENT_AT_SKEW_MS = 86_400_000;

/**
 * The sealed send time, unless the sender dated it later than it arrived (a date no Date holds
 * broke the export and the UI; a future one outlived every retention rule): then its arrival.
 */
function archivedAt(entry: CachedPlaintext): number {
  const sent = entry.sealed?.sentAt;
  return sent !== undefined && sent >= 0 && sent <= entry.at + SENT_AT_SKEW_MS ? sent : entry.at;
}

/** A record (without its sequence) of a cached message. */
export function recordOf(
  entry: CachedPlaintext,
  digest: string,
  status: ArchiveStatus,
  url: string | undefined,
  recipients?: readonly string[],
): NewRecord {
  const record: NewRecord = {
    digest,
    sender: entry.sender,
    own: entry.own === true,
    conversation: conversationOf(entry, recipients),
    at: archivedAt(entry),
    text: entry.plaintext,
    status,
  };
  if (url) record.url = url;
  return record;
}

type IndexState =
  | { state: 'none' }
  | { state: 'loading'; done: Promise<SegmentIndex>; pending: ArchiveRecord[] }
  | { state: 'ready'; index: SegmentIndex };

export class Archive {
  readonly records: RecordStore;
  readonly tasks: Tasks;
  opener: TabOpener = browserOpener;
  private chain: Promise<unknown> = Promise.resolve();
  private catalogCache: Catalog | undefined;
  private index: IndexState = { state: 'none' };
  /** Segments as persisted (a segment emptied since is deleted on the next persist). */
  private persisted: number[] = [];
  private addsSincePersist = 0;
  /** The catalog counts records its stored copy does not yet. */
  private catalogDirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** What the last load read: segments from storage, records replayed from the log. */
  lastLoad = { segments: 0, replayed: 0 };
  /** Bumped by forget(): work started before it must not bring anything back. */
  private generation = 0;
  /** Bumped when the index is dropped (delete-all too): a load begun before is not installed. */
  private indexEpoch = 0;

  constructor(
    private readonly svc: VeilService,
    /** Messages per index segment (the bench measures others). */
    private readonly segmentSize = SEGMENT_SIZE,
  ) {
    this.records = new RecordStore(svc.store);
    this.tasks = new Tasks((n) => svc.crypto.randomBytes(n));
  }

  /** Runs `fn` after every earlier archive write (adds, deletions and persists never interleave). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async catalog(): Promise<Catalog> {
    if (this.catalogCache) return this.catalogCache;
    const gen = this.generation;
    const read = await this.records.catalog();
    // Locked or wiped while it was read: not kept (it is plaintext in memory).
    if (gen === this.generation) this.catalogCache = read;
    return read;
  }

  /** Locked: 'locked' (nothing of the archive is read or written without the data key). */
  private async unlocked(): Promise<void> {
    try {
      await this.svc.lock.dataKey();
    } catch (e) {
      this.forget();
      throw e;
    }
  }

  /**
   * Archives a message once: `extra(seq)` are the caller's ops committed in the same
   * transaction (the plaintext cache entry marked with its sequence). Returns the sequence.
   */
  async add(input: NewRecord, extra: (seq: number) => StoreOpAny[] = () => []): Promise<number> {
    const gen = this.generation;
    return this.serial(async () => {
      await this.unlocked();
      const catalog = await this.catalog();
      const record: ArchiveRecord = { ...input, seq: catalog.next };
      const next = withRecord(catalog, record);
      await this.svc.store.commit([this.records.putOp(record), ...extra(record.seq)]);
      if (gen !== this.generation) return record.seq;
      this.catalogCache = next;
      this.indexAdd(record);
      return record.seq;
    });
  }

  /** A message a reader showed: archived unless it already is (a second read is not a second record). */
  async noteRead(
    digest: string,
    cached: CachedPlaintext,
    status: BlockStatus,
    revealed: boolean,
    url: string | undefined,
  ): Promise<void> {
    if (cached.archived !== undefined) return;
    const archived = archivedStatus(status, cached.own === true, revealed);
    if (!archived) return;
    await this.serial(async () => {
      // Again inside the chain: another frame may have archived it meanwhile.
      const current = await this.svc.store.get<CachedPlaintext>('plaintexts', digest);
      if (!current || current.archived !== undefined) return;
      const input = recordOf(current, digest, archived, url);
      const gen = this.generation;
      await this.unlocked();
      const catalog = await this.catalog();
      const record: ArchiveRecord = { ...input, seq: catalog.next };
      const next = withRecord(catalog, record);
      await this.svc.store.commit([
        this.records.putOp(record),
        {
          op: 'put',
          table: 'plaintexts',
          key: digest,
          value: { ...current, archived: record.seq },
        },
      ]);
      if (gen !== this.generation) return;
      this.catalogCache = next;
      this.indexAdd(record);
    });
  }

  private indexAdd(record: ArchiveRecord): void {
    const m = indexed(record);
    this.catalogDirty = true;
    if (this.index.state === 'loading') this.index.pending.push(record);
    if (this.index.state === 'ready') this.index.index.add(m);
    this.schedulePersist();
  }

  private schedulePersist(): void {
    this.addsSincePersist++;
    if (this.timer) clearTimeout(this.timer);
    const now = this.addsSincePersist >= PERSIST_EVERY_ADDS;
    this.timer = setTimeout(
      // In the service's gate, as handlers are: never across a restore or delete-everything.
      () => void this.svc.gate.shared(() => this.persist()).catch(() => undefined),
      now ? 0 : PERSIST_IDLE_MS,
    );
  }

  /**
   * Re-seals the catalog and the changed segments with the manifest (idle timer, tests). Until
   * then the records past them are their log: nothing is lost if the worker stops first.
   */
  async persist(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.serial(async () => {
      const index = this.index.state === 'ready' ? this.index.index : undefined;
      const ops: StoreOpAny[] = [];
      if (this.catalogDirty && this.catalogCache)
        ops.push(this.records.catalogOp(this.catalogCache));
      if (index?.dirty) ops.push(...index.persistOps(this.persisted));
      if (ops.length === 0) return;
      await this.unlocked();
      const gen = this.generation;
      await this.svc.store.commit(ops);
      if (gen !== this.generation) return;
      if (index) this.persisted = index.segmentNumbers();
      this.catalogDirty = false;
      this.addsSincePersist = 0;
    });
  }

  /** The index, loaded (sealed segments, then the records past them) on first use. */
  async loaded(): Promise<SegmentIndex> {
    await this.unlocked();
    if (this.index.state === 'ready') return this.index.index;
    if (this.index.state === 'loading') return this.index.done;
    const gen = this.generation;
    const epoch = this.indexEpoch;
    const state: IndexState & { state: 'loading' } = {
      state: 'loading',
      pending: [],
      done: this.load().then((index) => {
        if (gen !== this.generation) throw new BackgroundError('locked', 'the archive was locked');
        // Emptied meanwhile: this index holds what was deleted.
        if (epoch !== this.indexEpoch)
          throw new BackgroundError('cancelled', 'the archive was emptied meanwhile');
        for (const r of state.pending) index.add(indexed(r));
        this.index = { state: 'ready', index };
        if (index.dirty) this.schedulePersist();
        if (index.partial) void this.whole().catch(() => undefined);
        return index;
      }),
    };
    this.index = state;
    state.done.catch(() => {
      if (this.index === state) this.index = { state: 'none' };
    });
    return state.done;
  }

  private async load(): Promise<SegmentIndex> {
    const store = this.svc.store;
    const manifest = await store.get<Manifest>('archiveIndex', MANIFEST_KEY);
    let index: SegmentIndex;
    if (SegmentIndex.usable(manifest, this.segmentSize)) {
      // The newest segment only: a search answers from it (and the log's tail) while the older
      // ones load in the background (loadOlder).
      const newest = manifest.segments.at(-1);
      const stored =
        newest === undefined
          ? undefined
          : await store.get<StoredSegment>('archiveIndex', segmentKey(newest));
      index = SegmentIndex.fromStored(manifest, stored ? [stored] : []);
      this.persisted = [...manifest.segments];
    } else {
      // No index yet, or one of another format: rebuilt from the records; old segments go.
      index = new SegmentIndex(this.segmentSize);
      this.persisted = (await store.keys('archiveIndex'))
        .filter((k) => k.startsWith('seg/'))
        .map((k) => Number(k.slice(4)));
    }
    this.lastLoad = { segments: index.loadedSegments, replayed: 0 };
    const catalog = await this.catalog();
    const behind = Math.max(0, catalog.next - 1 - index.covered);
    const task = behind > INDEXING_TASK_FROM ? this.tasks.start('indexing', behind) : undefined;
    try {
      let done = 0;
      for (;;) {
        if (task?.cancelled) {
          // What was indexed so far is kept; the next search goes on from there.
          await this.svc.store.commit(index.persistOps(this.persisted));
          this.persisted = index.segmentNumbers();
          throw new BackgroundError('cancelled', 'indexing was cancelled');
        }
        const batch = await this.records.after(index.covered, REPLAY_BATCH);
        if (batch.length === 0) break;
        for (const r of batch) index.add(indexed(r));
        // A deleted record leaves a gap: covered moves past it with the next one read.
        done += batch.length;
        task?.progress(done);
        this.lastLoad.replayed = done;
        // Let decrypts and messages in between batches.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      task?.finish();
    }
    return index;
  }

  private olderLoad: Promise<void> | undefined;

  /** The index with every segment loaded (deletion, retention and export need all rows). */
  async whole(): Promise<SegmentIndex> {
    const index = await this.loaded();
    if (index.partial) {
      this.olderLoad ??= this.loadOlder(index).finally(() => {
        this.olderLoad = undefined;
      });
      await this.olderLoad;
    }
    if (index.partial) throw new BackgroundError('cancelled', 'loading the archive was cancelled');
    return index;
  }

  /** Loads the older segments, newest first, one at a time (an 'indexing' task). */
  private async loadOlder(index: SegmentIndex): Promise<void> {
    const gen = this.generation;
    const total = Object.values((await this.catalog()).conversations).reduce(
      (n, c) => n + c.messages,
      0,
    );
    const task = this.tasks.start('indexing', total);
    try {
      for (let n = index.nextOlder(); n !== undefined; n = index.nextOlder()) {
        if (task.cancelled) return;
        const stored = await this.svc.store.get<StoredSegment>('archiveIndex', segmentKey(n));
        // Locked, wiped or dropped meanwhile: this index is no longer the archive's.
        if (gen !== this.generation || this.index.state !== 'ready' || this.index.index !== index)
          return;
        index.prepend(n, stored);
        this.lastLoad.segments = index.loadedSegments;
        task.progress(Math.min(index.size, total));
        // Let decrypts and messages in between segments.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      task.finish();
    }
  }

  // ---- search and overview ----

  async search(q: ArchiveQuery): Promise<{ hits: ArchiveHit[]; total: number; complete: boolean }> {
    const index = await this.loaded();
    const catalog = await this.catalog();
    const limit = Math.min(q.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const keep = (row: Row): boolean => {
      if (q.conversation !== undefined && row.conversation !== q.conversation) return false;
      if (q.from !== undefined && row.at < q.from) return false;
      if (q.to !== undefined && row.at > q.to) return false;
      if (q.contact !== undefined && row.sender !== q.contact) {
        const peers = catalog.conversations[row.conversation]?.ref.peers ?? [];
        if (!peers.includes(q.contact)) return false;
      }
      return true;
    };
    const segments: SegmentFilter = {};
    if (q.conversation !== undefined) segments.conversation = q.conversation;
    if (q.from !== undefined) segments.from = q.from;
    if (q.to !== undefined) segments.to = q.to;
    if (q.contact !== undefined)
      segments.contact = {
        sender: q.contact,
        conversations: Object.values(catalog.conversations)
          .filter((c) => c.ref.peers.includes(q.contact!))
          .map((c) => c.ref.id),
      };
    const { matches, total, complete } = index.search({ words: q.words, keep, limit, segments });
    // Hits come from the index's rows: no record is opened to answer a search.
    const hits: ArchiveHit[] = matches.map(({ row, terms }) => ({
      id: recordKey(row.seq),
      sender: row.sender,
      own: row.own,
      conversation: catalog.conversations[row.conversation]?.ref ?? {
        id: row.conversation,
        site: '',
        name: '',
        kind: 'group',
        peers: [],
      },
      at: row.at,
      text: row.text,
      status: row.status,
      highlights: highlightRanges(row.text, new Set(terms)),
      openable: row.openable,
    }));
    hits.sort((a, b) => b.at - a.at || b.id.localeCompare(a.id));
    return { hits, total, complete };
  }

  async overview(): Promise<ArchiveOverview> {
    await this.unlocked();
    const catalog = await this.catalog();
    let messages = 0;
    let archiveBytes = 0;
    const conversations = Object.values(catalog.conversations)
      .filter((c) => c.messages > 0 || c.retention)
      .map((c) => {
        messages += c.messages;
        archiveBytes += c.bytes;
        return {
          ...c.ref,
          messages: c.messages,
          newest: c.newest,
          ...(c.retention ? { retention: c.retention } : {}),
        };
      })
      .sort((a, b) => b.newest - a.newest);
    let indexBytes = 0;
    for (const key of await this.svc.store.keys('archiveIndex'))
      if (key.startsWith('seg/'))
        indexBytes += rawSize(await this.svc.store.getRaw('archiveIndex', key));
    return { messages, archiveBytes, indexBytes, retention: globalRule(catalog), conversations };
  }

  async setRetention(conversation: string | undefined, retention: Retention | null): Promise<void> {
    await this.serial(async () => {
      await this.unlocked();
      const catalog = await this.catalog();
      let next: Catalog;
      if (conversation === undefined) {
        next = { ...catalog, retention: retention ?? DEFAULT_RETENTION };
      } else {
        const entry = catalog.conversations[conversation];
        if (!entry) throw new BackgroundError('not-found', 'no such conversation in the archive');
        const { retention: _old, ...rest } = entry;
        next = {
          ...catalog,
          conversations: {
            ...catalog.conversations,
            [conversation]: retention ? { ...rest, retention } : rest,
          },
        };
      }
      await this.svc.store.commit([this.records.catalogOp(next)]);
      this.catalogCache = next;
    });
  }

  // ---- deletion and retention ----

  /** Deletes messages from the records, the index and the plaintext cache, in one transaction. */
  private async deleteSeqs(seqs: readonly number[]): Promise<number> {
    if (seqs.length === 0) return 0;
    for (;;) {
      const deleted = await this.deleteFrom(await this.whole(), seqs);
      if (deleted !== undefined) return deleted;
    }
  }

  /** deleteSeqs on `index`; undefined when it was dropped meanwhile (delete-all, a memory clear). */
  private deleteFrom(index: SegmentIndex, seqs: readonly number[]): Promise<number | undefined> {
    return this.serial(async () => {
      await this.unlocked();
      // Re-sealing a dropped index would bring back what a delete-all just removed.
      if (this.index.state !== 'ready' || this.index.index !== index) return undefined;
      const records = await this.records.getMany(seqs);
      const removed = await index.remove(seqs);
      const ops: StoreOpAny[] = [...this.records.deleteOps(seqs)];
      for (const r of records)
        if (r) ops.push({ op: 'delete', table: 'plaintexts', key: r.digest });
      const next = recount(await this.catalog(), index);
      ops.push(this.records.catalogOp(next), ...index.persistOps(this.persisted));
      await this.svc.store.commit(ops);
      this.catalogCache = next;
      this.persisted = index.segmentNumbers();
      return Math.max(removed, records.filter(Boolean).length);
    });
  }

  async deleteMessage(id: string): Promise<number> {
    await this.unlocked();
    const seq = seqOf(id);
    const record = seq === undefined ? undefined : await this.records.get(seq);
    if (!record) throw new BackgroundError('not-found', 'no such message in the archive');
    return this.deleteSeqs([record.seq]);
  }

  async deleteConversation(id: string): Promise<number> {
    const index = await this.whole();
    const catalog = await this.catalog();
    if (!catalog.conversations[id])
      throw new BackgroundError('not-found', 'no such conversation in the archive');
    const seqs = [...index.rows()].filter((r) => r.conversation === id).map((r) => r.seq);
    const deleted = await this.deleteSeqs(seqs);
    await this.serial(async () => {
      const now = await this.catalog();
      const { [id]: gone, ...rest } = now.conversations;
      if (!gone) return;
      const next = { ...now, conversations: rest };
      await this.svc.store.commit([this.records.catalogOp(next)]);
      this.catalogCache = next;
    });
    return deleted;
  }

  /** Empties the archive (records, index, catalog but its global rule) and the cache entries it marked. */
  async deleteAll(): Promise<number> {
    await this.unlocked();
    return this.serial(async () => {
      const catalog = await this.catalog();
      const count = await this.records.count();
      const ops: StoreOpAny[] = [];
      for (const key of await this.svc.store.keys('archive'))
        ops.push({ op: 'delete', table: 'archive', key });
      for (const key of await this.svc.store.keys('archiveIndex'))
        ops.push({ op: 'delete', table: 'archiveIndex', key });
      for (const [key, entry] of await this.svc.store.entries<CachedPlaintext>('plaintexts'))
        if (entry?.archived !== undefined) ops.push({ op: 'delete', table: 'plaintexts', key });
      // The sequence goes on (a new message never reuses a deleted one's number).
      const next: Catalog = {
        next: catalog.next,
        conversations: {},
        ...(catalog.retention ? { retention: catalog.retention } : {}),
      };
      ops.push(this.records.catalogOp(next));
      this.dropIndex();
      await this.svc.store.commit(ops);
      this.catalogCache = next;
      this.persisted = [];
      return count;
    });
  }

  /**
   * Folds a long log tail into the index (loads it, then re-seals), so a first search after a
   * long time without one does not replay thousands of records. For the daily alarm.
   */
  async foldTail(longerThan = FOLD_TAIL_FROM): Promise<boolean> {
    if ((await this.svc.lock.state()).locked) return false;
    const manifest = await this.svc.store.get<Manifest>('archiveIndex', MANIFEST_KEY);
    const covered = SegmentIndex.usable(manifest, this.segmentSize) ? manifest.covered : 0;
    if ((await this.catalog()).next - 1 - covered <= longerThan) return false;
    await this.loaded();
    await this.persist();
    return true;
  }

  /** One retention pass: deletes what is past its rule or over the cap. Returns how many. */
  async applyRetention(now = this.svc.now()): Promise<number> {
    if ((await this.svc.lock.state()).locked) return 0;
    const catalog = await this.catalog();
    if (!retentionDue(catalog, now)) return 0;
    const index = await this.whole();
    return this.deleteSeqs(expiredRows(index.rows(), await this.catalog(), now));
  }

  // ---- export, backup, open ----

  async exportConversation(id: string, format: 'text' | 'json'): Promise<ExportFile> {
    const index = await this.whole();
    const entry = (await this.catalog()).conversations[id];
    if (!entry) throw new BackgroundError('not-found', 'no such conversation in the archive');
    const seqs = [...index.rows()].filter((r) => r.conversation === id).map((r) => r.seq);
    const records = (await this.records.getMany(seqs)).filter((r): r is ArchiveRecord => !!r);
    records.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return conversationFile(entry.ref, records, format, this.svc.now());
  }

  /** Every record, for the passphrase backup. */
  async backupPart(): Promise<ArchiveBackupPart> {
    await this.unlocked();
    const records: ArchiveRecord[] = [];
    for (let after = 0; ;) {
      const batch = await this.records.after(after, REPLAY_BATCH);
      if (batch.length === 0) break;
      records.push(...batch);
      after = batch.at(-1)!.seq;
    }
    return { v: 1, records: records.map(({ seq: _seq, ...r }) => r) };
  }

  /** Checks a backup's archive part (typed error, nothing written) and returns its records. */
  static parseBackupPart(part: unknown): NewRecord[] {
    return parseArchivePart(part);
  }

  /**
   * Restores checked records as a 'backup-import' task in batches (one transaction each):
   * cancelling keeps the batches done. Returns the task's id; `done` settles when it ends.
   */
  importRecords(records: readonly NewRecord[]): { id: string; done: Promise<number> } {
    const started = this.importRecordsNow(records);
    this.lastImport = started.done.catch(() => 0);
    return started;
  }

  /** The last backup import's end (tests; the UI follows `tasks`). */
  lastImport: Promise<number> = Promise.resolve(0);

  private importRecordsNow(records: readonly NewRecord[]): { id: string; done: Promise<number> } {
    const task = this.tasks.start('backup-import', records.length);
    const gen = this.generation;
    const done = (async () => {
      let imported = 0;
      try {
        for (let at = 0; at < records.length; at += REPLAY_BATCH) {
          if (task.cancelled) break;
          const batch = records.slice(at, at + REPLAY_BATCH);
          // In the service's gate: a restore or delete-everything (exclusive) never overlaps a batch.
          await this.svc.gate.shared(() =>
            this.serial(async () => {
              await this.unlocked();
              let catalog = await this.catalog();
              // Locked or wiped since it started: nothing more is written.
              if (gen !== this.generation) throw new BackgroundError('cancelled', 'import stopped');
              const ops: StoreOpAny[] = [];
              const added: ArchiveRecord[] = [];
              for (const input of batch) {
                const record: ArchiveRecord = { ...input, seq: catalog.next };
                catalog = withRecord(catalog, record);
                ops.push(this.records.putOp(record));
                added.push(record);
              }
              ops.push(this.records.catalogOp(catalog));
              await this.svc.store.commit(ops);
              this.catalogCache = catalog;
              for (const r of added) this.indexAdd(r);
            }),
          );
          imported += batch.length;
          task.progress(imported);
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } finally {
        task.finish();
      }
      return imported;
    })();
    return { id: task.id, done };
  }

  /** Opens the message's page and asks its content script to show the block. */
  async open(id: string): Promise<boolean> {
    await this.unlocked();
    const seq = seqOf(id);
    const record = seq === undefined ? undefined : await this.records.get(seq);
    if (!record) throw new BackgroundError('not-found', 'no such message in the archive');
    if (!record.url || !/^https?:/.test(record.url)) return false;
    const tabId = await this.opener(record.url);
    // The content script may still be loading: asked a few times.
    for (let i = 0; i < 10; i++) {
      const answer = await this.svc
        .tabs(tabId, 0, { type: 'revealBlock', digest: record.digest })
        .catch(() => undefined);
      if (answer !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return true;
  }

  // ---- memory ----

  private dropIndex(): void {
    this.indexEpoch++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.index = { state: 'none' };
    this.olderLoad = undefined;
    this.addsSincePersist = 0;
  }

  /** Locked or wiped: the index and the catalog (plaintext in memory) go; running work stops. */
  forget(): void {
    this.generation++;
    this.dropIndex();
    this.catalogCache = undefined;
    this.persisted = [];
    this.tasks.clear();
  }

  /** Messages held in memory (the index's), for the cache registry. */
  memorySize(): number {
    return this.index.state === 'ready' ? this.index.index.size : 0;
  }
}

/** What the index holds of a record. */
function indexed(r: ArchiveRecord): IndexedMessage {
  return {
    seq: r.seq,
    sender: r.sender,
    conversation: r.conversation.id,
    at: r.at,
    text: r.text,
    own: r.own,
    status: r.status,
    openable: r.url !== undefined,
  };
}

function rawSize(raw: unknown): number {
  if (raw && typeof raw === 'object' && (raw as { box?: unknown }).box instanceof Uint8Array)
    return (raw as { box: Uint8Array }).box.length;
  const s = raw as StoredSegment | undefined;
  return s?.json ? s.json.length + s.rows.length * 24 : 0;
}

/** The catalog's counts again from the index's rows (after a deletion). */
function recount(catalog: Catalog, index: SegmentIndex): Catalog {
  const stats = new Map<string, { messages: number; newest: number; oldest: number }>();
  for (const r of index.rows()) {
    const s = stats.get(r.conversation) ?? { messages: 0, newest: -Infinity, oldest: Infinity };
    s.messages++;
    s.newest = Math.max(s.newest, r.at);
    s.oldest = Math.min(s.oldest, r.at);
    stats.set(r.conversation, s);
  }
  const conversations: Catalog['conversations'] = {};
  for (const [id, c] of Object.entries(catalog.conversations)) {
    const s = stats.get(id);
    if (!s && !c.retention) continue;
    conversations[id] = s
      ? { ...c, ...s, bytes: c.messages ? Math.round((c.bytes * s.messages) / c.messages) : 0 }
      : { ...c, messages: 0, bytes: 0 };
  }
  return { ...catalog, conversations };
}

const archives = new WeakMap<VeilService, Archive>();

/** The service's archive (one per service, registered with its memory caches). */
export function archiveOf(svc: VeilService): Archive {
  let archive = archives.get(svc);
  if (!archive) {
    const made = new Archive(svc);
    archive = made;
    archives.set(svc, made);
    svc.caches.add('archive index and catalog', {
      size: () => made.memorySize(),
      clear: () => made.forget(),
    });
  }
  return archive;
}

// The archive's search index (background only): minisearch 7.2 in segments of SEGMENT_SIZE
// messages, newest last. Each segment keeps, beside the library's index, its rows
// (sequence, sender, conversation, time) for filters, retention and deletion without asking
// the library. Persisted sealed in `archiveIndex` (`manifest`, `seg/<n>`) by the caller, which
// writes only the segments an add or a deletion changed (persistOps). docs/archive.md.
import MiniSearch from 'minisearch';
import type { ArchiveStatus } from '../../messaging/archive-messages';
import { BackgroundError } from '../errors';
import type { StoreOpAny } from '../key-store';
import { tokenize } from './tokenize';

export const SEGMENT_SIZE = 5_000;
/** What a persisted index was made with: another value means a rebuild from the records. */
export const INDEX_FORMAT = 'minisearch@7.2/segments-v2';
export const MANIFEST_KEY = 'manifest';

/**
 * A message as the index holds it: what a hit shows, so a search opens no record (the records
 * are for export, backup and rebuilding).
 */
export interface Row {
  seq: number;
  sender: string;
  conversation: string;
  at: number;
  text: string;
  own: boolean;
  status: ArchiveStatus;
  openable: boolean;
}

export type IndexedMessage = Row;

const STATUSES: readonly ArchiveStatus[] = ['sent', 'verified', 'unverified'];

export interface Manifest {
  format: string;
  segmentSize: number;
  /** Segment numbers, oldest first. */
  segments: number[];
  /** Every record up to this sequence is in the persisted segments (or was deleted). */
  covered: number;
}

/** A segment as stored: the library's JSON and the rows (with dictionaries of names). */
export interface StoredSegment {
  n: number;
  json: string;
  senders: string[];
  conversations: string[];
  /** [seq, sender #, conversation #, at, text, flags: own 1 | openable 2 | status # << 2] */
  rows: [number, number, number, number, string, number][];
}

export function segmentKey(n: number): string {
  return `seg/${n}`;
}

type Doc = { id: number; text: string };

const OPTIONS = {
  fields: ['text'],
  idField: 'id',
  tokenize,
  // tokenize already lowercases and composes.
  processTerm: (term: string) => term,
  autoVacuum: false,
} as const;

function newMini(): MiniSearch<Doc> {
  return new MiniSearch<Doc>({ ...OPTIONS, fields: [...OPTIONS.fields] });
}

class Segment {
  readonly rows = new Map<number, Row>();
  /** Rows per conversation and per sender, and the time span: a filter skips a segment. */
  private readonly conversations = new Map<string, number>();
  private readonly senders = new Map<string, number>();
  private earliest = Infinity;
  private latest = -Infinity;
  dirty = false;
  constructor(
    readonly n: number,
    readonly mini: MiniSearch<Doc> = newMini(),
  ) {}

  setRow(row: Row): void {
    this.rows.set(row.seq, row);
    this.conversations.set(row.conversation, (this.conversations.get(row.conversation) ?? 0) + 1);
    this.senders.set(row.sender, (this.senders.get(row.sender) ?? 0) + 1);
    // Never narrowed on deletion: a span too wide only asks a segment for nothing.
    this.earliest = Math.min(this.earliest, row.at);
    this.latest = Math.max(this.latest, row.at);
  }

  deleteRow(seq: number): void {
    const row = this.rows.get(seq);
    if (!row) return;
    this.rows.delete(seq);
    for (const [map, key] of [
      [this.conversations, row.conversation],
      [this.senders, row.sender],
    ] as const) {
      const n = (map.get(key) ?? 1) - 1;
      if (n > 0) map.set(key, n);
      else map.delete(key);
    }
  }

  /** Whether any row could pass the filter's segment-level test. */
  mayHold(f: SegmentFilter): boolean {
    if (f.conversation !== undefined && !this.conversations.has(f.conversation)) return false;
    if (f.from !== undefined && this.latest < f.from) return false;
    if (f.to !== undefined && this.earliest > f.to) return false;
    if (f.contact !== undefined) {
      const { sender, conversations } = f.contact;
      if (!this.senders.has(sender) && !conversations.some((c) => this.conversations.has(c)))
        return false;
    }
    return true;
  }

  toStored(): StoredSegment {
    const senders: string[] = [];
    const conversations: string[] = [];
    const senderIx = new Map<string, number>();
    const convIx = new Map<string, number>();
    const ix = (dict: string[], map: Map<string, number>, v: string) => {
      let i = map.get(v);
      if (i === undefined) map.set(v, (i = dict.push(v) - 1));
      return i;
    };
    const rows: StoredSegment['rows'] = [];
    for (const r of this.rows.values())
      rows.push([
        r.seq,
        ix(senders, senderIx, r.sender),
        ix(conversations, convIx, r.conversation),
        r.at,
        r.text,
        (r.own ? 1 : 0) | (r.openable ? 2 : 0) | (STATUSES.indexOf(r.status) << 2),
      ]);
    return { n: this.n, json: JSON.stringify(this.mini), senders, conversations, rows };
  }

  static fromStored(s: StoredSegment): Segment {
    const seg = new Segment(
      s.n,
      MiniSearch.loadJSON<Doc>(s.json, { ...OPTIONS, fields: ['text'] }),
    );
    for (const [seq, si, ci, at, text, flags] of s.rows)
      seg.setRow({
        seq,
        sender: s.senders[si]!,
        conversation: s.conversations[ci]!,
        at,
        text,
        own: (flags & 1) !== 0,
        openable: (flags & 2) !== 0,
        status: STATUSES[flags >> 2] ?? 'unverified',
      });
    return seg;
  }
}

export interface SegmentMatch {
  seq: number;
  row: Row;
  /** The document's terms that matched (for highlights). */
  terms: string[];
}

/** Documents holding `term` in a segment (minisearch 7.2's term index; INDEX_FORMAT pins it). */
function documentFrequency(mini: MiniSearch<Doc>, term: string): number {
  const index = (
    mini as unknown as { _index: { get(t: string): Map<number, Map<number, number>> | undefined } }
  )._index;
  return index.get(term)?.get(0)?.size ?? 0;
}

/** A several-word query in one segment: the rarest finished word first, then the row's text. */
function rarestFirst(
  seg: Segment,
  q: { finished: string[]; prefix: string | undefined },
  keep: (row: Row) => boolean,
): SegmentMatch[] {
  let rarest = q.finished[0]!;
  let least = documentFrequency(seg.mini, rarest);
  for (const t of q.finished.slice(1)) {
    const df = documentFrequency(seg.mini, t);
    if (df < least) [rarest, least] = [t, df];
  }
  if (least === 0) return [];
  const others = q.finished.filter((t) => t !== rarest);
  const out: SegmentMatch[] = [];
  for (const r of seg.mini.search(rarest)) {
    const row = seg.rows.get(r.id as number);
    if (!row || !keep(row)) continue;
    const tokens = new Set(tokenize(row.text));
    if (!others.every((t) => tokens.has(t))) continue;
    const matched = [rarest, ...others];
    if (q.prefix !== undefined) {
      const hits = [...tokens].filter((t) => t.startsWith(q.prefix!));
      if (hits.length === 0) continue;
      matched.push(...hits);
    }
    out.push({ seq: row.seq, row, terms: matched });
  }
  return out;
}

/** What a filter asks of a whole segment (so a segment without such rows is not searched). */
export interface SegmentFilter {
  conversation?: string;
  from?: number;
  to?: number;
  /** From this sender, or in one of these conversations (those the contact is a peer of). */
  contact?: { sender: string; conversations: string[] };
}

export interface IndexQuery {
  words: string;
  /** Keeps a row or not (contact, conversation, dates). */
  keep: (row: Row) => boolean;
  /** The same filter at the segment level, if any. */
  segments?: SegmentFilter;
  limit: number;
}

export class SegmentIndex {
  private segments: Segment[] = [];
  /** The highest sequence added (the persisted manifest's `covered` once written). */
  covered = 0;
  private manifestDirty = false;

  /** Older segments the manifest lists that are not loaded yet, oldest first. */
  private older: number[] = [];

  /**
   * An index from stored segments (oldest first) and the manifest that lists them; `stored` may
   * be the newest ones only (a cold start answers from them while the older ones load: prepend).
   */
  static fromStored(manifest: Manifest, stored: StoredSegment[]): SegmentIndex {
    const index = new SegmentIndex(manifest.segmentSize);
    index.segments = stored.map((s) => Segment.fromStored(s));
    const loaded = new Set(stored.map((s) => s.n));
    index.older = manifest.segments.filter((n) => !loaded.has(n));
    index.covered = manifest.covered;
    return index;
  }

  /** Some older segments are not loaded yet: searches are not complete, deletions must wait. */
  get partial(): boolean {
    return this.older.length > 0;
  }

  /** Segments loaded (in memory). */
  get loadedSegments(): number {
    return this.segments.length;
  }

  /** The next older segment to load (newest of those not loaded). */
  nextOlder(): number | undefined {
    return this.older.at(-1);
  }

  /** An older segment, loaded (absent from storage: dropped from the list). */
  prepend(n: number, stored: StoredSegment | undefined): void {
    if (!this.older.includes(n)) return;
    this.older = this.older.filter((x) => x !== n);
    if (!stored) {
      this.manifestDirty = true;
      return;
    }
    const seg = Segment.fromStored(stored);
    const at = this.segments.findIndex((s) => s.n > n);
    this.segments.splice(at < 0 ? this.segments.length : at, 0, seg);
  }

  private requireWhole(): void {
    if (this.partial) throw new BackgroundError('internal', 'the archive index is still loading');
  }

  /** Messages per segment: SEGMENT_SIZE (another size only to measure it). */
  constructor(readonly segmentSize = SEGMENT_SIZE) {}

  static usable(manifest: Manifest | undefined, segmentSize = SEGMENT_SIZE): manifest is Manifest {
    return (
      !!manifest &&
      manifest.format === INDEX_FORMAT &&
      manifest.segmentSize === segmentSize &&
      Array.isArray(manifest.segments) &&
      Number.isSafeInteger(manifest.covered)
    );
  }

  get size(): number {
    let n = 0;
    for (const s of this.segments) n += s.rows.size;
    return n;
  }

  /** Adds a message (a sequence at or below `covered` is already in: skipped). */
  add(m: IndexedMessage): void {
    if (m.seq <= this.covered) return;
    let seg = this.segments.at(-1);
    if (!seg || seg.rows.size >= this.segmentSize) {
      seg = new Segment(Math.max(0, ...this.segmentNumbers()) + 1);
      this.segments.push(seg);
      this.manifestDirty = true;
    }
    seg.mini.add({ id: m.seq, text: m.text });
    seg.setRow({ ...m });
    seg.dirty = true;
    this.covered = m.seq;
  }

  /**
   * Removes messages from their segments and vacuums those (minisearch keeps a discarded
   * document's terms in its tree until then): the segments' next export holds none of it.
   */
  async remove(seqs: Iterable<number>): Promise<number> {
    this.requireWhole();
    const touched = new Set<Segment>();
    let removed = 0;
    for (const seq of seqs) {
      const seg = this.segments.find((s) => s.rows.has(seq));
      if (!seg) continue;
      seg.mini.discard(seq);
      seg.deleteRow(seq);
      touched.add(seg);
      removed++;
    }
    for (const seg of touched) {
      await seg.mini.vacuum({ batchSize: 100_000, batchWait: 0 });
      seg.dirty = true;
    }
    // An emptied segment goes altogether (its stored value is deleted by persistOps).
    const before = this.segments.length;
    this.segments = this.segments.filter((s) => s.rows.size > 0 || s === this.segments.at(-1));
    if (this.segments.length !== before) this.manifestDirty = true;
    return removed;
  }

  /** Every row, newest segment first (for retention, deletion and export). */
  *rows(): Generator<Row> {
    this.requireWhole();
    for (let i = this.segments.length - 1; i >= 0; i--) yield* this.segments[i]!.rows.values();
  }

  /**
   * Matches newest segment first; stops asking older segments once `limit` matches are in.
   * `total` counts the matches in the segments asked; `complete` says whether that was all.
   */
  search(q: IndexQuery): { matches: SegmentMatch[]; total: number; complete: boolean } {
    const matches: SegmentMatch[] = [];
    let total = 0;
    const words = q.words.trim();
    const unfinished = !/\s$/u.test(q.words);
    const terms = tokenize(words);
    const hasWords = terms.length > 0;
    // Several words: the rarest finished one is asked of the library, the others are checked in
    // the row's text (minisearch's AND scores every word's whole posting list first).
    const finished = unfinished ? terms.slice(0, -1) : terms;
    const rare =
      terms.length >= 2 && finished.length >= 1
        ? { finished, prefix: unfinished ? terms.at(-1) : undefined }
        : undefined;
    let i = this.segments.length - 1;
    for (; i >= 0 && matches.length < q.limit; i--) {
      const seg = this.segments[i]!;
      if (q.segments && !seg.mayHold(q.segments)) continue;
      const found: SegmentMatch[] = [];
      if (!hasWords) {
        for (const row of seg.rows.values())
          if (q.keep(row)) found.push({ seq: row.seq, row, terms: [] });
      } else if (rare) {
        found.push(...rarestFirst(seg, rare, q.keep));
      } else {
        const results = seg.mini.search(words, {
          combineWith: 'AND',
          // The last word may be unfinished (no space typed after it): it matches as a prefix.
          prefix: unfinished ? (_term, index, terms) => index === terms.length - 1 : false,
          filter: (r) => {
            const row = seg.rows.get(r.id as number);
            return !!row && q.keep(row);
          },
        });
        for (const r of results) {
          const row = seg.rows.get(r.id as number);
          if (row) found.push({ seq: row.seq, row, terms: r.terms });
        }
      }
      found.sort((a, b) => b.seq - a.seq);
      total += found.length;
      matches.push(...found);
    }
    return { matches: matches.slice(0, q.limit), total, complete: i < 0 && !this.partial };
  }

  /** Whether anything changed since the last persistOps. */
  get dirty(): boolean {
    return this.manifestDirty || this.segments.some((s) => s.dirty);
  }

  /**
   * Ops writing the changed segments and the manifest (and deleting the values of segments that
   * are gone, listed in `previous`); marks everything clean.
   */
  persistOps(previous: readonly number[] = []): StoreOpAny[] {
    const ops: StoreOpAny[] = [];
    for (const seg of this.segments)
      if (seg.dirty) {
        ops.push({
          op: 'put',
          table: 'archiveIndex',
          key: segmentKey(seg.n),
          value: seg.toStored(),
        });
        seg.dirty = false;
      }
    const live = new Set(this.segmentNumbers());
    for (const n of previous)
      if (!live.has(n)) ops.push({ op: 'delete', table: 'archiveIndex', key: segmentKey(n) });
    const manifest: Manifest = {
      format: INDEX_FORMAT,
      segmentSize: this.segmentSize,
      segments: [...live],
      covered: this.covered,
    };
    ops.push({ op: 'put', table: 'archiveIndex', key: MANIFEST_KEY, value: manifest });
    this.manifestDirty = false;
    return ops;
  }

  /** Every segment's number, loaded or not, oldest first. */
  segmentNumbers(): number[] {
    return [...this.older, ...this.segments.map((s) => s.n)];
  }
}

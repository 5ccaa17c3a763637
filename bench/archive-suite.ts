// The archive bench's page side (bench/archive-bench.ts bundles it for Chromium): the real
// archive (extension/background/archive/) over a real KeyStore on the page's IndexedDB, sealed
// under a data key, against a linear scan of the same records held in memory. Test data only.
import { Archive } from '../extension/background/archive/archive';
import {
  conversationId,
  withRecord,
  recordKey,
  emptyCatalog,
  type ArchiveRecord,
  type Catalog,
} from '../extension/background/archive/records';
import { Gate } from '../extension/background/gate';
import { KeyStore, type StoreOpAny } from '../extension/background/key-store';
import { MemoryCaches } from '../extension/background/memory-caches';
import type { VeilService } from '../extension/background/veil-service';
import type { ArchivedMessage, Query } from './search-libs';

const DB = 'veil-archive-bench';
const LIMIT = 50;
/** Set by the runner (ARCHIVE_SEGMENT). */
let segmentSize = 5_000;

function hexKey(): Uint8Array {
  // Kept for the page reload (the cold start): test data, not a secret.
  const saved = localStorage.getItem('bench-key');
  if (saved) return new Uint8Array(saved.match(/../g)!.map((h) => parseInt(h, 16)));
  const key = crypto.getRandomValues(new Uint8Array(32));
  localStorage.setItem('bench-key', [...key].map((b) => b.toString(16).padStart(2, '0')).join(''));
  return key;
}

function service(): { svc: VeilService; archive: Archive; store: KeyStore } {
  const dataKey = hexKey();
  const store = new KeyStore({ name: DB });
  store.keySource = { dataKey: async () => dataKey };
  const svc = {
    store,
    lock: { dataKey: async () => dataKey, state: async () => ({ locked: false, enabled: true }) },
    crypto: { randomBytes: (n: number) => crypto.getRandomValues(new Uint8Array(n)) },
    now: () => Date.now(),
    caches: new MemoryCaches(),
    gate: new Gate(),
    tabs: async () => undefined,
  } as unknown as VeilService;
  return { svc, archive: new Archive(svc, segmentSize), store };
}

function recordOf(m: ArchivedMessage, seq: number): ArchiveRecord {
  const site = 'chat.example';
  return {
    seq,
    digest: seq.toString(16).padStart(64, '0'),
    sender: m.sender,
    own: false,
    conversation: {
      id: conversationId(site, 'group', `name:${m.conversation}`),
      site,
      name: m.conversation,
      kind: 'group',
      peers: [m.sender],
    },
    at: m.at,
    text: m.text,
    status: 'verified',
    url: 'https://chat.example/room',
  };
}

const q95 = (xs: number[], q = 0.95) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const summary = (xs: number[]) => ({ p50: q95(xs, 0.5), p95: q95(xs) });

/** The query as typed: finished words end with a space; a prefix query does not. */
function typed(q: Query): string {
  return q.kind === 'prefix' ? q.terms.join(' ') : `${q.terms.join(' ')} `;
}

let current: ReturnType<typeof service> | undefined;
let scanRecords: ArchiveRecord[] = [];

export const archiveBench = {
  setSegmentSize(n: number): void {
    segmentSize = n;
  },

  /** Empties the database and writes `messages` as an existing archive (1,000 per transaction). */
  async fill(messages: ArchivedMessage[]): Promise<{ ms: number }> {
    await new Promise<void>((ok, fail) => {
      const r = indexedDB.deleteDatabase(DB);
      r.onsuccess = () => ok();
      r.onerror = () => fail(r.error);
    });
    current = service();
    const t0 = performance.now();
    let catalog: Catalog = emptyCatalog();
    for (let at = 0; at < messages.length; at += 1000) {
      const ops: StoreOpAny[] = [];
      for (const [i, m] of messages.slice(at, at + 1000).entries()) {
        const record = recordOf(m, at + i + 1);
        catalog = withRecord(catalog, record);
        ops.push({ op: 'put', table: 'archive', key: recordKey(record.seq), value: record });
      }
      ops.push({ op: 'put', table: 'archiveIndex', key: 'catalog', value: catalog });
      await current.store.commit(ops);
    }
    return { ms: performance.now() - t0 };
  },

  /** The index built from the records (the rebuild path), then sealed whole. */
  async build(): Promise<{ rebuildMs: number; persistMs: number }> {
    const { archive } = current!;
    const t0 = performance.now();
    await archive.loaded();
    const t1 = performance.now();
    await archive.persist();
    return { rebuildMs: t1 - t0, persistMs: performance.now() - t1 };
  },

  async queries(queries: Query[]): Promise<Record<string, { p50: number; p95: number }>> {
    const { archive } = current!;
    const index = await archive.loaded();
    const all: number[] = [];
    const indexOnly: number[] = [];
    const byKind: Record<string, number[]> = {};
    const catalog = (await current!.store.get<Catalog>('archiveIndex', 'catalog'))!;
    const convId = (name: string) =>
      Object.values(catalog.conversations).find((c) => c.ref.name === name)?.ref.id;
    for (const [i, q] of [...queries.slice(0, 50), ...queries].entries()) {
      const query = {
        words: typed(q),
        limit: LIMIT,
        ...(q.sender ? { contact: q.sender } : {}),
        ...(q.conversation ? { conversation: convId(q.conversation) } : {}),
      };
      const t0 = performance.now();
      await archive.search(query);
      const ms = performance.now() - t0;
      // The index alone (no records opened, no highlights), with the same filters.
      const t1 = performance.now();
      index.search({
        words: query.words,
        limit: LIMIT,
        keep: (row) =>
          (!query.contact || row.sender === query.contact) &&
          (!query.conversation || row.conversation === query.conversation),
        segments: {
          ...(query.conversation ? { conversation: query.conversation } : {}),
          ...(query.contact ? { contact: { sender: query.contact, conversations: [] } } : {}),
        },
      });
      const indexMs = performance.now() - t1;
      if (i < 50) continue; // warm-up
      all.push(ms);
      indexOnly.push(indexMs);
      (byKind[q.kind] ??= []).push(ms);
    }
    return {
      all: summary(all),
      index: summary(indexOnly),
      ...Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, summary(v)])),
    };
  },

  /** One message at a time with the index loaded: its record sealed and committed, indexed. */
  async adds(messages: ArchivedMessage[]): Promise<{
    add: { p50: number; p95: number };
    floor: { p50: number; p95: number };
    recordPut: { p50: number; p95: number };
    persistMs: number;
  }> {
    const { archive, store } = current!;
    // The floor: one IndexedDB transaction writing one small unsealed value.
    const floor: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await store.commit([{ op: 'put', table: 'state', key: 'bench-floor', value: { i } }]);
      floor.push(performance.now() - t0);
    }
    // The record's own sealed put alone (no catalog, no index): what IndexedDB takes for it.
    const recordPut: number[] = [];
    for (const m of messages.slice(0, 200)) {
      const { seq: _s, ...input } = recordOf(m, 0);
      const t0 = performance.now();
      await store.commit([
        { op: 'put', table: 'archive', key: 'bench-record', value: { ...input, seq: 0 } },
      ]);
      recordPut.push(performance.now() - t0);
    }
    await store.commit([{ op: 'delete', table: 'archive', key: 'bench-record' }]);
    const times: number[] = [];
    for (const m of messages) {
      const { seq: _seq, ...input } = recordOf(m, 0);
      const t0 = performance.now();
      await archive.add(input);
      times.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await archive.persist();
    return {
      add: summary(times),
      floor: summary(floor),
      recordPut: summary(recordPut),
      persistMs: performance.now() - t0,
    };
  },

  /** After a reload: a fresh archive's first search (load the sealed segments, then search). */
  async cold(words: string): Promise<{
    firstResultMs: number;
    wholeMs: number;
    hits: number;
    segments: number;
    replayed: number;
  }> {
    current = service();
    const t0 = performance.now();
    const r = await current.archive.search({ words, limit: LIMIT });
    const firstResultMs = performance.now() - t0;
    const first = { ...current.archive.lastLoad };
    await current.archive.whole();
    return { firstResultMs, wholeMs: performance.now() - t0, hits: r.hits.length, ...first };
  },

  /** Sealed bytes at rest per table, and the records' text. */
  async sizes(): Promise<{ archive: number; index: number; text: number }> {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const r = indexedDB.open(DB);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const size = (table: string, keep: (k: string) => boolean) =>
      new Promise<number>((ok) => {
        let n = 0;
        const tx = db.transaction(table);
        tx.objectStore(table).openCursor().onsuccess = (e) => {
          const c = (e.target as IDBRequest<IDBCursorWithValue | null>).result;
          if (!c) return ok(n);
          if (keep(String(c.key))) n += (c.value as { box: Uint8Array }).box.length;
          c.continue();
        };
      });
    const archive = await size('archive', () => true);
    const index = await size('archiveIndex', (k) => k.startsWith('seg/'));
    db.close();
    const enc = new TextEncoder();
    let text = 0;
    for (const r of scanRecords) text += enc.encode(r.text).length;
    return { archive, index, text };
  },

  /** The linear scan: open every record (its cold start), then scan newest first to 50 matches. */
  async scan(queries: Query[]): Promise<{
    openMs: number;
    all: { p50: number; p95: number };
    byKind: Record<string, { p50: number; p95: number }>;
  }> {
    const store = current!.store;
    const t0 = performance.now();
    scanRecords = [];
    for (let after = 0; ;) {
      const batch = await store.entriesAfter<ArchiveRecord>('archive', recordKey(after), 5000);
      if (batch.length === 0) break;
      for (const [, r] of batch) scanRecords.push(r);
      after = batch.at(-1)![1].seq;
    }
    const openMs = performance.now() - t0;
    const norm = scanRecords.map((r) => ` ${r.text.toLowerCase().replace(/[,.?!:]/g, ' ')} `);
    const all: number[] = [];
    const byKind: Record<string, number[]> = {};
    for (const [i, q] of [...queries.slice(0, 50), ...queries].entries()) {
      const needles = q.terms.map((t, k) =>
        q.kind === 'prefix' && k === q.terms.length - 1 ? ` ${t}` : ` ${t} `,
      );
      const t1 = performance.now();
      const hits: number[] = [];
      for (let j = scanRecords.length - 1; j >= 0 && hits.length < LIMIT; j--) {
        const r = scanRecords[j]!;
        if (q.sender && r.sender !== q.sender) continue;
        if (q.conversation && r.conversation.name !== q.conversation) continue;
        if (needles.every((n) => norm[j]!.includes(n))) hits.push(j);
      }
      const ms = performance.now() - t1;
      if (i < 50) continue;
      all.push(ms);
      (byKind[q.kind] ??= []).push(ms);
    }
    return {
      openMs,
      all: summary(all),
      byKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, summary(v)])),
    };
  },
};

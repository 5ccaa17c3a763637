// Issue 15 groundwork (Node only, not part of `npm run bench`): which search library for the
// encrypted message archive. Synthetic chat history, the same measurements for minisearch,
// flexsearch (Document), @orama/orama and a linear scan, index chunks sealed as the archive
// would seal them. Run: node --expose-gc --import tsx bench/search-libs.ts
// The libraries are not dependencies of Veil: they are imported from SEARCHLIBS_DIR
// (default /tmp/searchlibs/node_modules; `npm install minisearch@7.2.0 flexsearch@0.8.212
// @orama/orama@3.1.18` there). Test data only: the PRNG is seeded, not a CSPRNG.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openValue, sealValue, type SealedValue } from '../extension/background/seal';
import { isMain } from './node-env';

const LIBS = process.env.SEARCHLIBS_DIR ?? '/tmp/searchlibs/node_modules';
const MESSAGES = Number(process.env.ARCHIVE_MESSAGES) || 100_000;
const ADDS = 1_000;
const QUERIES = 500;
const LIMIT = 50;
const HOT_SEGMENT = 1_000;

// ---------------------------------------------------------------------------------------------
// Synthetic archive

/** mulberry32: deterministic test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON =
  'the to and you i a it is that of in for on this be have are with not we just but so was what do can if at like me my your all know get no will up about out one think yeah ok okay good now there they time how would from an go see when then too really going some more also did got here want did lol right sure well need thanks much today tomorrow work still back people make because could week said day new why who way going thing maybe yes let should over after first last meeting call later tonight morning night home send sent message chat group link file photo video price plan idea issue fix build release test server deploy review branch merge'.split(
    ' ',
  );
const FOREIGN =
  'größe straße müde über schön fräulein mañana niño señor año corazón café déjà naïve garçon façade élève привет спасибо хорошо сегодня завтра работа встреча γεια ευχαριστώ καλημέρα こんにちは ありがとう 你好 谢谢 merhaba teşekkürler güzel ąčęėįšųūž dziękuję żółć çok'.split(
    ' ',
  );
const EMOJI = ['😀', '😂', '👍', '🎉', '❤️', '🔥', '🙏', '😅', '🤔', '👀', '✅', '🚀'];
const SYLLABLES =
  'ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu da de di do du ga ge gi go gu pa pe pi po pu tra tre pro pla gri ston mar ven lis dor quin zel'.split(
    ' ',
  );

export interface ArchivedMessage {
  id: number;
  sender: string;
  conversation: string;
  at: number;
  text: string;
}

export interface Corpus {
  messages: ArchivedMessage[];
  /** Messages added one at a time after the build (ids MESSAGES…). */
  extra: ArchivedMessage[];
  vocabulary: string[];
  senders: string[];
  conversations: string[];
}

export function makeCorpus(): Corpus {
  const rand = prng(15);
  const vocabulary: string[] = [...COMMON];
  const seen = new Set(vocabulary);
  let foreign = 0;
  while (vocabulary.length < 20_000) {
    // Non-English words spread through the ranks (their variants keep the vocabulary growing).
    if (vocabulary.length % 97 === 0) {
      const base = FOREIGN[foreign % FOREIGN.length]!;
      const round = Math.floor(foreign / FOREIGN.length);
      foreign++;
      const word = round === 0 ? base : `${base}${SYLLABLES[round % SYLLABLES.length]}`;
      if (!seen.has(word)) {
        seen.add(word);
        vocabulary.push(word);
      }
      continue;
    }
    const n = 2 + Math.floor(rand() * 3);
    let word = '';
    for (let i = 0; i < n; i++) word += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    if (!seen.has(word)) {
      seen.add(word);
      vocabulary.push(word);
    }
  }
  // Zipf (s = 1.07) over ranks: cumulative weights, sampled by binary search.
  const cdf = new Float64Array(vocabulary.length);
  let sum = 0;
  for (let r = 0; r < vocabulary.length; r++) cdf[r] = sum += 1 / Math.pow(r + 1, 1.07);
  const word = (): string => {
    const x = rand() * sum;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return vocabulary[lo]!;
  };
  const first = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'];
  const last = ['ng', 'smith', 'müller', 'garcía', 'kowalski', 'tanaka', 'ivanova', 'dubois'];
  const senders: string[] = [];
  for (let i = 0; i < 300; i++)
    senders.push(
      `${first[i % first.length]}${i >= first.length ? `_${last[i % last.length]}${i}` : ''}`,
    );
  const conversations: string[] = [];
  for (let i = 0; i < 200; i++)
    conversations.push(
      i % 3 === 0 ? `#channel-${i}` : `dm:${senders[i]}`.replace(/[^\w:#-]/g, '') + `-${i}`,
    );
  const punct = [',', '.', '?', '!', ':'];
  const start = Date.UTC(2025, 0, 1);
  const make = (id: number): ArchivedMessage => {
    const length = 5 + Math.floor(rand() * 36);
    const words: string[] = [];
    for (let i = 0; i < length; i++) {
      const roll = rand();
      let w: string;
      if (roll < 0.02) w = EMOJI[Math.floor(rand() * EMOJI.length)]!;
      else if (roll < 0.05) w = `@${senders[Math.floor(Math.pow(rand(), 2) * senders.length)]}`;
      else w = word();
      if (rand() < 0.08) w += punct[Math.floor(rand() * punct.length)];
      words.push(w);
    }
    words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
    // A few busy senders and conversations, a long tail of quiet ones.
    const sender = senders[Math.floor(Math.pow(rand(), 3) * senders.length)]!;
    const conversation = conversations[Math.floor(Math.pow(rand(), 2) * conversations.length)]!;
    return { id, sender, conversation, at: start + id * 45_000, text: words.join(' ') };
  };
  const messages: ArchivedMessage[] = [];
  for (let i = 0; i < MESSAGES; i++) messages.push(make(i));
  const extra: ArchivedMessage[] = [];
  for (let i = 0; i < ADDS + HOT_SEGMENT; i++) extra.push(make(MESSAGES + i));
  return { messages, extra, vocabulary, senders, conversations };
}

// ---------------------------------------------------------------------------------------------
// Queries

export type QueryKind = 'word' | 'two-words' | 'prefix' | 'filtered';
export interface Query {
  kind: QueryKind;
  /** Lowercase terms, all required; the last is a prefix when kind = prefix. */
  terms: string[];
  sender?: string;
  conversation?: string;
}

/** The linear scan's view of a text (also how queries are cut): lowercase, words by spaces. */
function normalize(text: string): string {
  return ` ${text.toLowerCase().replace(/[,.?!:]/g, ' ')} `;
}

function words(text: string): string[] {
  return normalize(text)
    .split(' ')
    .filter((w) => w.length >= 3 && /^[\p{L}\p{N}]+$/u.test(w));
}

export function makeQueries(corpus: Corpus): Query[] {
  const rand = prng(1515);
  const pick = (): ArchivedMessage => {
    for (;;) {
      const m = corpus.messages[Math.floor(rand() * corpus.messages.length)]!;
      if (words(m.text).length >= 2) return m;
    }
  };
  const kinds: QueryKind[] = ['word', 'two-words', 'prefix', 'filtered'];
  const out: Query[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const kind = kinds[i % kinds.length]!;
    const m = pick();
    const ws = words(m.text);
    const w1 = ws[Math.floor(rand() * ws.length)]!;
    if (kind === 'word') out.push({ kind, terms: [w1] });
    else if (kind === 'two-words') {
      let w2 = ws[Math.floor(rand() * ws.length)]!;
      for (let k = 0; w2 === w1 && k < 10; k++) w2 = ws[Math.floor(rand() * ws.length)]!;
      out.push({ kind, terms: w2 === w1 ? [w1] : [w1, w2] });
    } else if (kind === 'prefix') {
      const long = ws.filter((w) => [...w].length >= 5);
      const w = long.length ? long[Math.floor(rand() * long.length)]! : w1;
      const chars = [...w];
      out.push({ kind, terms: [chars.slice(0, 3 + Math.floor(rand() * 2)).join('')] });
    } else
      out.push(
        i % 8 === 3
          ? { kind, terms: [w1], sender: m.sender }
          : { kind, terms: [w1], conversation: m.conversation },
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sealing, as the archive would: each chunk a box under the data key, bound to its name.

const NONCE = 24;
function sealChunk(dataKey: Uint8Array, name: string, text: string): Uint8Array {
  const nonce = randomBytes(NONCE);
  const aad = new TextEncoder().encode(`veil-archive-index/v1\n${name}`);
  const box = xchacha20poly1305(dataKey, nonce, aad).encrypt(new TextEncoder().encode(text));
  const out = new Uint8Array(NONCE + box.length);
  out.set(nonce);
  out.set(box, NONCE);
  return out;
}
function openChunk(dataKey: Uint8Array, name: string, sealed: Uint8Array): string {
  const aad = new TextEncoder().encode(`veil-archive-index/v1\n${name}`);
  const plain = xchacha20poly1305(dataKey, sealed.subarray(0, NONCE), aad).decrypt(
    sealed.subarray(NONCE),
  );
  return new TextDecoder().decode(plain);
}

// ---------------------------------------------------------------------------------------------
// The contenders, behind one small interface

interface Engine {
  name: string;
  /** What the library offers for persisting the index (documented, not measured). */
  persistence: string;
  add(m: ArchivedMessage): void | Promise<void>;
  remove(m: ArchivedMessage): void | Promise<void>;
  search(q: Query): number[] | Promise<number[]>;
  /** The index as named chunks of text (the library's own export). */
  exportChunks(): Map<string, string> | Promise<Map<string, string>>;
}

interface EngineKind {
  name: string;
  persistence: string;
  create(): Promise<Engine>;
  /** A fresh engine from exported chunks. */
  load(chunks: Map<string, string>): Promise<Engine>;
}

async function lib<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(LIBS, path)).href)) as T;
}

// --- minisearch
interface MiniSearchResult {
  id: number;
}
interface MiniSearchInstance {
  add(doc: object): void;
  addAll(docs: object[]): void;
  discard(id: number): void;
  search(
    q: string,
    opts: {
      combineWith: 'AND';
      prefix?: boolean | ((term: string, i: number, terms: string[]) => boolean);
      filter?: (r: MiniSearchResult & Record<string, unknown>) => boolean;
    },
  ): MiniSearchResult[];
  toJSON(): object;
}
interface MiniSearchClass {
  new (opts: object): MiniSearchInstance;
  loadJSON(json: string, opts: object): MiniSearchInstance;
}

async function minisearchKind(): Promise<EngineKind> {
  const MiniSearch = (await lib<{ default: MiniSearchClass }>('minisearch/dist/es/index.js'))
    .default;
  const options = {
    fields: ['text'],
    storeFields: ['sender', 'conversation'],
    // Lazy removal (discard) vacuums in the background once enough is dirty.
    autoVacuum: { minDirtCount: 1000, minDirtFactor: 0.1, batchSize: 1000, batchWait: 10 },
  };
  const persistence =
    'toJSON()/loadJSON(): the whole index as one JSON document (loadJSONAsync yields while ' +
    'loading); no partial export';
  const wrap = (ms: MiniSearchInstance): Engine => ({
    name: 'minisearch',
    persistence,
    add: (m) => ms.add(m),
    remove: (m) => ms.discard(m.id),
    search: (q) => {
      const last = q.terms.length - 1;
      const filter =
        q.sender !== undefined
          ? (r: Record<string, unknown>) => r.sender === q.sender
          : q.conversation !== undefined
            ? (r: Record<string, unknown>) => r.conversation === q.conversation
            : undefined;
      return ms
        .search(q.terms.join(' '), {
          combineWith: 'AND',
          prefix: q.kind === 'prefix' ? (_t, i) => i === last : false,
          filter,
        })
        .slice(0, LIMIT)
        .map((r) => r.id);
    },
    exportChunks: () => new Map([['index', JSON.stringify(ms)]]),
  });
  return {
    name: 'minisearch',
    persistence,
    create: async () => wrap(new MiniSearch(options)),
    load: async (chunks) => wrap(MiniSearch.loadJSON(chunks.get('index')!, options)),
  };
}

// --- flexsearch (Document index)
interface FlexDocument {
  add(doc: object): void;
  remove(id: number): void;
  search(opts: object): { field: string; result: number[] }[] | number[];
  export(handler: (key: string, data: string) => void): void;
  import(key: string, data: string): void;
}
async function flexsearchKind(): Promise<EngineKind> {
  const { Document } = await lib<{ Document: new (o: object) => FlexDocument }>(
    'flexsearch/dist/flexsearch.bundle.module.min.mjs',
  );
  const options = {
    // 'forward' indexes every word prefix so prefix queries work (the index grows with it).
    tokenize: 'forward',
    document: { id: 'id', index: ['text'], tag: ['sender', 'conversation'], store: false },
  };
  const persistence =
    'export(handler)/import(key, data): the index as named chunks (reg, cfg, map, ctx, tag; ' +
    'map chunks of up to 5,000 terms); every export walks the whole index. Also persistent ' +
    'adapters (IndexedDB, Redis, SQLite, ...) that commit only changes, writing terms in clear';
  const wrap = (doc: FlexDocument): Engine => ({
    name: 'flexsearch',
    persistence,
    add: (m) => doc.add(m),
    remove: (m) => doc.remove(m.id),
    search: (q) => {
      const tag =
        q.sender !== undefined
          ? { sender: q.sender }
          : q.conversation !== undefined
            ? { conversation: q.conversation }
            : undefined;
      const res = doc.search({ query: q.terms.join(' '), index: 'text', limit: LIMIT, tag });
      const first = res[0];
      if (first === undefined) return [];
      return typeof first === 'object' ? first.result : (res as number[]);
    },
    exportChunks: () => {
      const chunks = new Map<string, string>();
      doc.export((key, data) => void chunks.set(key, data));
      return chunks;
    },
  });
  return {
    name: 'flexsearch',
    persistence,
    create: async () => wrap(new Document(options)),
    load: async (chunks) => {
      const doc = new Document(options);
      for (const [key, data] of chunks) doc.import(key, data);
      return wrap(doc);
    },
  };
}

// --- orama
interface OramaModule {
  create(o: object): unknown;
  insert(db: unknown, doc: object): unknown;
  remove(db: unknown, id: string): unknown;
  search(db: unknown, params: object): unknown;
  save(db: unknown): object;
  load(db: unknown, raw: object): void;
}
async function oramaKind(): Promise<EngineKind> {
  const orama = await lib<OramaModule>('@orama/orama/dist/esm/index.js');
  const schema = { text: 'string', sender: 'enum', conversation: 'enum', at: 'number' };
  const persistence =
    'save()/load(): the whole database (documents included) as one object; ' +
    '@orama/plugin-data-persistence serialises that same whole object (JSON, dpack, binary)';
  const wrap = (db: unknown): Engine => ({
    name: 'orama',
    persistence,
    add: (m) => {
      const r = orama.insert(db, { ...m, id: String(m.id) });
      if (r instanceof Promise) return r.then(() => undefined);
    },
    remove: (m) => {
      const r = orama.remove(db, String(m.id));
      if (r instanceof Promise) return r.then(() => undefined);
    },
    search: async (q) => {
      const where =
        q.sender !== undefined
          ? { sender: { eq: q.sender } }
          : q.conversation !== undefined
            ? { conversation: { eq: q.conversation } }
            : undefined;
      // threshold 0: every term must match. Orama matches terms as prefixes by default.
      const res = (await orama.search(db, {
        term: q.terms.join(' '),
        properties: ['text'],
        threshold: 0,
        limit: LIMIT,
        where,
      })) as { hits: { id: string }[] };
      return res.hits.map((h) => Number(h.id));
    },
    exportChunks: () => new Map([['db', JSON.stringify(orama.save(db))]]),
  });
  return {
    name: 'orama',
    persistence,
    create: async () => wrap(orama.create({ schema })),
    load: async (chunks) => {
      const db = orama.create({ schema });
      orama.load(db, JSON.parse(chunks.get('db')!) as object);
      return wrap(db);
    },
  };
}

// --- any of the above as segments of SEGMENT messages: new messages go to the newest segment
// (the only one a new message changes), queries ask every segment and keep the newest matches.
const SEGMENT = Number(process.env.ARCHIVE_SEGMENT) || 10_000;
function segmented(inner: EngineKind): EngineKind {
  const name = `${inner.name}, segments of ${SEGMENT / 1000}k`;
  const persistence = `one export per segment; an add changes only the newest segment`;
  const wrap = (segments: { engine: Engine; ids: Set<number> }[]): Engine => ({
    name,
    persistence,
    add: async (m) => {
      let last = segments[segments.length - 1];
      if (!last || last.ids.size >= SEGMENT) {
        last = { engine: await inner.create(), ids: new Set() };
        segments.push(last);
      }
      last.ids.add(m.id);
      await last.engine.add(m);
    },
    remove: async (m) => {
      const seg = segments.find((s) => s.ids.has(m.id));
      if (!seg) return;
      seg.ids.delete(m.id);
      await seg.engine.remove(m);
    },
    search: async (q) => {
      const out: number[] = [];
      // Newest segment first; stop once LIMIT matches are in (older segments hold older ids).
      for (let i = segments.length - 1; i >= 0 && out.length < LIMIT; i--) {
        const r = await segments[i]!.engine.search(q);
        out.push(...r.sort((a, b) => b - a).slice(0, LIMIT - out.length));
      }
      return out;
    },
    exportChunks: async () => {
      const chunks = new Map<string, string>();
      for (let i = 0; i < segments.length; i++) {
        const seg = segments[i]!;
        chunks.set(`seg${i}/ids`, JSON.stringify([...seg.ids]));
        for (const [k, v] of await seg.engine.exportChunks()) chunks.set(`seg${i}/${k}`, v);
      }
      return chunks;
    },
  });
  return {
    name,
    persistence,
    create: async () => wrap([]),
    load: async (chunks) => {
      const bySegment = new Map<number, Map<string, string>>();
      for (const [k, v] of chunks) {
        const slash = k.indexOf('/');
        const i = Number(k.slice(3, slash));
        if (!bySegment.has(i)) bySegment.set(i, new Map());
        bySegment.get(i)!.set(k.slice(slash + 1), v);
      }
      const segments: { engine: Engine; ids: Set<number> }[] = [];
      for (const i of [...bySegment.keys()].sort((a, b) => a - b)) {
        const own = bySegment.get(i)!;
        const ids = new Set(JSON.parse(own.get('ids')!) as number[]);
        own.delete('ids');
        segments.push({ engine: await inner.load(own), ids });
      }
      return wrap(segments);
    },
  };
}

// --- linear scan over the (unsealed, normalised) archive held in memory
function linearKind(): EngineKind & { scan(q: Query): number[] } {
  const rows: { id: number; sender: string; conversation: string; text: string }[] = [];
  const scan = (q: Query): number[] => {
    const needles = q.terms.map((t, i) =>
      q.kind === 'prefix' && i === q.terms.length - 1 ? ` ${t}` : ` ${t} `,
    );
    const out: number[] = [];
    // Newest first, as a chat archive lists results.
    for (let i = rows.length - 1; i >= 0 && out.length < LIMIT; i--) {
      const r = rows[i]!;
      if (q.sender !== undefined && r.sender !== q.sender) continue;
      if (q.conversation !== undefined && r.conversation !== q.conversation) continue;
      if (needles.every((n) => r.text.includes(n))) out.push(r.id);
    }
    return out;
  };
  const persistence = 'nothing beyond the archive records (each sealed on its own)';
  const engine: Engine = {
    name: 'linear scan',
    persistence,
    add: (m) => void rows.push({ ...m, text: normalize(m.text) }),
    remove: (m) => {
      const i = rows.findIndex((r) => r.id === m.id);
      if (i >= 0) rows.splice(i, 1);
    },
    search: scan,
    exportChunks: () => new Map(),
  };
  return {
    name: 'linear scan',
    persistence,
    scan,
    create: async () => engine,
    load: async () => engine,
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}
const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const MB = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
const ms = (n: number): string => (n < 1 ? `${(n * 1000).toFixed(0)} µs` : `${n.toFixed(1)} ms`);

interface Row {
  library: string;
  buildMs: number;
  heapMB: number;
  addMedianMs: number;
  addP95Ms: number;
  removeMedianMs: number;
  query: Record<QueryKind | 'all', { p50: number; p95: number }>;
  /** Queries where the library found nothing but the linear scan found something. */
  misses: number;
  missKinds?: Partial<Record<QueryKind, number>>;
  missExamples: string[];
  exportMs: number;
  chunks: number;
  largestChunkMB: number;
  indexMB: number;
  sealMs: number;
  /** Cold start: open the sealed chunks, parse, import, then the first query. */
  loadMs: number;
  firstQueryMs: number;
  /** One add then a full re-export + seal (what a whole-index library must do to persist it). */
  persistFullMs: number;
  /** flexsearch: chunks whose text one add changed, and their size. */
  changedChunks?: string;
  /** One segment of n messages, exported + sealed (median of 10): the segmented approach. */
  segmentPersist: { messages: number; ms: number; kb: number }[];
  persistence: string;
}

async function timeQueries(
  engine: Engine,
  queries: Query[],
): Promise<{ times: Map<QueryKind | 'all', number[]>; results: number[][] }> {
  for (const q of queries.slice(0, 50)) await engine.search(q); // warm-up
  const times = new Map<QueryKind | 'all', number[]>([['all', []]]);
  const results: number[][] = [];
  for (const q of queries) {
    const t0 = performance.now();
    const r = await engine.search(q);
    const dt = performance.now() - t0;
    results.push(r);
    times.get('all')!.push(dt);
    if (!times.has(q.kind)) times.set(q.kind, []);
    times.get(q.kind)!.push(dt);
  }
  return { times, results };
}

async function measure(
  kind: EngineKind,
  corpus: Corpus,
  queries: Query[],
  truth: number[][],
  dataKey: Uint8Array,
): Promise<Row> {
  const h0 = heap();
  let engine = await kind.create();
  let t0 = performance.now();
  for (const m of corpus.messages) await engine.add(m);
  const buildMs = performance.now() - t0;
  const heapMB = (heap() - h0) / 1024 / 1024;

  const { times, results } = await timeQueries(engine, queries);
  const query = {} as Row['query'];
  for (const [k, xs] of times) query[k] = { p50: quantile(xs, 0.5), p95: quantile(xs, 0.95) };
  let misses = 0;
  const missExamples: string[] = [];
  const missKinds: Partial<Record<QueryKind, number>> = {};
  results.forEach((r, i) => {
    if (r.length === 0 && truth[i]!.length > 0) {
      misses++;
      missKinds[queries[i]!.kind] = (missKinds[queries[i]!.kind] ?? 0) + 1;
      if (missExamples.length < 4) missExamples.push(JSON.stringify(queries[i]));
    }
  });

  t0 = performance.now();
  const chunks = await engine.exportChunks();
  const exportMs = performance.now() - t0;
  let indexBytes = 0;
  let largest = 0;
  for (const v of chunks.values()) {
    indexBytes += bytes(v);
    largest = Math.max(largest, bytes(v));
  }
  t0 = performance.now();
  const sealed = new Map<string, Uint8Array>();
  for (const [k, v] of chunks) sealed.set(k, sealChunk(dataKey, k, v));
  const sealMs = performance.now() - t0;

  // Cold start: sealed chunks → a fresh index → first result.
  let loadMs = 0;
  let firstQueryMs = 0;
  if (chunks.size > 0) {
    const probe = queries[1]!;
    engine = undefined as unknown as Engine;
    heap();
    t0 = performance.now();
    const opened = new Map<string, string>();
    for (const [k, v] of sealed) opened.set(k, openChunk(dataKey, k, v));
    engine = await kind.load(opened);
    loadMs = performance.now() - t0;
    t0 = performance.now();
    await engine.search(probe);
    firstQueryMs = performance.now() - t0;
  }

  const addTimes: number[] = [];
  for (const m of corpus.extra.slice(0, ADDS)) {
    t0 = performance.now();
    await engine.add(m);
    addTimes.push(performance.now() - t0);
  }
  const removeTimes: number[] = [];
  for (const m of corpus.extra.slice(0, 100)) {
    t0 = performance.now();
    await engine.remove(m);
    removeTimes.push(performance.now() - t0);
  }

  // Persisting after one add. Whole-index export: export + seal everything again.
  let changedChunks: string | undefined;
  let persistFullMs = 0;
  if (chunks.size > 0) {
    const before = await engine.exportChunks();
    await engine.add(corpus.extra[ADDS]!);
    t0 = performance.now();
    const after = await engine.exportChunks();
    for (const [k, v] of after) sealChunk(dataKey, k, v);
    persistFullMs = performance.now() - t0;
    if (after.size > 1) {
      let n = 0;
      let b = 0;
      for (const [k, v] of after)
        if (before.get(k) !== v) {
          n += 1;
          b += bytes(v);
        }
      changedChunks = `${n} of ${after.size} chunks (${MB(b)}) changed by one add`;
    }
  }
  // Segmented approach: a segment takes new messages and is re-sealed after each add; older
  // segments stay as they are until a merge. Export + seal of one segment of 1k and of 10k.
  const segmentPersist: { messages: number; ms: number; kb: number }[] = [];
  if (chunks.size > 0 && !kind.name.includes('segments'))
    for (const size of [HOT_SEGMENT, 10_000]) {
      const hot = await kind.create();
      const source =
        size <= HOT_SEGMENT ? corpus.extra.slice(ADDS, ADDS + size) : corpus.messages.slice(-size);
      for (const m of source) await hot.add(m);
      const xs: number[] = [];
      let kb = 0;
      for (let i = 0; i < 10; i++) {
        t0 = performance.now();
        const c = await hot.exportChunks();
        for (const [k, v] of c) sealChunk(dataKey, k, v);
        xs.push(performance.now() - t0);
        if (i === 0) for (const v of c.values()) kb += bytes(v) / 1024;
      }
      segmentPersist.push({ messages: size, ms: quantile(xs, 0.5), kb });
    }

  return {
    library: kind.name,
    buildMs,
    heapMB,
    addMedianMs: quantile(addTimes, 0.5),
    addP95Ms: quantile(addTimes, 0.95),
    removeMedianMs: quantile(removeTimes, 0.5),
    query,
    misses,
    missKinds,
    missExamples,
    exportMs,
    chunks: chunks.size,
    largestChunkMB: largest / 1024 / 1024,
    indexMB: indexBytes / 1024 / 1024,
    sealMs,
    loadMs,
    firstQueryMs,
    persistFullMs,
    changedChunks,
    segmentPersist,
    persistence: kind.persistence,
  };
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  let t0 = performance.now();
  const corpus = makeCorpus();
  const queries = makeQueries(corpus);
  const genMs = performance.now() - t0;
  const textBytes = corpus.messages.reduce((n, m) => n + bytes(m.text), 0);
  const recordBytes = corpus.messages.reduce(
    (n, m) => n + bytes(m.text) + bytes(m.sender) + bytes(m.conversation) + 8,
    0,
  );
  const dataKey = randomBytes(32);

  // The archive itself: one sealed record per message (what every approach stores anyway).
  t0 = performance.now();
  const sealedRecords: SealedValue[] = corpus.messages.map((m) =>
    sealValue(dataKey, 'archive', String(m.id), m),
  );
  const sealAllMs = performance.now() - t0;
  const sealedArchiveBytes = sealedRecords.reduce((n, r) => n + r.box.length, 0);
  const recordSeal: number[] = [];
  for (const m of corpus.extra.slice(0, ADDS)) {
    t0 = performance.now();
    sealValue(dataKey, 'archive', String(m.id), m);
    recordSeal.push(performance.now() - t0);
  }
  // Linear scan's cold start: open every record, then scan.
  const linear = linearKind();
  t0 = performance.now();
  const linearEngine = await linear.create();
  for (let i = 0; i < sealedRecords.length; i++)
    await linearEngine.add(
      openValue(dataKey, 'archive', String(i), sealedRecords[i]!) as ArchivedMessage,
    );
  const linearOpenMs = performance.now() - t0;
  t0 = performance.now();
  linear.scan(queries[1]!);
  const linearFirstMs = performance.now() - t0;
  const truth = queries.map((q) => linear.scan(q));

  const rows: Row[] = [];
  {
    // The linear scan, measured with the same query loop over the rows already loaded.
    const { times } = await timeQueries(linearEngine, queries);
    const query = {} as Row['query'];
    for (const [k, xs] of times) query[k] = { p50: quantile(xs, 0.5), p95: quantile(xs, 0.95) };
    const addTimes: number[] = [];
    for (const m of corpus.extra.slice(0, ADDS)) {
      t0 = performance.now();
      await linearEngine.add(m);
      addTimes.push(performance.now() - t0);
    }
    const removeTimes: number[] = [];
    for (const m of corpus.extra.slice(0, 100)) {
      t0 = performance.now();
      await linearEngine.remove(m);
      removeTimes.push(performance.now() - t0);
    }
    rows.push({
      library: 'linear scan',
      buildMs: 0,
      heapMB: NaN,
      addMedianMs: quantile(addTimes, 0.5),
      addP95Ms: quantile(addTimes, 0.95),
      removeMedianMs: quantile(removeTimes, 0.5),
      query,
      misses: 0,
      missExamples: [],
      exportMs: 0,
      chunks: 0,
      largestChunkMB: 0,
      indexMB: 0,
      sealMs: 0,
      loadMs: linearOpenMs,
      firstQueryMs: linearFirstMs,
      persistFullMs: 0,
      segmentPersist: [],
      persistence: linear.persistence,
    });
  }

  const only = process.env.SEARCHLIBS_ONLY?.split(',');
  const noSegments = process.env.ARCHIVE_SEGMENT === '0';
  for (const make of [minisearchKind, flexsearchKind, oramaKind]) {
    const kind = await make();
    if (only && !only.includes(kind.name)) continue;
    for (const variant of noSegments ? [kind] : [kind, segmented(kind)]) {
      process.stderr.write(`measuring ${variant.name}…\n`);
      rows.push(await measure(variant, corpus, queries, truth, dataKey));
    }
  }

  const out: string[] = [];
  const line = (s = ''): number => out.push(s);
  line(`# Archive search libraries (issue 15), ${started}`);
  line(
    `Node ${process.version}, V8 ${process.versions.v8}; ${MESSAGES.toLocaleString('en')} messages ` +
      `(generated in ${ms(genMs)}), ${QUERIES} queries (125 each: word, two-words AND, prefix, ` +
      `word + sender/conversation filter), top ${LIMIT}; gc ${gc ? 'exposed' : 'NOT exposed (heap figures rough)'}`,
  );
  line(
    `Archive: text ${MB(textBytes)}; records (text + sender + conversation + time) ${MB(recordBytes)}; ` +
      `sealed one record per message ${MB(sealedArchiveBytes)} in ${ms(sealAllMs)} ` +
      `(${ms(sealAllMs / MESSAGES)} each; 1,000 more: median ${ms(quantile(recordSeal, 0.5))}, p95 ${ms(quantile(recordSeal, 0.95))})`,
  );
  line();
  line(
    '| | build 100k | heap Δ | add median / p95 | remove median | query p50 / p95 (all) | p95 word / 2 words / prefix / filtered | misses vs scan | index (export) | chunks (largest) | export + seal | cold start: open + import | first query | persist after 1 add, whole index | one segment of 1k / 10k, export + seal |',
  );
  line('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const q = r.query;
    line(
      `| ${r.library} | ${r.buildMs ? ms(r.buildMs) : '—'} | ${Number.isNaN(r.heapMB) ? '—' : `${r.heapMB.toFixed(0)} MB`} | ` +
        `${ms(r.addMedianMs)} / ${ms(r.addP95Ms)} | ${ms(r.removeMedianMs)} | ${ms(q.all.p50)} / ${ms(q.all.p95)} | ` +
        `${ms(q.word.p95)} / ${ms(q['two-words'].p95)} / ${ms(q.prefix.p95)} / ${ms(q.filtered.p95)} | ` +
        `${r.misses} | ${r.indexMB ? `${r.indexMB.toFixed(1)} MB (${(r.indexMB / (textBytes / 1024 / 1024)).toFixed(2)}× text)` : '—'} | ` +
        `${r.chunks ? `${r.chunks} (${r.largestChunkMB.toFixed(1)} MB)` : '—'} | ` +
        `${r.chunks ? `${ms(r.exportMs)} + ${ms(r.sealMs)}` : '—'} | ${ms(r.loadMs)}${r.library === 'linear scan' ? ' (open 100k records)' : ''} | ${ms(r.firstQueryMs)} | ` +
        `${r.persistFullMs ? ms(r.persistFullMs) : '—'} | ${r.segmentPersist.map((p) => `${ms(p.ms)} (${p.kb.toFixed(0)} KB)`).join(' / ') || '—'} |`,
    );
  }
  line();
  for (const r of rows) {
    line(`- ${r.library}: ${r.persistence}.`);
    if (r.changedChunks) line(`  ${r.changedChunks}.`);
    if (r.misses)
      line(
        `  misses (none found, the scan found some) by kind ${JSON.stringify(r.missKinds)}: ${r.missExamples.join(', ')}`,
      );
  }
  line();
  line('```json');
  line(
    JSON.stringify({
      started,
      messages: MESSAGES,
      textBytes,
      recordBytes,
      sealedArchiveBytes,
      rows,
    }),
  );
  line('```');
  process.stdout.write(`${out.join('\n')}\n`);
}

// The corpus and queries are also the archive bench's (bench/archive-bench.ts).
if (isMain(import.meta.url)) await main();

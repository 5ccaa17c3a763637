// Armor: envelopes written as base62 words that survive what chat sites do to text, found again
// in page text and reassembled when chunked (format: docs/protocol.md, "Armor"). Pure.
//
// Why base62 (0-9A-Za-z) and nothing else: no `/` (an IRC command at line start), no `:`
// (`:word:` emoji, `:)` smileys), no `*` `_` `~` `` ` `` `|` `>` (markdown styling, quotes,
// spoilers), no `@` `#` (mentions, channels), no `.` (bare domains get linkified), no `-` (list
// bullets, smart dashes), no spaces (lines are cut and re-joined at spaces). A chunk is one word.
import { BASE62_ALPHABET, base62Digit, base62Length, decodeBase62, encodeBase62 } from './base62';
import { bytesEqual } from './bytes';
import { VeilError } from './errors';

export const ARMOR_MARKER = 'VeiL';
/** Shortest site limit we can chunk for: the 17-character part header leaves 15 payload chars. */
export const MIN_CHUNK_LENGTH = 32;
/** Two base62 digits hold 0..3843. */
export const MAX_SINGLE_BYTES = 62 * 62 - 1;
export const MAX_PART_CHARS = 62 * 62 - 1;
/** The header stores `total - 1`, so 3844 parts. */
export const MAX_PARTS = 62 * 62;

const SINGLE_HEADER = 7; // VeiL A len(2)
const PART_HEADER = 17; // VeiL B id(6) index(2) last(2) len(2)
const ID_CHARS = 6;

export type ArmorChunk =
  | {
      kind: 'single';
      /** base62 text of the whole envelope. */
      payload: string;
      /** Where the chunk sits in the scanned text: [start, end) in UTF-16 units. */
      start: number;
      end: number;
    }
  | {
      kind: 'part';
      /** Six base62 characters naming the message the part belongs to. */
      id: string;
      index: number;
      total: number;
      /** This part's share of the envelope's base62 text. */
      payload: string;
      start: number;
      end: number;
    };

export interface ArmorOptions {
  /** The site's message-length limit in characters (≥ 32); default: no limit. */
  maxChunkLength?: number;
  /** CSPRNG for part ids (the CryptoProvider's). */
  randomBytes: (n: number) => Uint8Array;
}

/**
 * Armors an envelope as one chunk if it fits `maxChunkLength`, else as parts that each do.
 * Send the chunks as separate lines or separated by spaces.
 * @example armor(envelope, { maxChunkLength: 350, randomBytes: provider.randomBytes })
 */
export function armor(envelope: Uint8Array, opts: ArmorOptions): string[] {
  const limit = opts.maxChunkLength ?? Infinity;
  if (limit !== Infinity && !Number.isSafeInteger(limit)) {
    throw new VeilError('invalid-argument', 'maxChunkLength must be an integer');
  }
  if (!(limit >= MIN_CHUNK_LENGTH)) {
    throw new VeilError('invalid-argument', `maxChunkLength must be at least ${MIN_CHUNK_LENGTH}`);
  }
  const body = encodeBase62(envelope);
  if (envelope.length <= MAX_SINGLE_BYTES && SINGLE_HEADER + body.length <= limit) {
    return [ARMOR_MARKER + 'A' + digits2(envelope.length) + body];
  }
  const cap = Math.min(limit - PART_HEADER, MAX_PART_CHARS);
  const total = Math.ceil(body.length / cap);
  if (total > MAX_PARTS) throw new VeilError('oversized', 'envelope needs too many chunks');
  const head = ARMOR_MARKER + 'B' + randomId(opts.randomBytes);
  const last = digits2(total - 1);
  const chunks: string[] = [];
  for (let i = 0; i < total; i++) {
    const part = body.slice(i * cap, (i + 1) * cap);
    chunks.push(head + digits2(i) + last + digits2(part.length) + part);
  }
  return chunks;
}

function digits2(v: number): string {
  return BASE62_ALPHABET[Math.floor(v / 62)]! + BASE62_ALPHABET[v % 62]!;
}

/** Six uniform base62 characters; bytes ≥ 248 are rejected so `b % 62` has no bias. */
function randomId(randomBytes: (n: number) => Uint8Array): string {
  let id = '';
  for (let round = 0; id.length < ID_CHARS; round++) {
    if (round >= 16)
      throw new VeilError('invalid-argument', 'randomBytes returned no usable bytes');
    for (const b of randomBytes(16)) {
      if (b < 248 && id.length < ID_CHARS) id += BASE62_ALPHABET[b % 62];
    }
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Finding chunks in page text.
//
// Reading rules (also in docs/protocol.md):
//  1. Soft hyphens and zero-width characters (U+00AD, U+200B..U+200D, U+2060, U+FEFF) are
//     dropped everywhere before anything else, so they may sit anywhere, even inside `VeiL`.
//  2. A chunk starts at `VeiLA` or `VeiLB` anywhere (a nickname may be glued to it); the marker
//     and the header must form one unbroken word, and the header says how many payload
//     characters follow, so an intact chunk never takes the next word.
//  3. While a chunk still lacks payload characters, it continues across a gap of whitespace
//     into the next word, but only if that word holds no `VeiL` (never eat another chunk), and
//     a chunk that crossed a gap must end exactly where a word ends (a truncated chunk does not
//     borrow the front of an ordinary word).
// Work is linear in the text: words are indexed once and each candidate costs O(log n).
// ---------------------------------------------------------------------------------------------

const IGNORABLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/;
const MARKER = 'VeiL[AB]';

function isIgnorable(c: number): boolean {
  return c === 0xad || (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff;
}

function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

interface ScanResult {
  chunks: ArmorChunk[];
  /** Candidates with a sound header whose payload ran out (missing tail). */
  incomplete: number;
  /** Candidates whose header is impossible. */
  malformed: number;
}

/**
 * Finds every complete armor chunk in text as a page's `textContent` shows it. Never throws;
 * broken candidates are skipped.
 */
export function findArmor(text: string): ArmorChunk[] {
  return scanArmor(text).chunks;
}

function scanArmor(text: string): ScanResult {
  const result: ScanResult = { chunks: [], incomplete: 0, malformed: 0 };
  let clean = text;
  let toSource: Int32Array | undefined; // clean index → text index, when they differ
  if (IGNORABLE.test(text)) {
    toSource = new Int32Array(text.length);
    const kept: string[] = [];
    let from = 0;
    let j = 0;
    for (let i = 0; i < text.length; i++) {
      if (isIgnorable(text.charCodeAt(i))) {
        kept.push(text.slice(from, i));
        from = i + 1;
      } else toSource[j++] = i;
    }
    kept.push(text.slice(from));
    clean = kept.join('');
  }
  if (clean.indexOf(ARMOR_MARKER) < 0) return result;
  const words = indexWords(clean);
  const src = (j: number) => (toSource ? toSource[j]! : j);

  const re = new RegExp(MARKER, 'g');
  for (let m = re.exec(clean); m; m = re.exec(clean)) {
    const p = m.index;
    const found = readChunk(clean, words, p, result);
    if (!found) {
      re.lastIndex = p + 1;
      continue;
    }
    const { chunk, end } = found;
    chunk.start = src(p);
    chunk.end = src(end - 1) + 1;
    result.chunks.push(chunk);
    re.lastIndex = end;
  }
  return result;
}

/** The text's maximal base62 runs ("words"), with what rule 3 needs precomputed. */
interface Words {
  start: Int32Array;
  end: Int32Array;
  /** before[k] = characters in words 0..k-1, so a span of words sums in O(1). */
  before: Float64Array;
  /** reach[k] = the last word a chunk in word k may continue into under rule 3. */
  reach: Int32Array;
}

function indexWords(clean: string): Words {
  // Words are separated by at least one character, so there are at most ceil(n / 2).
  const cap = (clean.length + 1) >> 1;
  const start = new Int32Array(cap);
  const end = new Int32Array(cap);
  const joinable = new Uint8Array(cap); // whitespace-only gap before the word
  let count = 0;
  let gapIsSpace = false; // nothing to join onto before the first word
  for (let i = 0; i < clean.length;) {
    if (base62Digit(clean.charCodeAt(i)) >= 0) {
      start[count] = i;
      joinable[count] = gapIsSpace ? 1 : 0;
      while (++i < clean.length && base62Digit(clean.charCodeAt(i)) >= 0);
      end[count++] = i;
      gapIsSpace = true;
    } else {
      if (!isSpace(clean.charCodeAt(i))) gapIsSpace = false;
      i++;
    }
  }
  // A word holding a marker is never joined onto (rule 3).
  for (let at = clean.indexOf(ARMOR_MARKER), k = 0; at >= 0;) {
    while (end[k]! <= at) k++;
    joinable[k] = 0;
    at = clean.indexOf(ARMOR_MARKER, at + 1);
  }
  const before = new Float64Array(count + 1);
  for (let k = 0; k < count; k++) before[k + 1] = before[k]! + end[k]! - start[k]!;
  const reach = new Int32Array(count);
  for (let k = count - 1; k >= 0; k--) {
    reach[k] = k + 1 < count && joinable[k + 1] ? reach[k + 1]! : k;
  }
  return { start: start.subarray(0, count), end: end.subarray(0, count), before, reach };
}

/** Index of the word containing clean index p (p is inside some word). */
function wordAt(words: Words, p: number): number {
  let lo = 0;
  let hi = words.start.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (words.start[mid]! <= p) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function read2(s: string, at: number): number {
  return base62Digit(s.charCodeAt(at)) * 62 + base62Digit(s.charCodeAt(at + 1));
}

/** Reads the chunk whose marker is at clean index p, or counts why there is none. */
function readChunk(
  clean: string,
  words: Words,
  p: number,
  tally: ScanResult,
): { chunk: ArmorChunk; end: number } | undefined {
  const k = wordAt(words, p);
  const wordEnd = words.end[k]!;
  const single = clean.charCodeAt(p + 4) === 0x41; // 'A'
  const payloadStart = p + (single ? SINGLE_HEADER : PART_HEADER);
  if (payloadStart > wordEnd) return undefined; // "VeiLA" in prose: no header, not a chunk
  let need: number;
  let chunk: ArmorChunk;
  if (single) {
    need = base62Length(read2(clean, p + 5));
    chunk = { kind: 'single', payload: '', start: 0, end: 0 };
  } else {
    const index = read2(clean, p + 11);
    const last = read2(clean, p + 13);
    need = read2(clean, p + 15);
    if (index > last || need === 0) {
      tally.malformed++;
      return undefined;
    }
    const id = clean.slice(p + 5, p + 11);
    chunk = { kind: 'part', id, index, total: last + 1, payload: '', start: 0, end: 0 };
  }

  const inWord = wordEnd - payloadStart;
  if (inWord >= need) {
    chunk.payload = clean.slice(payloadStart, payloadStart + need);
    return { chunk, end: payloadStart + need };
  }
  // Rule 3: take whole following words while they may be joined.
  const { before, reach } = words;
  const upTo = (m: number) => inWord + before[m + 1]! - before[k + 1]!; // chars through word m
  const far = reach[k]!;
  if (upTo(far) < need) {
    tally.incomplete++;
    return undefined;
  }
  let lo = k + 1;
  let hi = far;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (upTo(mid) >= need) hi = mid;
    else lo = mid + 1;
  }
  if (upTo(lo) !== need) {
    tally.incomplete++;
    return undefined;
  }
  const pieces = [clean.slice(payloadStart, wordEnd)];
  for (let w = k + 1; w <= lo; w++) pieces.push(clean.slice(words.start[w], words.end[w]));
  chunk.payload = pieces.join('');
  return { chunk, end: words.end[lo]! };
}

// ---------------------------------------------------------------------------------------------
// Reassembly.
// ---------------------------------------------------------------------------------------------

export interface ReassemblerOptions {
  /** Messages with parts outstanding kept at once; the oldest is dropped beyond it. Default 64. */
  maxPending?: number;
  /** Largest part count accepted for one message. Default (and at most) 3844. */
  maxParts?: number;
  /** Payload characters held across pending messages; oldest dropped beyond it. Default 4 Mi. */
  maxBufferedChars?: number;
  /** Parts held across pending messages; oldest dropped beyond it. Default 16 Ki. */
  maxHeldParts?: number;
}

/** Default caps of a Reassembler (and of dearmor): what a page can make a reader hold. */
export const REASSEMBLY_LIMITS = {
  maxPending: 64,
  maxBufferedChars: 1 << 22,
  // Four messages of the most parts there can be; a part costs a Map entry besides its text.
  maxHeldParts: 1 << 14,
} as const;

export type ReassembleResult =
  | { done: false }
  | {
      done: true;
      /** The part id, or '' for a single chunk. */
      id: string;
      envelope: Uint8Array;
      /** The chunks the message came from, in order (their offsets locate it in the page). */
      chunks: ArmorChunk[];
    };

/** What `Reassembler.collect` answers: a finished message's chunks, not decoded. */
export type CollectResult = { done: false } | { done: true; id: string; chunks: ArmorChunk[] };

interface Pending {
  total: number;
  /**
   * The parts received, by index. Slots are made as parts arrive, never `total` up front: a
   * header may declare 3844 parts for one character of text.
   */
  parts: Map<number, ArmorChunk>;
  chars: number;
}

/**
 * Collects chunks (in any order, with other messages' chunks in between) until a message is
 * whole. A finished message is forgotten, so a re-rendered page reassembles it again.
 * @example const r = new Reassembler(); for (const c of findArmor(text)) { const res = r.add(c, author); … }
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private buffered = 0;
  private held = 0;
  private dropped = 0;
  private readonly maxPending: number;
  private readonly maxParts: number;
  private readonly maxBufferedChars: number;
  private readonly maxHeldParts: number;

  constructor(opts: ReassemblerOptions = {}) {
    this.maxPending = opts.maxPending ?? REASSEMBLY_LIMITS.maxPending;
    this.maxParts = opts.maxParts ?? MAX_PARTS;
    this.maxBufferedChars = opts.maxBufferedChars ?? REASSEMBLY_LIMITS.maxBufferedChars;
    this.maxHeldParts = opts.maxHeldParts ?? REASSEMBLY_LIMITS.maxHeldParts;
    if (!(this.maxPending >= 1) || !(this.maxBufferedChars >= 1) || !(this.maxHeldParts >= 1)) {
      throw new VeilError('invalid-argument', 'reassembler limits must be positive');
    }
    if (!(this.maxParts >= 1 && this.maxParts <= MAX_PARTS)) {
      throw new VeilError('invalid-argument', `maxParts must be within 1..${MAX_PARTS}`);
    }
  }

  /** Messages waiting for parts. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Parts held across the messages waiting for parts. */
  get heldParts(): number {
    return this.held;
  }

  /** Unfinished messages dropped so far to make room for newer ones (the caps). */
  get droppedCount(): number {
    return this.dropped;
  }

  /**
   * Adds one chunk. `scope` keeps ids of different authors apart (pass the sender's name when
   * the page shows it), so nobody can spoil another author's message by reusing its id.
   * Throws 'malformed' for an impossible chunk or a whole message that does not decode,
   * 'conflict' for a part that differs from one already held, 'oversized' past maxParts or
   * maxBufferedChars.
   */
  add(chunk: ArmorChunk, scope = ''): ReassembleResult {
    const result = this.collect(chunk, scope);
    if (!result.done) return result;
    const payload =
      result.chunks.length === 1 ? chunk.payload : result.chunks.map((c) => c.payload).join('');
    return { ...result, envelope: decodeBase62(payload) };
  }

  /**
   * `add` without decoding the finished message: for a caller that only locates messages
   * (the content script hands the text on, and the background decodes it anyway). Throws as
   * `add` does, except for a whole message that does not decode.
   */
  collect(chunk: ArmorChunk, scope = ''): CollectResult {
    if (chunk.kind === 'single') return { done: true, id: '', chunks: [chunk] };
    const { id, index, total, payload } = chunk;
    if (
      id.length !== ID_CHARS ||
      !isBase62(id) ||
      !Number.isSafeInteger(total) ||
      total < 1 ||
      total > MAX_PARTS ||
      !Number.isSafeInteger(index) ||
      index < 0 ||
      index >= total ||
      payload.length < 1 ||
      payload.length > MAX_PART_CHARS ||
      !isBase62(payload)
    ) {
      throw new VeilError('malformed', 'impossible armor part');
    }
    if (total > this.maxParts) throw new VeilError('oversized', 'message has too many parts');

    const key = scope + '\u0000' + id; // id has a fixed length, so the key is unambiguous
    let entry = this.pending.get(key);
    if (entry && entry.total !== total) {
      throw new VeilError('conflict', 'part disagrees on the number of parts');
    }
    if (!entry) {
      entry = { total, parts: new Map(), chars: 0 };
      this.pending.set(key, entry);
    }
    const held = entry.parts.get(index);
    if (held) {
      if (held.payload === payload) return { done: false };
      throw new VeilError('conflict', 'part differs from one already received');
    }
    entry.parts.set(index, chunk);
    entry.chars += payload.length;
    this.buffered += payload.length;
    this.held++;

    if (entry.parts.size === total) {
      this.drop(key, entry);
      const parts = entry.parts;
      return { done: true, id, chunks: Array.from({ length: total }, (_, i) => parts.get(i)!) };
    }
    if (entry.chars > this.maxBufferedChars || entry.parts.size > this.maxHeldParts) {
      this.drop(key, entry);
      throw new VeilError('oversized', 'message larger than the reassembly buffer');
    }
    // Oldest first (a Map iterates in insertion order); never the message just added to.
    for (const [k, e] of this.pending) {
      if (
        this.pending.size <= this.maxPending &&
        this.buffered <= this.maxBufferedChars &&
        this.held <= this.maxHeldParts
      )
        break;
      if (k !== key) {
        this.drop(k, e);
        this.dropped++;
      }
    }
    return { done: false };
  }

  private drop(key: string, entry: Pending): void {
    this.pending.delete(key);
    this.buffered -= entry.chars;
    this.held -= entry.parts.size;
  }
}

function isBase62(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (base62Digit(s.charCodeAt(i)) < 0) return false;
  return true;
}

/**
 * Decodes a text that holds one whole message (a single chunk, or all parts of one message).
 * Throws 'truncated' when parts or a chunk's tail are missing, 'malformed' when there is no
 * armor, the armor is corrupt, or the text holds more than one message, 'oversized' when it holds
 * more unfinished messages, parts or characters than a Reassembler keeps (REASSEMBLY_LIMITS).
 */
export function dearmor(text: string): Uint8Array {
  return dearmorSingle(text) ?? dearmorScan(text);
}

/** dearmor without its shortcut for a lone single chunk (exported for tests of that shortcut). */
export function dearmorScan(text: string): Uint8Array {
  const { chunks, incomplete, malformed } = scanArmor(text);
  // The streaming reader's caps, not the text's size: a page controls the text.
  const r = new Reassembler();
  let found: Uint8Array | undefined;
  for (const c of chunks) {
    const res = r.add(c);
    // A dropped message can never finish, so the answer is an error already: stop here.
    if (r.droppedCount > 0)
      throw new VeilError('oversized', 'armor holds more unfinished messages than a reader keeps');
    if (!res.done) continue;
    if (found && !bytesEqual(found, res.envelope)) {
      throw new VeilError('malformed', 'text holds more than one message');
    }
    found = res.envelope;
  }
  if (r.pendingCount > 0) throw new VeilError('truncated', 'armor parts are missing');
  if (found) return found;
  if (incomplete > 0) throw new VeilError('truncated', 'armor chunk is cut short');
  throw new VeilError('malformed', malformed > 0 ? 'armor header is invalid' : 'no armor found');
}

/**
 * The common case without the scan: a text that is exactly one single chunk (marker, header,
 * payload of the length the header names, nothing else). What the general reader returns for
 * such a text is the payload's decoding, so this returns the same; for anything else, or if the
 * payload does not decode, it returns undefined and the general reader decides.
 */
function dearmorSingle(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length < SINGLE_HEADER || !text.startsWith('VeiLA'))
    return undefined;
  const hi = base62Digit(text.charCodeAt(5));
  const lo = base62Digit(text.charCodeAt(6));
  if (hi < 0 || lo < 0 || text.length !== SINGLE_HEADER + base62Length(hi * 62 + lo))
    return undefined;
  try {
    // Throws on any character outside the alphabet: then the text is not one word after all.
    return decodeBase62(text.slice(SINGLE_HEADER));
  } catch {
    return undefined;
  }
}

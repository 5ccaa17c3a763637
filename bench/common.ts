// Shared by every benchmark runner (Node and the Chromium bundle): message generation, result
// shapes, statistics. No Node or browser APIs beyond TextEncoder, so it bundles for the page.

/** Size of every benchmark message, in bytes of UTF-8 (all messages are ASCII). */
export const MESSAGE_BYTES = 200;

/** The measured quantities, the same for every library. */
export const DEFINITIONS = {
  pingPong:
    '1:1 ping-pong: a fresh session; message i is sent by Alice when i is even and by Bob when ' +
    'odd, and each is decrypted by the other before the next is sent (so every message is a ' +
    'ratchet step). Figure = messages / wall time of all encrypt + decrypt calls.',
  decryptHistory:
    'Decrypt time of a 1,000-message ping-pong = the sum of the time spent inside the decrypt ' +
    'calls (from the ciphertext as transmitted — bytes for libsignal, armored text for Veil and ' +
    'OpenPGP — to verified plaintext) over 1,000 messages exchanged ping-pong on a fresh session.',
  groupDecrypt:
    'Group sender-key decrypt: after the first message (which carries the sender-key ' +
    'distribution), messages / sum of the time spent inside the receivers’ decrypt calls. ' +
    'Veil: each receiver decrypts the messages in one decryptMany call, as when a page showing ' +
    'them loads (same checks and results as one decrypt per message, signatures verified ahead ' +
    'concurrently, one store commit); libsignal has no batch API: one groupDecrypt per message.',
  groupDecryptEach:
    'Group sender-key decrypt, one decrypt call per message as each arrives (no batching), ' +
    'otherwise as above.',
  size: 'Ciphertext size of a 200-byte message as transmitted: bytes for libsignal, characters of armored text for Veil (all chunks) and OpenPGP (ASCII armor).',
} as const;

export interface PingPongResult {
  messages: number;
  ms: number;
  msgsPerSec: number;
}

export interface DecryptHistoryResult {
  messages: number;
  /** Sum of the time inside decrypt calls. */
  ms: number;
}

export interface GroupResult {
  /** Group members (sender included). */
  members: number;
  /** Messages sent after the first (distribution) message. */
  messages: number;
  /** Decrypt calls timed (messages × receivers). */
  decrypts: number;
  ms: number;
  msgsPerSec: number;
}

export interface SizeResult {
  unit: 'bytes' | 'chars';
  /** The first message of a session (pre-key message where the protocol has one). */
  first: number;
  /** A later 1:1 message: the median over the ping-pong after the first two. */
  later: number;
  laterMin: number;
  laterMax: number;
  /** A group message after the distribution, where measured. */
  group?: number;
  /**
   * Veil, linked devices: a later 200-byte direct message to a person with 1, 2, 3 devices (the
   * text sealed once, one key wrap per further device).
   */
  devices?: number[];
  /**
   * Veil, groups across devices: a 200-byte group message to 2 members on 1 and on 2 devices
   * each, the first (sender key to every device) and a later one.
   */
  groupDevices?: { devices: number; first: number; later: number }[];
  /** Chunks the first / later message was armored into (Veil). */
  chunksFirst?: number;
  chunksLater?: number;
}

/** Session setups timed for the setup figure (each runner the same number). */
export const SETUPS = 100;

/** Session setup: the initiator starts from a fetched bundle and sends, the responder reads. */
export interface SetupResult {
  sessions: number;
  /** Median per setup, bundles made ahead (the responder's key generation is not counted). */
  msPerSetup: number;
  /** The setup is post-quantum (a KEM prekey in the bundle). */
  postQuantum: boolean;
}

export interface LibraryResult {
  /** Column id, e.g. 'veil-chromium-webcrypto'. */
  id: string;
  label: string;
  runtime: string;
  versions: Record<string, string>;
  pingPong?: PingPongResult;
  decryptHistory?: DecryptHistoryResult;
  groupDecrypt?: GroupResult;
  /** Group decrypt with one call per message (Veil; libsignal's groupDecrypt is that already). */
  groupDecryptEach?: GroupResult;
  size?: SizeResult;
  setup?: SetupResult;
  /** Measured runs per metric; figures are the median run. */
  runs?: number;
  notes: string[];
  /** Set when the column could not run at all. */
  skipped?: string;
  error?: string;
}

export interface BenchOptions {
  /** High-resolution clock in milliseconds (performance.now). */
  now: () => number;
  /** Ping-pong messages for the throughput figure (≥ 2,000). */
  pingPongMessages?: number;
  /** Ping-pong messages for the decrypt-time figure (1,000). */
  historyMessages?: number;
  /** Group messages after the distribution (2,000). */
  groupMessages?: number;
  /** Messages of warm-up (JIT, caches) on throw-away parties before measuring. */
  warmupMessages?: number;
  /** Measured repetitions; the median is reported. */
  runs?: number;
}

export const DEFAULTS = {
  pingPongMessages: 2000,
  historyMessages: 1000,
  groupMessages: 2000,
  warmupMessages: 300,
  runs: 3,
} as const;

export function withDefaults(o: BenchOptions): Required<BenchOptions> {
  return {
    now: o.now,
    pingPongMessages: o.pingPongMessages ?? DEFAULTS.pingPongMessages,
    historyMessages: o.historyMessages ?? DEFAULTS.historyMessages,
    groupMessages: o.groupMessages ?? DEFAULTS.groupMessages,
    warmupMessages: o.warmupMessages ?? DEFAULTS.warmupMessages,
    runs: o.runs ?? DEFAULTS.runs,
  };
}

const ALPHABET =
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;!?-()\'"abcdefghijklmnoprstu ';

/**
 * A deterministic 200-character ASCII message (so 200 UTF-8 bytes), different for every `i`:
 * chat-like text that does not compress away. Deterministic (xorshift), not random: the core's
 * lint forbids Math.random and the figures should not depend on the content.
 */
export function makeMessage(i: number, length = MESSAGE_BYTES): string {
  let s = (i + 1) * 2654435761 || 1;
  let out = '';
  for (let k = 0; k < length; k++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out += ALPHABET[(s >>> 0) % ALPHABET.length];
  }
  return out;
}

const encoder = new TextEncoder();
export function messageBytes(i: number): Uint8Array<ArrayBuffer> {
  return encoder.encode(makeMessage(i)) as Uint8Array<ArrayBuffer>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The run whose `key` figure is the median (a whole run, so its figures stay consistent). */
export function medianRun<T>(runs: T[], key: (r: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1]!;
}

export function sizeStats(sizes: number[]): { later: number; laterMin: number; laterMax: number } {
  return { later: median(sizes), laterMin: Math.min(...sizes), laterMax: Math.max(...sizes) };
}

export class BenchCheckError extends Error {}

export function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new BenchCheckError(`benchmark self-check failed: ${what}`);
}

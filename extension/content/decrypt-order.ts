// Which waiting blocks go to the background next (content script; no DOM, no crypto): the ones
// nearest the viewport first, so a chat opened at its newest message shows that message first,
// but never so far ahead of older blocks that the protocol would have to drop keys to get there.
//
// Decrypting a block before older ones of the same chain keeps the skipped message keys for them
// (the Double Ratchet and sender keys both allow it), within the protocol's limits: at most 2,000
// skipped keys stored (an older one is evicted beyond that: its message could no longer be read)
// and at most 40 closed ratchet chains holding keys. A block may therefore jump over at most
// MAX_AHEAD waiting blocks, written in at most MAX_AHEAD_RUNS runs of one author (each run of the
// other side may be a new ratchet chain; an unknown author counts as a run of its own).

/** Half the protocol's store of skipped keys (RATCHET_MAX_SKIPPED_KEYS): the rest stays free. */
export const MAX_AHEAD = 1_000;
/** Half the protocol's closed chains with keys (RATCHET_MAX_OLD_CHAINS). */
export const MAX_AHEAD_RUNS = 20;

export interface OrderItem {
  /** Distance from the viewport (0 = on screen); lower goes first. */
  rank: number;
  /** The author the page shows ('' when unknown). */
  author: string;
  /** Failed once when decrypted ahead of older blocks: now only in page order. */
  inOrder?: boolean;
}

export interface AheadLimits {
  maxAhead: number;
  maxRuns: number;
}

const LIMITS: AheadLimits = { maxAhead: MAX_AHEAD, maxRuns: MAX_AHEAD_RUNS };

/**
 * How many of the first items (page order) may be decrypted before all items preceding them:
 * item i jumps over items 0…i-1, which must stay within the limits.
 */
export function eligiblePrefix(authors: readonly string[], limits: AheadLimits = LIMITS): number {
  let runs = 0;
  for (let i = 1; i < authors.length; i++) {
    // Item i jumps over one more item, authors[i - 1]: a new run unless it continues one.
    const author = authors[i - 1]!;
    if (author === '' || i === 1 || author !== authors[i - 2]) runs++;
    if (i > limits.maxAhead || runs > limits.maxRuns) return i;
  }
  return authors.length;
}

/**
 * Indexes into `items` (waiting blocks of one conversation, in page order) of the next batch of
 * at most `size`, in page order (the order the background decrypts them in): the lowest ranks
 * among the eligible prefix, ties in page order. When no more than a batch is eligible, or while
 * a block waits to be retried in order, the batch is simply the first `size` items.
 */
export function pickBatch(
  items: readonly OrderItem[],
  size: number,
  limits: AheadLimits = LIMITS,
): number[] {
  const n = Math.min(size, items.length);
  const prefix = () => Array.from({ length: n }, (_, i) => i);
  if (items.some((item) => item.inOrder)) return prefix();
  const eligible = eligiblePrefix(
    items.map((item) => item.author),
    limits,
  );
  if (eligible <= n) return prefix();
  const order = Array.from({ length: eligible }, (_, i) => i);
  order.sort((a, b) => items[a]!.rank - items[b]!.rank || a - b);
  return order.slice(0, n).sort((a, b) => a - b);
}

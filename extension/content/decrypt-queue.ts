// Sends found blocks to the background in batches, one batch at a time, the blocks nearest the
// viewport first (decrypt-order.ts) (content script; ciphertext in, tokens and statuses out,
// never plaintext). Keeps the counts the progress line shows, so a page with many encrypted
// messages does not look frozen.
import type { PageBlockResult } from '../messaging/messages';
import { pickBatch } from './decrypt-order';

export interface QueuedBlock {
  armored: string;
  /** Seen twice on the page at once: the background reports it as a replay, unread. */
  repeat?: boolean;
  /** The author the page shows (limits how far ahead of older blocks it may be decrypted). */
  author?: string;
  /** Position in the page (older blocks lower); default: the order blocks were added in. */
  pos?: number;
  /** The list it was read from (page-session.ts): positions compare only within one. */
  view?: number;
}

/** What the background is sent of each block: its text and where the page shows it. */
export interface SentBlock {
  armored: string;
  repeat?: boolean;
  pos: number;
  view?: number;
}

export type SendBatch = (context: string, blocks: SentBlock[]) => Promise<PageBlockResult[]>;

export interface DecryptQueueOptions<B extends QueuedBlock> {
  send: SendBatch;
  onResult(block: B, result: PageBlockResult): void;
  /** Called after every batch and when the queue empties. */
  onProgress?(done: number, total: number): void;
  /** A batch failed as a whole (e.g. 'locked'): its blocks stay unread. */
  onError?(error: unknown): void;
  /** Blocks about to be sent (a retry included): their reader frames may start loading now. */
  onSend?(blocks: readonly B[]): void;
  /** Blocks sent that got no result (their batch failed, or the answer left them out). */
  onUnread?(blocks: readonly B[]): void;
  /**
   * Awaited before each batch after the first: lets what the first one put on screen load
   * before the background is busy with the next (both want the same two cores).
   */
  beforeNext?(): Promise<void>;
  /**
   * Called once per batch: how far each block is from what the user sees (0 = on screen), so
   * the nearest go first. Without it, blocks go in page order.
   */
  ranking?(): (block: B) => number;
  /** Blocks per batch after the first. */
  batchSize?: number;
  /** A small first batch, so the first messages show quickly. */
  firstBatchSize?: number;
}

interface Waiting<B> {
  context: string;
  block: B;
  pos: number;
  /** Failed when decrypted ahead of older blocks: tried once more, after them. */
  retry?: true;
}

/**
 * Characters a batch holds at most: half of what the background accepts in one request
 * (validate.ts PAGE_BATCH_CHARS_MAX), so a batch of long messages is never refused whole.
 */
export const BATCH_CHARS = 2 * 1024 * 1024;

export class DecryptQueue<B extends QueuedBlock> {
  /** In page order (by pos) within each conversation, conversations in the order they came. */
  private readonly waiting: Waiting<B>[] = [];
  private running = false;
  private stopped = false;
  private done = 0;
  private total = 0;
  private batches = 0;
  private added = 0;
  private expecting: string | null = null;

  constructor(private readonly opts: DecryptQueueOptions<B>) {}

  /** Queues blocks found in `context`; returns once they are on their way. */
  add(context: string, blocks: readonly B[]): void {
    if (this.stopped || blocks.length === 0) return;
    for (const block of blocks)
      this.waiting.push({ context, block, pos: block.pos ?? this.added++ });
    this.sortWaiting();
    this.total += blocks.length;
    void this.pump();
  }

  /** Resolves when nothing is waiting or in flight. */
  async idle(): Promise<void> {
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /**
   * Older blocks of `context` are still being found (null: no longer): a block decrypted before
   * then went ahead of them, whatever is waiting now.
   */
  expectOlder(context: string | null): void {
    this.expecting = context;
    // Retries held back for the older blocks may go now.
    if (context === null && this.waiting.length > 0) void this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  /**
   * The user cancelled decrypting this page's history: the blocks still waiting are dropped
   * (they stay as the page shows them, unread) and the counts shrink to what was sent; a batch
   * in flight still delivers. Blocks found later (new messages) are taken as before. Returns
   * how many were dropped.
   */
  cancel(): number {
    const dropped = this.waiting.length;
    this.waiting.length = 0;
    this.total -= dropped;
    if (!this.running) {
      // Nothing in flight: the pump will not report again, so say it is over now.
      this.opts.onProgress?.(this.done, this.total);
      this.done = 0;
      this.total = 0;
    } else this.opts.onProgress?.(this.done, this.total);
    return dropped;
  }

  /** Conversations in the order they came, each one's blocks in page order (a stable sort). */
  private sortWaiting(): void {
    const order = new Map<string, number>();
    for (const w of this.waiting) if (!order.has(w.context)) order.set(w.context, order.size);
    this.waiting.sort((a, b) => order.get(a.context)! - order.get(b.context)! || a.pos - b.pos);
  }

  /**
   * The next batch, and the order to deliver its results in (nearest first: a batch is sent in
   * page order, but what is on screen should appear first). Empty when all that waits are
   * retries for older blocks still to come.
   */
  private nextBatch(): { context: string; entries: Waiting<B>[]; delivery: number[] } {
    const size =
      this.batches === 0 ? (this.opts.firstBatchSize ?? 20) : (this.opts.batchSize ?? 100);
    const context = this.waiting[0]!.context;
    const run: number[] = []; // indexes into waiting
    for (let i = 0; i < this.waiting.length && this.waiting[i]!.context === context; i++) {
      if (!(this.waiting[i]!.retry && this.expecting === context)) run.push(i);
    }
    const rank = this.opts.ranking?.();
    const items = run.map((i) => {
      const w = this.waiting[i]!;
      return { rank: rank ? rank(w.block) : 0, author: w.block.author ?? '', inOrder: w.retry };
    });
    let picked = pickBatch(items, size);
    // The background takes at most so many characters a batch: long messages go fewer at once.
    let chars = 0;
    const fits = picked.findIndex(
      (k) => (chars += this.waiting[run[k]!]!.block.armored.length) > BATCH_CHARS,
    );
    if (fits > 0) picked = picked.slice(0, fits);
    else if (fits === 0) picked = picked.slice(0, 1);
    const entries = picked.map((k) => this.waiting[run[k]!]!);
    const delivery = picked
      .map((_, j) => j)
      .sort((a, b) => items[picked[a]!]!.rank - items[picked[b]!]!.rank || a - b);
    for (let j = picked.length - 1; j >= 0; j--) this.waiting.splice(run[picked[j]!]!, 1);
    return { context, entries, delivery };
  }

  /** Whether an older block of `entry`'s conversation is still waiting (it was sent ahead). */
  private wentAhead(entry: Waiting<B>): boolean {
    if (this.expecting === entry.context) return true;
    return this.waiting.some((w) => w.context === entry.context && w.pos < entry.pos);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0 && !this.stopped) {
        // Before the pick: what is on screen may change meanwhile.
        if (this.batches > 0 && this.opts.beforeNext) {
          await this.opts.beforeNext();
          if (this.stopped || this.waiting.length === 0) break;
        }
        const { context, entries, delivery } = this.nextBatch();
        if (entries.length === 0) break;
        this.batches++;
        let settled = entries.length;
        this.opts.onSend?.(entries.map((e) => e.block));
        try {
          const results = await this.opts.send(
            context,
            entries.map(({ block: b, pos }) => {
              const sent: SentBlock = { armored: b.armored, pos };
              if (b.repeat) sent.repeat = true;
              if (b.view !== undefined) sent.view = b.view;
              return sent;
            }),
          );
          if (this.stopped) return;
          const unread: B[] = [];
          for (const i of delivery) {
            const entry = entries[i]!;
            const result = results[i];
            // A block read before older ones may need them first (a group message before the
            // one carrying its sender key): it fails then, and gets one more try in page order.
            if (
              result?.status === 'failed' &&
              !entry.retry &&
              !entry.block.repeat &&
              this.wentAhead(entry)
            ) {
              this.waiting.push({ ...entry, retry: true });
              this.sortWaiting();
              settled--;
              continue;
            }
            if (result) this.opts.onResult(entry.block, result);
            else unread.push(entry.block);
          }
          if (unread.length > 0) this.opts.onUnread?.(unread);
        } catch (error) {
          this.opts.onError?.(error);
          if (!this.stopped) this.opts.onUnread?.(entries.map((e) => e.block));
        }
        this.done += settled;
        this.opts.onProgress?.(this.done, this.total);
        // Let the page react to what was just placed first (its mutation observers run as
        // microtasks queued before this one), e.g. keep itself scrolled to its newest message:
        // the next batch is chosen by what is on screen then.
        await Promise.resolve();
      }
      if (this.done === this.total) {
        this.done = 0;
        this.total = 0;
      }
    } finally {
      this.running = false;
    }
  }
}

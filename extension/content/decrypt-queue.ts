// Sends found blocks to the background in batches, in page order, one batch at a time
// (content script; ciphertext in, tokens and statuses out, never plaintext). Keeps the counts
// the progress line shows, so a page with many encrypted messages does not look frozen.
import type { PageBlockResult } from '../messaging/messages';

export interface QueuedBlock {
  armored: string;
  /** Seen twice on the page at once: the background reports it as a replay, unread. */
  repeat?: boolean;
}

export type SendBatch = (
  context: string,
  blocks: { armored: string; repeat?: boolean }[],
) => Promise<PageBlockResult[]>;

export interface DecryptQueueOptions<B extends QueuedBlock> {
  send: SendBatch;
  onResult(block: B, result: PageBlockResult): void;
  /** Called after every batch and when the queue empties. */
  onProgress?(done: number, total: number): void;
  /** A batch failed as a whole (e.g. 'locked'): its blocks stay unread. */
  onError?(error: unknown): void;
  /** Blocks per batch after the first. */
  batchSize?: number;
  /** A small first batch, so the first messages show quickly. */
  firstBatchSize?: number;
}

export class DecryptQueue<B extends QueuedBlock> {
  private readonly waiting: { context: string; block: B }[] = [];
  private running = false;
  private stopped = false;
  private done = 0;
  private total = 0;
  private batches = 0;

  constructor(private readonly opts: DecryptQueueOptions<B>) {}

  /** Queues blocks found in `context`; returns once they are on their way. */
  add(context: string, blocks: readonly B[]): void {
    if (this.stopped || blocks.length === 0) return;
    for (const block of blocks) this.waiting.push({ context, block });
    this.total += blocks.length;
    void this.pump();
  }

  /** Resolves when nothing is waiting or in flight. */
  async idle(): Promise<void> {
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  private nextBatch(): { context: string; blocks: B[] } {
    const size =
      this.batches === 0 ? (this.opts.firstBatchSize ?? 20) : (this.opts.batchSize ?? 100);
    const context = this.waiting[0]!.context;
    let n = 0;
    while (n < this.waiting.length && n < size && this.waiting[n]!.context === context) n++;
    return { context, blocks: this.waiting.splice(0, n).map((w) => w.block) };
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.length > 0 && !this.stopped) {
        const { context, blocks } = this.nextBatch();
        this.batches++;
        try {
          const results = await this.opts.send(
            context,
            blocks.map((b) =>
              b.repeat ? { armored: b.armored, repeat: true } : { armored: b.armored },
            ),
          );
          if (this.stopped) return;
          blocks.forEach((block, i) => {
            const result = results[i];
            if (result) this.opts.onResult(block, result);
          });
        } catch (error) {
          this.opts.onError?.(error);
        }
        this.done += blocks.length;
        this.opts.onProgress?.(this.done, this.total);
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

// Turns between tabs for page work (background only; no I/O). Every tab's blocks go through the
// one protocol instance, one batch at a time; a page that floods Veil with blocks would hold up
// every other tab's behind its own. Here each tab has its own queue of small jobs and the
// runner takes one job from each waiting tab in turn, so another tab waits for at most one job
// of the flooding tab (DESIGN.md §2.11: work a page can cause is bounded per tab).

type Job = () => Promise<void>;

export class FairQueue {
  private readonly waiting = new Map<number, Job[]>();
  /** Tabs with jobs, in the order they get their next turn. */
  private readonly turns: number[] = [];
  private running = false;

  /** Runs `work` for `tabId` when its turn comes; resolves or rejects with its outcome. */
  run<T>(tabId: number, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = () => work().then(resolve, reject);
      const queue = this.waiting.get(tabId);
      if (queue) queue.push(job);
      else {
        this.waiting.set(tabId, [job]);
        this.turns.push(tabId);
      }
      void this.pump();
    });
  }

  /** Jobs waiting for `tabId` (not counting one running). */
  pending(tabId: number): number {
    return this.waiting.get(tabId)?.length ?? 0;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const tabId = this.turns.shift();
        if (tabId === undefined) return;
        const queue = this.waiting.get(tabId)!;
        const job = queue.shift()!;
        if (queue.length > 0) this.turns.push(tabId);
        else this.waiting.delete(tabId);
        await job();
      }
    } finally {
      this.running = false;
    }
  }
}

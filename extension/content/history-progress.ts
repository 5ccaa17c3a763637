// Tells the background how far a long history on this page is decrypted (content script), so
// the popup and options page show it as a 'page-history' task the user can cancel. Counts only:
// never text, senders or where the blocks are.

/** A backlog of more than this many blocks is reported; shorter ones finish before anyone looks. */
export const HISTORY_FROM = 50;
/** Reports at most this often while it runs (the first and the last always go). */
export const REPORT_EVERY_MS = 250;

export class HistoryProgress {
  private reporting = false;
  private last = 0;

  constructor(
    private readonly report: (done: number, total: number) => void,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The queue's counts after a batch, a cancel, or when it empties (done = total). */
  update(done: number, total: number): void {
    const finished = done >= total;
    if (!this.reporting) {
      if (finished || total <= HISTORY_FROM) return;
      this.reporting = true;
      this.last = this.now();
      this.report(done, total);
      return;
    }
    if (finished) {
      // The last report closes the task (done = total, or 0 of 0 after a cancel).
      this.reporting = false;
      this.report(done, total);
      return;
    }
    const now = this.now();
    if (now - this.last < REPORT_EVERY_MS) return;
    this.last = now;
    this.report(done, total);
  }
}

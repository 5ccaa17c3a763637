// The composer frame's draft, handed to the background while the user types (composerDraft), so
// a reload of the frame loses nothing: a host that re-renders its compose form makes the content
// script put the frame back, and a reinserted iframe reloads. Runs in the composer frame only.

/** How long typing must pause before the draft is saved: one message per pause, not per key. */
export const DRAFT_DELAY_MS = 300;

export class DraftSaver {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: string | undefined;

  constructor(
    private readonly save: (text: string) => Promise<unknown>,
    private readonly delayMs = DRAFT_DELAY_MS,
  ) {}

  /** The text changed: saved once typing pauses. */
  changed(text: string): void {
    this.pending = text;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.delayMs);
  }

  /**
   * Saves a pending change now (the frame is going away, or the text is about to be sent).
   * Best effort: never rejects (a locked Veil keeps no draft, and says so to the next send).
   */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const text = this.pending;
    this.pending = undefined;
    if (text !== undefined) await this.save(text).catch(() => undefined);
  }

  /** Forgets a pending change: the text was sent, and the background cleared the draft. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}

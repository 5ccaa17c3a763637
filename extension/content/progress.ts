// A small progress line in the host page while many blocks are decrypted ("Decrypting 120 of
// 1,000…"), so a long history does not look frozen (content script). It shows counts only.
import { pageText } from './page-text';

/** Below this many blocks the line is not shown at all. */
const SHOW_FROM = 20;
/**
 * It appears only once decrypting has taken this long: a shorter wait needs no notice, and the
 * first number formatting and i18n lookup (several ms) then stay off the first batches' path.
 */
export const SHOW_AFTER_MS = 500;

/** One formatter for every update: toLocaleString() builds a new one per call (~ms each). */
let numbers: Intl.NumberFormat | undefined;
const fmt = (n: number) => (numbers ??= new Intl.NumberFormat()).format(n);

export class ProgressLine {
  private el: HTMLElement | null = null;
  /** The counts to show, while a line is due or shown. */
  private counts: [number, number] | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly doc: Document) {}

  update(done: number, total: number): void {
    if (total < SHOW_FROM || done >= total) {
      this.remove();
      return;
    }
    this.counts = [done, total];
    if (this.el) this.render();
    else
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.render();
      }, SHOW_AFTER_MS);
  }

  /** A message that stays until the next update (e.g. "Veil is locked"). */
  show(text: string): void {
    if (!this.el) {
      this.el = this.doc.createElement('div');
      this.el.setAttribute('data-veil', 'progress');
      this.el.setAttribute('role', 'status');
      this.el.style.cssText =
        'position:fixed;right:12px;bottom:12px;z-index:2147483646;padding:4px 10px;' +
        'border-radius:8px;font:12px/1.5 system-ui,sans-serif;background:#1b1f24;color:#fff;' +
        'opacity:.85;pointer-events:none;';
      this.doc.body.append(this.el);
    }
    this.el.textContent = text;
  }

  remove(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.counts = null;
    this.el?.remove();
    this.el = null;
  }

  private render(): void {
    if (!this.counts) return;
    const [done, total] = this.counts;
    this.show(pageText('page_progress', [fmt(done), fmt(total)]));
  }
}

// A small progress line in the host page while many blocks are decrypted ("Decrypting 120 of
// 1,000…"), so a long history does not look frozen (content script). It shows counts only.
import { pageText } from './page-text';

/** Below this many blocks the line is not shown at all. */
const SHOW_FROM = 20;

/** One formatter for every update: toLocaleString() builds a new one per call (~ms each). */
let numbers: Intl.NumberFormat | undefined;
const fmt = (n: number) => (numbers ??= new Intl.NumberFormat()).format(n);

export class ProgressLine {
  private el: HTMLElement | null = null;

  constructor(private readonly doc: Document) {}

  update(done: number, total: number): void {
    if (total < SHOW_FROM || done >= total) {
      this.remove();
      return;
    }
    this.show(pageText('page_progress', [fmt(done), fmt(total)]));
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
    this.el?.remove();
    this.el = null;
  }
}

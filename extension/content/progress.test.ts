// The progress line: shown only once decrypting has taken a while (a short wait needs no notice,
// and its first formatting stays off the first batches' path), updated while shown, gone when
// done; "locked" shows at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressLine, SHOW_AFTER_MS } from './progress';

function fakeDocument() {
  const shown: { textContent: string; removed: boolean }[] = [];
  const doc = {
    createElement: () => {
      const el = {
        textContent: '',
        removed: false,
        style: { cssText: '' },
        setAttribute: () => undefined,
        remove: () => void (el.removed = true),
      };
      return el;
    },
    body: { append: (el: (typeof shown)[number]) => void shown.push(el) },
  };
  const visible = () => shown.filter((el) => !el.removed).map((el) => el.textContent);
  return { doc: doc as unknown as Document, visible };
}

const thousand = new Intl.NumberFormat().format(1000);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressLine', () => {
  it('appears only after a while, with the latest counts, and goes when done', () => {
    const { doc, visible } = fakeDocument();
    const line = new ProgressLine(doc);
    line.update(20, 1000);
    line.update(120, 1000);
    vi.advanceTimersByTime(SHOW_AFTER_MS - 1);
    expect(visible()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(visible()).toEqual([`Decrypting 120 of ${thousand}…`]);
    line.update(220, 1000);
    expect(visible()).toEqual([`Decrypting 220 of ${thousand}…`]);
    line.update(1000, 1000);
    expect(visible()).toEqual([]);
  });

  it('never appears for work that ends sooner, nor for a few blocks', () => {
    const { doc, visible } = fakeDocument();
    const line = new ProgressLine(doc);
    line.update(20, 200);
    line.update(200, 200);
    line.update(1, 5);
    vi.advanceTimersByTime(SHOW_AFTER_MS * 2);
    expect(visible()).toEqual([]);
  });

  it('shows a message at once, and remove() cancels a line that was due', () => {
    const { doc, visible } = fakeDocument();
    const line = new ProgressLine(doc);
    line.show('Veil is locked');
    expect(visible()).toEqual(['Veil is locked']);
    line.remove();
    line.update(5, 100);
    line.remove();
    vi.advanceTimersByTime(SHOW_AFTER_MS * 2);
    expect(visible()).toEqual([]);
  });
});

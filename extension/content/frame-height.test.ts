// Reader heights: a function of the block's status and its text's padding bucket only.
import { describe, expect, it } from 'vitest';
import { paddedLength } from '../protocol/padding';
import {
  LINE_PX,
  MAX_TEXT_LINES,
  MIN_FRAME_HEIGHT_PX,
  readerHeight,
  textLines,
} from './frame-height';

describe('textLines', () => {
  it('is the same for every length in one padding bucket', () => {
    // "yes", "no" and "ok" share the smallest bucket; so do 40 and 60 bytes.
    expect(textLines(2)).toBe(textLines(3));
    expect(textLines(0)).toBe(textLines(31));
    for (let n = 0; n < 5000; n += 13) {
      const sameBucket = paddedLength(n) === paddedLength(n + 1);
      if (sameBucket) expect(textLines(n)).toBe(textLines(n + 1));
    }
  });

  it('grows with the bucket up to a bound, and treats nonsense as one line', () => {
    expect(textLines(10)).toBe(1);
    expect(textLines(200)).toBeGreaterThan(textLines(10));
    expect(textLines(1e7)).toBe(MAX_TEXT_LINES);
    expect(textLines(-1)).toBe(1);
    expect(textLines(Number.NaN)).toBe(1);
  });
});

describe('readerHeight', () => {
  it('adds whole lines, gives warnings room for their explanation, and is never below the minimum', () => {
    expect(readerHeight('verified', 3) - readerHeight('verified', 2)).toBe(LINE_PX);
    expect(readerHeight('unverified', 2)).toBe(readerHeight('verified', 2));
    expect(readerHeight('repeat', 2)).toBeGreaterThan(readerHeight('verified', 2));
    expect(readerHeight('failed', 9)).toBe(readerHeight('failed', 1));
    for (const s of ['verified', 'failed', 'moved'] as const)
      expect(readerHeight(s, 0)).toBeGreaterThanOrEqual(MIN_FRAME_HEIGHT_PX);
    expect(readerHeight('verified', 1e9)).toBe(readerHeight('verified', MAX_TEXT_LINES));
  });
});

import { describe, expect, it } from 'vitest';
import { splitHighlights } from './highlights';

const joined = (text: string, ranges: number[][]) =>
  splitHighlights(text, ranges)
    .map((p) => (p.marked ? `[${p.text}]` : p.text))
    .join('');

describe('splitHighlights', () => {
  it('marks the ranges and keeps every character once', () => {
    expect(
      joined('lunch at noon', [
        [0, 5],
        [9, 13],
      ]),
    ).toBe('[lunch] at [noon]');
    expect(joined('no match', [])).toBe('no match');
    expect(joined('', [])).toBe('');
  });

  it('merges overlapping, touching and unsorted ranges', () => {
    expect(
      joined('abcdefgh', [
        [4, 6],
        [1, 3],
        [2, 5],
      ]),
    ).toBe('a[bcdef]gh');
    expect(
      joined('abcdefgh', [
        [0, 2],
        [2, 4],
      ]),
    ).toBe('[abcd]efgh');
  });

  it('survives hostile ranges: clamped, empty, reversed, fractional or not numbers', () => {
    const text = 'hello';
    const ranges = [[-5, 2], [3, 99], [4, 1], [2, 2], [1.5, 3], [NaN, 4], [1], [0, 1, 2]];
    expect(joined(text, ranges as number[][])).toBe('[he]l[lo]');
  });

  it('never interprets markup: the pieces are the text itself', () => {
    const text = '<img src=x onerror=alert(1)> hi';
    const pieces = splitHighlights(text, [[29, 31]]);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    expect(pieces.at(-1)).toEqual({ text: 'hi', marked: true });
  });
});

import { describe, expect, it } from 'vitest';
import { highlightRanges, termSpans, tokenize } from './tokenize';

describe('archive tokenizer', () => {
  it('cuts Latin, Cyrillic and Greek text into lowercased words with offsets', () => {
    expect(tokenize('Lunch @Bob? Привет, Καλημέρα! Ünïcode_ok 42')).toEqual([
      'lunch',
      'bob',
      'привет',
      'καλημέρα',
      'ünïcode_ok',
      '42',
    ]);
    const text = 'Hi Bob, lunch?';
    for (const s of termSpans(text)) expect(text.slice(s.start, s.end).toLowerCase()).toBe(s.term);
  });

  it('cuts Chinese and Japanese runs into words where Intl.Segmenter exists', () => {
    const terms = tokenize('我们明天去北京吃饭');
    if (typeof (Intl as { Segmenter?: unknown }).Segmenter !== 'function') return;
    // Whole-run tokenizing would give one term; a word in the sentence must be one of them.
    expect(terms.length).toBeGreaterThan(2);
    expect(terms).toContain('北京');
    expect(tokenize('東京で会いましょう')).toContain('東京');
  });

  it('highlights the words among the matched terms, as [start, end) ranges', () => {
    const text = 'Lunch at noon? LUNCH!';
    expect(highlightRanges(text, new Set(['lunch']))).toEqual([
      [0, 5],
      [15, 20],
    ]);
    expect(highlightRanges(text, new Set())).toEqual([]);
  });
});

// The composer frame's height follows what is typed in two steps only (the page sees the
// frame's height): compact for a short text, expanded for a longer one or a message to show.
import { describe, expect, it } from 'vitest';
import { composerSize } from './composer-app';

describe('composerSize', () => {
  it('stays compact for a short text, whatever its exact length', () => {
    for (const text of ['', 'ok', 'see you at six', 'a'.repeat(140), 'one\ntwo'])
      expect(composerSize(text, false)).toBe('compact');
  });

  it('expands for a longer text or a message to show, and has no third size', () => {
    expect(composerSize('a'.repeat(141), false)).toBe('expanded');
    expect(composerSize('one\ntwo\nthree', false)).toBe('expanded');
    expect(composerSize('ok', true)).toBe('expanded');
    const sizes = new Set<string>();
    for (let n = 0; n < 3_000; n += 7) sizes.add(composerSize('x'.repeat(n), false));
    expect([...sizes].sort()).toEqual(['compact', 'expanded']);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES_PER_TAB, OrderTracker } from './order-tracker';

/** The definition: a block is a repeat when one above it in its stream has seq ≥ its own. */
function expected(blocks: { pos: number; seq: number; stream: string }[]): boolean[] {
  return blocks.map((b) =>
    blocks.some((o) => o.stream === b.stream && o.pos < b.pos && o.seq >= b.seq),
  );
}

describe('OrderTracker', () => {
  it('history in order is not a repeat; a re-post after later messages is', () => {
    const t = new OrderTracker();
    const note = (pos: number, seq: number) => t.note(1, 'v1', 's', { pos, seq, token: `t${pos}` });
    expect(note(0, 1).repeat).toBe(false);
    expect(note(1, 2).repeat).toBe(false);
    expect(note(2, 3).repeat).toBe(false);
    // The page deletes seq 2 and posts it again at the bottom.
    expect(note(3, 2).repeat).toBe(true);
    // Another sender's stream is its own order.
    expect(t.note(1, 'v1', 'other', { pos: 4, seq: 1, token: 'x' }).repeat).toBe(false);
    // A new view (reload, re-rendered list) starts again.
    expect(t.note(1, 'v2', 's', { pos: 10, seq: 2, token: 'y' }).repeat).toBe(false);
  });

  it('finds the repeat whatever order the blocks are decrypted in (visible ones first)', () => {
    const t = new OrderTracker();
    // The re-posted block sits at the bottom, on screen: it is decrypted first.
    expect(t.note(1, 'v', 's', { pos: 9, seq: 5, token: 'reposted' }).repeat).toBe(false);
    const older = t.note(1, 'v', 's', { pos: 2, seq: 7, token: 'later-one' });
    expect(older).toEqual({ repeat: false, retro: ['reposted'] });
    expect(t.isRepeat(1, 'reposted')).toBe(true);
  });

  it('agrees with the definition for any arrival order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            pos: fc.integer({ min: 0, max: 200 }),
            seq: fc.integer({ min: 1, max: 20 }),
            stream: fc.constantFrom('a', 'b'),
          }),
          { selector: (b) => b.pos, maxLength: 40 },
        ),
        fc.infiniteStream(fc.nat()),
        (blocks, picks) => {
          const t = new OrderTracker();
          const order = [...blocks.keys()];
          const it = picks[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = it.next().value % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (const i of order) {
            const b = blocks[i]!;
            t.note(7, 'v', b.stream, { pos: b.pos, seq: b.seq, token: String(i) });
          }
          const want = expected(blocks);
          blocks.forEach((_, i) => expect(t.isRepeat(7, String(i))).toBe(want[i]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a verdict when the same block is noted again, and forgets closed tabs', () => {
    const t = new OrderTracker();
    t.note(1, 'v', 's', { pos: 0, seq: 4, token: 'a' });
    expect(t.note(1, 'v', 's', { pos: 1, seq: 4, token: 'b' }).repeat).toBe(true);
    expect(t.note(1, 'v', 's', { pos: 1, seq: 4, token: 'b2' }).repeat).toBe(true);
    t.forgetTab(1);
    expect(t.isRepeat(1, 'b2')).toBe(false);
  });

  it('bounds what one tab keeps by dropping its oldest views', () => {
    const t = new OrderTracker();
    for (let v = 0; v < 3; v++)
      for (let i = 0; i < MAX_ENTRIES_PER_TAB / 2; i++)
        t.note(1, `v${v}`, 's', { pos: i, seq: i + 1, token: `${v}:${i}` });
    // The first view is gone (its repeat bits with it); the last is whole.
    t.note(1, 'v0', 's', { pos: 99_999, seq: 1, token: 'late' });
    expect(t.isRepeat(1, 'late')).toBe(false);
    expect(t.note(1, 'v2', 's', { pos: 99_999, seq: 1, token: 'l2' }).repeat).toBe(true);
  });

  it('bounds one view too: a page posting the same block without end keeps it bounded', () => {
    const t = new OrderTracker();
    t.note(1, 'v', 's', { pos: 0, seq: 5, token: 'first' });
    for (let i = 1; i <= 3 * MAX_ENTRIES_PER_TAB; i++)
      expect(t.note(1, 'v', 's', { pos: i, seq: 5, token: `copy${i}` }).repeat).toBe(true);
    // The newest copies are still known as repeats; the oldest were let go.
    expect(t.isRepeat(1, `copy${3 * MAX_ENTRIES_PER_TAB}`)).toBe(true);
    expect(t.isRepeat(1, 'copy1')).toBe(false);
  });
});
